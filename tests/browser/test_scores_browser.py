"""The score-entry widget in JupyterLab: clicks become rows of the SQLite score store.

JupyterLab serves a temporary folder holding a copy of the "Histopathology scores" chapter
and a manifest of three subjects of the repository's synthetic cohort whose score store
lies in that folder. The test opens the chapter as a notebook, runs its widget cell (a
demonstration reader in a store of its own), clicks a score on the sheet and then a
correction, and reads the store's file with plain ``sqlite3``: one event per click, the
correction naming the value it replaced, recorded by the session of that reader for the
subject behind the blinded slide code the sheet shows — and the study's own store untouched.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

from qmri_kernels.manifest import load_manifest
from qmri_kernels.scores import ITEM_LABELS

CHAPTER = "notebooks/07_histopathology_scores.md"
READER = "R5"                        # the chapter's demonstration reader
DEMO_STORE = "scores_demo.sqlite"    # beside the manifest's score_store (the chapter)
ITEM = "necrosis"
pytestmark = pytest.mark.browser


def _manifest(tmp_path: Path, repo_root: Path, n_subjects: int = 3) -> Path:
    """A manifest of the first subjects of the repository's cohort, store in ``tmp_path``."""
    repo = load_manifest(repo_root / "data_manifest.yaml")
    root = Path(repo.root)
    subjects = repo.subjects[:n_subjects]
    doc = {
        "version": 1, "synthetic": False, "root": str(root),
        "clinical_table": str(repo.clinical_table.relative_to(root)),
        "score_store": str(tmp_path / "scores.sqlite"),
        "derivatives": str(tmp_path / "derivatives"),
        "example_subject": subjects[0].id,
        "subjects": [{"id": s.id, "dicom_root": str(s.dicom_root.relative_to(root)),
                      "biopsy_muscle": s.biopsy_muscle, "biopsy_side": s.biopsy_side}
                     for s in subjects],
    }
    path = tmp_path / "data_manifest.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _events(store: Path, reader: str, item: str) -> list[tuple]:
    """(subject, score, previous, source) of the reader's events on ``item``, in order."""
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        return con.execute("SELECT subject, score, previous, source FROM score_events "
                           "WHERE reader = ? AND item = ? ORDER BY event_id",
                           (reader, item)).fetchall()
    finally:
        con.close()


def _subject_of(store: Path, code: str) -> str:
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT subject FROM subjects WHERE code = ?", (code,)).fetchone()
    finally:
        con.close()
    assert row is not None, f"slide code {code} is not in the store"
    return row[0]


def test_clicks_on_the_score_sheet_are_rows_in_the_store(tmp_path, repo_root, jupyter_lab,
                                                         lab_page):
    manifest_path = _manifest(tmp_path, repo_root)
    shutil.copy2(repo_root / "jupytext.toml", tmp_path)
    shutil.copy2(repo_root / CHAPTER, tmp_path)
    server = jupyter_lab(tmp_path, env={"QMRI_MANIFEST": str(manifest_path)})
    lab = lab_page(server)
    lab.open(Path(CHAPTER).name)
    lab.wait_for_kernel_idle()
    assert lab.notebook_summary()["is_notebook"]
    lab.run_cell_containing("load_manifest()")
    lab.run_cell_containing("ScoreEntryWidget(session)")
    assert lab.errors_in_outputs() == []

    page = lab.page
    sheet = page.locator(".qmri-score-entry")
    sheet.wait_for(state="visible", timeout=60_000)
    header = sheet.locator(".widget-html", has_text="Slide").first.inner_text()
    code = re.search(r"Slide (S-[0-9A-Z]{4})", header).group(1)
    store = tmp_path / DEMO_STORE
    subject = _subject_of(store, code)
    assert _events(store, READER, ITEM) == []

    row = sheet.locator(f".qmri-score-item-{ITEM}")
    for score, word in ((4, "severe"), (1, "minor")):
        row.locator("button", has_text=f"{score} {word}").click()
        sheet.locator(".widget-html",
                      has_text=f"Saved {ITEM_LABELS[ITEM]} = {score}").wait_for()

    # each click is durable when the sheet confirms it: one event each, the second a
    # correction of the first, by the reader's session, for the subject behind the code
    assert _events(store, READER, ITEM) == [(subject, 4, None, "session"),
                                            (subject, 1, 4, "session")]
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        current = con.execute("SELECT score FROM current_scores WHERE subject = ? AND "
                              "reader = ? AND item = ?", (subject, READER, ITEM)).fetchall()
        readers = {r for (r,) in con.execute("SELECT DISTINCT reader FROM score_events")}
    finally:
        con.close()
    assert current == [(1,)]
    assert readers == {READER}
    assert not (tmp_path / "scores.sqlite").exists(), "the demonstration wrote to the study store"
    selected = row.locator("button.mod-active")
    assert selected.count() == 1 and selected.inner_text().strip() == "1 minor"
    assert not lab.console_errors, lab.console_errors
    assert not page.external_requests, page.external_requests
