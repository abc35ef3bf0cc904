"""The pipeline and the whole book run on a cohort without ground truth (slow: minutes).

A two-subject cohort is made in a temporary folder from nothing but the synthetic cohort's
DICOM (copied, so that no other file of the synthetic cohort sits beside them): a manifest
with ``synthetic: false`` and no ``truth``. Then

- the pipeline's command line computes every stage and the ROI table;
- every chapter of ``_toc.yml`` executes on that manifest without an error, while an audit
  hook in the kernel (PEP 578) refuses to open or list anything under the synthetic
  cohort's truth folder; each chapter that guards a truth-dependent result with
  :func:`qmri_kernels.validation.no_truth` says "This cohort has no ground truth", no
  output has a true-value column (``*_true_*``), and the truth is named only in the
  chapter's displayed prose or in a line saying that the cohort has none;
- the biopsied muscle's FF and water T2 equal those the same code computes on the
  synthetic cohort's own copy of the DICOM.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
MAIN_MANIFEST = REPO / "data_manifest.yaml"
SUBJECTS = ("01", "13")
BIOPSY_MAPS = ("ff_percent", "water_t2_ms")
NO_TRUTH = "This cohort has no ground truth"
#: Output text that names the truth or a true value ...
TRUTH_WORDS = re.compile(r"truth|_true_|\btrue (value|map|label|mean)s?\b", re.IGNORECASE)
#: ... allowed only in a line saying that the cohort has none.
NO_TRUTH_LINE = re.compile(r"\bno ground truth\b|\bground truth: no\b", re.IGNORECASE)


def _main() -> tuple[dict, Path]:
    doc = yaml.safe_load(MAIN_MANIFEST.read_text(encoding="utf-8"))
    root = (MAIN_MANIFEST.parent / doc["root"]).resolve()
    return doc, root


def _chapters() -> list[Path]:
    """Every chapter of the book's table of contents, in reading order."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    found: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    found.append(node[key])
            for value in node.values():
                if isinstance(value, (list, dict)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return [REPO / f"{name}.md" for name in found]


def _write_manifest(folder: Path, *, copy_dicom: bool) -> Path:
    """A manifest of subjects 01 and 13 with its own derivatives and score store.

    ``copy_dicom``: copy the two subjects' DICOM into ``folder`` and leave out ``truth``
    (the cohort without ground truth); else the synthetic cohort's own entries.
    """
    doc, root = _main()
    subjects = []
    for entry in doc["subjects"]:
        if entry["id"].removeprefix("sub-") not in SUBJECTS:
            continue
        entry = dict(entry)
        if copy_dicom:
            target = folder / "dicom" / f"sub-{entry['id']}"
            shutil.copytree(root / entry["dicom_root"], target)
            entry["dicom_root"] = str(target)
        subjects.append(entry)
    out = {"version": 1, "synthetic": not copy_dicom, "root": str(root),
           "clinical_table": doc["clinical_table"], "scores": doc["scores"],
           "score_store": str(folder / "scores.sqlite"),
           "derivatives": str(folder / "derivatives"), "rawdata": str(folder / "rawdata"),
           "subjects": subjects}
    if not copy_dicom:
        out["truth"] = doc["truth"]
    path = folder / "data_manifest.yaml"
    path.write_text(yaml.safe_dump(out, sort_keys=False), encoding="utf-8")
    return path


def _run_pipeline(manifest: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qmri_kernels.pipeline", "--manifest",
                           str(manifest)], cwd=REPO, capture_output=True, text=True,
                          timeout=1800)


def _biopsy_values(derivatives: Path) -> pd.Series:
    table = pd.read_csv(derivatives / "roi_statistics.csv",
                        dtype={"subject": str, "reader": str})
    rows = table[(table.reader == "auto") & table.biopsied.astype(bool)
                 & table["map"].isin(BIOPSY_MAPS)]
    return rows.set_index(["subject", "map"])["mean"].sort_index()


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    """The manifest of the truth-free cohort, its pipeline run (exit status checked)."""
    doc, root = _main()
    if not root.is_dir() or not (root / doc.get("truth", "truth")).is_dir():
        pytest.skip(f"the synthetic cohort ({doc['root']}) has not been generated; run "
                    "`python -m qmri_kernels.phantom.synthetic_cohort --out data/synthetic`")
    folder = tmp_path_factory.mktemp("notruth")
    manifest = _write_manifest(folder, copy_dicom=True)
    done = _run_pipeline(manifest)
    assert done.returncode == 0, f"pipeline failed:\n{done.stdout}\n{done.stderr}"
    return manifest


def test_manifest_has_no_truth(cohort):
    from qmri_kernels.manifest import load_manifest
    from qmri_kernels.validation import has_truth

    m = load_manifest(cohort)
    assert not m.synthetic and m.truth is None and not has_truth(m)
    assert all(s.dicom_root.is_relative_to(cohort.parent) for s in m.subjects)


def test_pipeline_writes_the_biopsied_values(cohort):
    values = _biopsy_values(cohort.parent / "derivatives")
    expected = pd.MultiIndex.from_product([list(SUBJECTS), list(BIOPSY_MAPS)],
                                          names=["subject", "map"])
    assert values.index.equals(expected)
    assert values.notna().all()
    assert values.xs("ff_percent", level="map").between(0, 100).all()
    assert values.xs("water_t2_ms", level="map").between(15, 200).all()


def _same_code(made: dict, ours: dict) -> bool:
    """Whether two ROI tables' settings give the same ``auto`` rows for our subjects."""
    keep = {k: v for k, v in made.items() if k not in ("Subjects", "Readers")}
    return (keep == {k: v for k, v in ours.items() if k not in ("Subjects", "Readers")}
            and set(SUBJECTS) <= set(made.get("Subjects", ()))
            and "auto" in made.get("Readers", ()))


def _reference_values(folder: Path, settings: dict) -> pd.Series:
    """Biopsied values of subjects 01 and 13 on the synthetic cohort itself, by this code:
    from the main build's ROI table if the same code and settings made it, else computed
    in ``folder``."""
    doc, root = _main()
    main_table = root / doc["derivatives"] / "roi_statistics.csv"
    sidecar = main_table.with_suffix(".json")
    if main_table.is_file() and sidecar.is_file():
        made = json.loads(sidecar.read_text(encoding="utf-8")).get("Settings", {})
        if _same_code(made, settings):
            return _biopsy_values(main_table.parent)
    done = _run_pipeline(_write_manifest(folder, copy_dicom=False))
    assert done.returncode == 0, f"pipeline on the synthetic cohort failed:\n{done.stderr}"
    return _biopsy_values(folder / "derivatives")


def test_biopsied_values_equal_those_of_the_synthetic_cohort(cohort, tmp_path):
    derivatives = cohort.parent / "derivatives"
    settings = json.loads((derivatives / "roi_statistics.json").read_text())["Settings"]
    truth_free = _biopsy_values(derivatives)
    reference = _reference_values(tmp_path, settings)
    pd.testing.assert_series_equal(truth_free, reference.loc[truth_free.index],
                                   check_exact=False, rtol=1e-4, atol=1e-3)


# --------------------------------------------------------------------- the chapters

def _prelude(truth_dir: Path) -> str:
    """Kernel code: an audit hook that refuses any open or listing under ``truth_dir``."""
    return f"""
import os as _os, sys as _sys
_TRUTH = _os.path.realpath({str(truth_dir)!r})
_TRUTH_OPENED = []
def _no_truth_hook(event, args):
    if event not in ("open", "os.listdir", "os.scandir") or not args:
        return
    path = args[0]
    if isinstance(path, int) or path is None:
        return
    path = _os.path.realpath(_os.fsdecode(path))
    if path == _TRUTH or path.startswith(_TRUTH + _os.sep):
        _TRUTH_OPENED.append(path)
        raise PermissionError(f"the book opened ground truth on a cohort without it: {{path}}")
_sys.addaudithook(_no_truth_hook)
"""


_EPILOGUE = "assert not _TRUTH_OPENED, f'ground truth was opened: {_TRUTH_OPENED}'"


def _output_lines(cell) -> list[tuple[str, str]]:
    """(kind, line) of a cell's outputs: kind "markdown" for displayed Markdown (narrative
    the chapter shows), "data" for everything else (streams, reprs, HTML tables)."""
    lines = []
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        if "text/markdown" in data:
            lines += [("markdown", line) for line in str(data["text/markdown"]).splitlines()]
            continue
        text = [out.get("text", "")] + [str(data.get(m, "")) for m in ("text/plain", "text/html")]
        lines += [("data", line) for t in text for line in t.splitlines()]
    return lines


def _shows_truth(kind: str, line: str) -> bool:
    """Whether an output line shows something that needs the truth: a true-value column
    anywhere, or the truth named in data or in a Markdown table row, unless the line
    says that the cohort has none."""
    if "_true_" in line:
        return True
    if not TRUTH_WORDS.search(line) or NO_TRUTH_LINE.search(line):
        return False
    return kind == "data" or line.lstrip().startswith("|")


@pytest.mark.parametrize("chapter", _chapters(), ids=lambda p: p.stem)
def test_chapter_runs_without_truth(cohort, chapter, monkeypatch):
    import jupytext
    import nbclient
    import nbformat

    doc, root = _main()
    monkeypatch.setenv("QMRI_MANIFEST", str(cohort))
    nb = jupytext.read(chapter)
    n_cells = len(nb.cells)
    nb.cells.insert(0, nbformat.v4.new_code_cell(_prelude(root / doc["truth"])))
    nb.cells.append(nbformat.v4.new_code_cell(_EPILOGUE))
    client = nbclient.NotebookClient(nb, timeout=1800, kernel_name="python3",
                                     resources={"metadata": {"path": str(chapter.parent)}})
    client.execute()          # raises CellExecutionError on the first failing cell
    assert len(nb.cells) == n_cells + 2

    code = [c for c in nb.cells[1:-1] if c.cell_type == "code"]
    lines = [item for c in code for item in _output_lines(c)]
    if any("no_truth(" in c.source for c in code):
        assert any(NO_TRUTH in line for _, line in lines), \
            f"{chapter.name} guards with no_truth but never says so"
    shown = [line for kind, line in lines if _shows_truth(kind, line)]
    assert not shown, f"{chapter.name} shows results that need the truth: {shown[:3]}"
