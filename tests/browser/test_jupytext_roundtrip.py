"""The chapters are stored exactly as Jupytext writes them (not a browser test).

JupyterLab opens a chapter (``notebooks/*.md``) through Jupytext and, on save, writes the
notebook back with Jupytext and the repository's ``jupytext.toml``. If a chapter is not
already in that form, the first save rewrites it (header style, blank lines, metadata), and
the diff lands in the next commit. These tests run that write without a browser.
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
import nbformat  # noqa: E402
from jupytext.config import (  # noqa: E402
    find_jupytext_configuration_file,
    load_jupytext_configuration_file,
)

REPO = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((REPO / "notebooks").glob("*.md"))


def _diff(before: str, after: str, name: str) -> str:
    lines = difflib.unified_diff(before.splitlines(keepends=True),
                                 after.splitlines(keepends=True),
                                 f"{name} (in the repository)", f"{name} (as Jupytext writes it)")
    return "".join(list(lines)[:60])


@pytest.fixture(scope="module")
def cli_round_trip(tmp_path_factory) -> dict[str, tuple[bytes, bytes]]:
    """``jupytext --to myst`` in place on a copy of every chapter (one process for all):
    ``{name: (before, after)}``."""
    root = tmp_path_factory.mktemp("roundtrip")
    shutil.copy2(REPO / "jupytext.toml", root)
    (root / "notebooks").mkdir()
    before = {}
    for chapter in CHAPTERS:
        before[chapter.name] = chapter.read_bytes()
        (root / "notebooks" / chapter.name).write_bytes(before[chapter.name])
    subprocess.run([sys.executable, "-m", "jupytext", "--to", "myst", "--quiet",
                    *(f"notebooks/{name}" for name in before)],
                   cwd=root, check=True, capture_output=True)
    return {name: (data, (root / "notebooks" / name).read_bytes())
            for name, data in before.items()}


def test_the_chapters_are_found():
    assert len(CHAPTERS) >= 2, f"no chapters in {REPO / 'notebooks'}"
    assert find_jupytext_configuration_file(str(REPO / "notebooks")) == str(REPO / "jupytext.toml")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_jupytext_cli_round_trip_is_byte_identical(chapter, cli_round_trip):
    before, after = cli_round_trip[chapter.name]
    assert after == before, (
        f"`jupytext --to myst` rewrites {chapter.name}; store it in Jupytext's form:\n"
        + _diff(before.decode(), after.decode(), chapter.name))


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_a_jupyterlab_save_is_byte_identical(chapter):
    """Save a chapter as JupyterLab does after running it: kernel metadata in Lab's order,
    language_info, outputs, execution counts and cell metadata that Lab adds. None of that
    may reach the file."""
    config = load_jupytext_configuration_file(
        find_jupytext_configuration_file(str(chapter.parent)))
    text = chapter.read_text(encoding="utf-8")
    nb = jupytext.reads(text, fmt="md:myst")
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", (
        f"{chapter.name}: the header names no python3 kernel, so JupyterLab asks for one "
        "and saving adds it")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.metadata["language_info"] = {
        "name": "python", "version": "3.11.7", "mimetype": "text/x-python",
        "codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
        "nbconvert_exporter": "python", "pygments_lexer": "ipython3"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    for count, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = count + 1
        cell.outputs = [nbformat.v4.new_output(
            "execute_result", data={"text/plain": "42"}, execution_count=count + 1)]
        cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00.000Z"}
        cell.metadata["trusted"] = True
    saved = jupytext.writes(nb, fmt="md:myst", config=config)
    assert saved == text, (f"a JupyterLab save rewrites {chapter.name}:\n"
                           + _diff(text, saved, chapter.name))
