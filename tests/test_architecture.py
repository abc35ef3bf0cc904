"""The layering of the package: the simulated scanner is a data source, not a foundation.

Only the simulator itself (``qmri_kernels.phantom``) and the validation layer
(``qmri_kernels.validation``, the one reader of ground truth) may import
``qmri_kernels.phantom``; the real-data path (ingest, fits, masks, segmentation, pipeline,
figures, widgets, statistics) must run on a cohort that has no phantom behind it. The test
walks every module's import statements (absolute and relative, at any depth in the file,
so an import hidden inside a function counts too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qmri_kernels"
ALLOWED = ("qmri_kernels.phantom", "qmri_kernels.validation")
#: The ground floor: imports nothing of the package above it.
GROUND = {"qmri_kernels.physics": set(), "qmri_kernels.labels": set(),
          "qmri_kernels.grids": set()}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of every qmri_kernels module ``path`` imports."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("qmri_kernels")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("qmri_kernels"):
                found.add(mod)
                found |= {f"{mod}.{a.name}" for a in node.names}
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_walk_sees_relative_and_nested_imports():
    assert any(m.startswith("qmri_kernels.labels") for m in _imports(PACKAGE / "masks" / "roi.py"))
    assert "qmri_kernels.phantom.truth" in _imports(PACKAGE / "validation" / "truth.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_only_the_simulator_and_validation_import_the_phantom(path):
    name = _module_name(path)
    if name.startswith(ALLOWED):
        return
    bad = sorted(m for m in _imports(path) if m == "qmri_kernels.phantom"
                 or m.startswith("qmri_kernels.phantom."))
    assert not bad, f"{name} imports the simulated scanner: {bad}"


@pytest.mark.parametrize("ground", sorted(GROUND))
def test_the_vocabulary_stands_on_nothing_above_it(ground):
    path = PACKAGE / (ground.split(".", 1)[1].replace(".", "/") + ".py")
    imported = {m for m in _imports(path) if m != "qmri_kernels"}
    above = {m for m in imported if not any(m.startswith(g) for g in GROUND)}
    assert not above, f"{ground} imports {sorted(above)}"


def test_only_validation_reads_truth_files():
    """Truth is read through qmri_kernels.validation.load_truth; its path helper stays
    inside the simulator and the validation layer."""
    offenders = []
    for path in MODULES:
        name = _module_name(path)
        if name.startswith(ALLOWED):
            continue
        if "truth_path(" in path.read_text(encoding="utf-8") or "load_truth(" in \
                path.read_text(encoding="utf-8"):
            offenders.append(name)
    assert not offenders, offenders
