"""A chapter opens in JupyterLab as a notebook, runs, and saves back unchanged."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from .conftest import REPO, start_lab

CHAPTER = "notebooks/00_introduction.md"
LAB_SETTINGS = Path(sys.prefix) / "share/jupyter/lab/settings/overrides.d/qmri-book.json"
CODE_CELL = re.compile(r"^```\{code-cell\}", re.MULTILINE)


def _require_lab_settings(server) -> None:
    """The environment's JupyterLab opens Markdown with Jupytext (scripts/setup-venv)."""
    assert LAB_SETTINGS.is_file(), (
        f"{LAB_SETTINGS} is missing: run scripts/setup-venv, which writes JupyterLab's "
        "default viewers for Markdown")
    schema = server.get_json("lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    viewers = schema["schema"]["properties"]["defaultViewers"].get("default", {})
    assert viewers.get("markdown") == "Jupytext Notebook", (
        f"JupyterLab's default viewer for Markdown is {viewers.get('markdown')!r}")


@pytest.fixture(scope="module")
def lab_server(browser_available, tmp_path_factory):
    """One JupyterLab for this module, on a copy of the chapter, jupytext.toml and a demo."""
    root = tmp_path_factory.mktemp("lab-root")
    for rel in ("jupytext.toml", CHAPTER):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, root / rel)
    (root / "demo.md").write_text(
        _HEADER + "\n# Demo\n\n```{code-cell} ipython3\nanswer = 6 * 7\n```\n\n"
        "```{code-cell} ipython3\nprint('the answer is', answer)\n```\n", encoding="utf-8")
    server = start_lab(root, tmp_path_factory.mktemp("jupyter-home"))
    yield server
    server.stop()


@pytest.mark.browser
def test_double_click_opens_a_chapter_as_a_notebook_and_save_keeps_it(lab_server, lab_page):
    root = lab_server.root_dir
    before = (root / CHAPTER).read_bytes()
    _require_lab_settings(lab_server)
    lab = lab_page(lab_server)

    lab.double_click_in_file_browser(CHAPTER)
    opened = lab.notebook_summary()
    assert opened["is_notebook"], f"{CHAPTER} opened as {opened}, not as a notebook"
    lab.wait_for_kernel_idle()
    opened = lab.notebook_summary()
    assert opened["kernel_name"] == "python3"
    assert "markdown" in opened["cell_types"]
    assert opened["cell_types"].count("code") == len(CODE_CELL.findall(before.decode()))

    # a trivial cell, typed and run as a reader would, then deleted again
    n_cells = len(opened["cell_types"])
    page = lab.page
    page.evaluate("(i) => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = i; }",
                  n_cells - 1)
    page.evaluate("() => window.jupyterapp.shell.currentWidget.content.node.focus()")
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type("6 * 7")
    page.keyboard.press("Control+Enter")
    page.locator(".jp-NotebookPanel .jp-Cell").nth(n_cells).locator(
        ".jp-OutputArea-output", has_text="42").wait_for()
    lab.wait_for_kernel_idle()
    page.keyboard.press("Escape")
    page.keyboard.press("d")
    page.keyboard.press("d")
    assert lab.notebook_summary()["cell_types"] == opened["cell_types"]

    lab.save()
    after = (root / CHAPTER).read_bytes()
    assert after == before, "saving in JupyterLab rewrote the chapter"
    assert not list(root.rglob("*.ipynb")), "saving made an .ipynb beside the chapter"
    assert not lab.console_errors, lab.console_errors
    assert not page.external_requests, page.external_requests


@pytest.mark.browser
def test_lab_helpers_open_by_url_and_run_cells(lab_server, lab_page):
    """The helpers that the widget tests use: open by URL, run one cell, run all."""
    lab = lab_page(lab_server)
    lab.open("demo.md")
    lab.wait_for_kernel_idle()
    assert lab.notebook_summary()["cell_types"] == ["markdown", "code", "code"]
    lab.run_all_cells()
    outputs = lab.run_cell_containing("print(")
    assert [o.get("text") for o in outputs] == ["the answer is 42\n"]
    with pytest.raises(LookupError):
        lab.run_cell_containing("no such text")
    assert not lab.console_errors, lab.console_errors
    assert lab.errors_in_outputs() == []


_HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  name: python3
  display_name: Python 3 (ipykernel)
  language: python
---
"""
