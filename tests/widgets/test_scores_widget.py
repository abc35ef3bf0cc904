"""ScoreEntryWidget driven without a browser: set toggles, click buttons, read SQLite."""

from __future__ import annotations

import base64
import sqlite3

import pytest

pytest.importorskip("ipywidgets")

from qmri_kernels.scores import ITEMS, ScoreError, ScoreStore  # noqa: E402
from qmri_kernels.widgets.scores import ScoreEntryWidget  # noqa: E402

SUBJECTS = ["P101", "P102", "P103"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def store(tmp_path):
    with ScoreStore(tmp_path / "scores.sqlite") as st:
        yield st


@pytest.fixture
def widget(store):
    return ScoreEntryWidget(store.session("R3", SUBJECTS, seed=4))


def _rows(store) -> list[tuple]:
    con = sqlite3.connect(store.path)
    try:
        return con.execute("SELECT subject, reader, item, score, source FROM score_events "
                           "ORDER BY event_id").fetchall()
    finally:
        con.close()


def test_lazy_package_access():
    import qmri_kernels.widgets as w
    assert w.ScoreEntryWidget is ScoreEntryWidget
    with pytest.raises(AttributeError):
        w.NoSuchWidget


def test_shows_the_blinded_code_and_scale(widget, store):
    code = widget.current_code
    assert code == widget.session.slides[0]
    assert code in widget.header.value
    assert not any(s in widget.header.value for s in SUBJECTS)
    assert set(widget.toggles) == set(ITEMS)
    toggle = widget.toggles["fat"]
    assert [v for _, v in toggle.options] == [0, 1, 2, 3, 4]
    assert "severe" in toggle.options[4][0] and "normal" in toggle.tooltips[0]
    assert all(t.value is None for t in widget.toggles.values())
    assert widget.progress.value == "0 of 3 complete"
    assert widget.prev_button.disabled and not widget.next_button.disabled


def test_every_click_is_saved_at_once(widget, store):
    subject = {c: s for s, c in store.slide_codes().items()}[widget.current_code]
    widget.toggles["fat"].value = 2
    assert _rows(store) == [(subject, "R3", "fat", 2, "session")]
    widget.toggles["fat"].value = 3                               # correction
    assert [r[3] for r in _rows(store)] == [2, 3]
    assert store.score(subject, "R3", "fat") == 3
    assert "Saved" in widget.message.value
    for i, item in enumerate(ITEMS):
        widget.toggles[item].value = i % 5
    assert widget.progress.value == "1 of 3 complete"
    assert store.table(reader="R3")["score"].tolist() == [i % 5 for i in range(10)]


def test_navigation_and_notes(widget, store):
    first = widget.current_code
    widget.toggles["cd68"].value = 4
    widget.notes.value = "freezing artefact"
    widget.next_button.click()
    second = widget.current_code
    assert second == widget.session.slides[1] != first
    assert all(t.value is None for t in widget.toggles.values())
    assert widget.notes.value == ""
    widget.toggles["cd68"].value = 1
    widget.next_button.click()
    assert widget.next_button.disabled
    widget.next_button.click()                                     # stays on the last slide
    assert widget.slide_index == 2
    widget.prev_button.click()
    widget.prev_button.click()
    assert widget.current_code == first
    assert widget.toggles["cd68"].value == 4
    assert widget.notes.value == "freezing artefact"
    codes = store.slide_codes()
    by_code = {c: s for s, c in codes.items()}
    assert store.note(by_code[first], "R3") == "freezing artefact"
    assert store.score(by_code[second], "R3", "cd68") == 1
    assert len(_rows(store)) == 2                                  # loading a slide writes nothing


def test_does_not_show_the_other_readers_scores(store):
    r4 = store.session("R4", SUBJECTS)
    for code in r4.slides:
        r4.record(code, "fat", 4)
    w = ScoreEntryWidget(store.session("R3", SUBJECTS))
    for _ in range(3):
        assert w.toggles["fat"].value is None
        w.next_button.click()
    assert w.progress.value == "0 of 3 complete"


def test_refusals_are_shown_and_nothing_is_written(widget, store):
    widget.toggles["fat"].value = 2
    widget.toggles["fat"].value = None                             # cannot clear a score
    assert widget.toggles["fat"].value == 2
    assert "cannot be cleared" in widget.message.value
    store.session("R3").lock(force=True)                           # locked elsewhere
    n = len(_rows(store))
    widget.toggles["necrosis"].value = 1
    assert widget.toggles["necrosis"].value is None
    assert "locked" in widget.message.value and "Not saved" in widget.message.value
    widget.notes.value = "too late"
    assert widget.notes.value == "" and "locked" in widget.message.value
    assert len(_rows(store)) == n
    assert widget.toggles["fat"].disabled                          # the view now shows the lock


def test_lock_button(widget, store):
    widget.lock_button.click()
    assert "incomplete" in widget.message.value and not store.is_locked("R3")
    for _ in range(3):
        for item in ITEMS:
            widget.toggles[item].value = 1
        widget.next_button.click()
    assert widget.progress.value == "3 of 3 complete"
    widget.lock_button.click()
    assert store.is_locked("R3") and "locked" in widget.message.value
    assert all(t.disabled for t in widget.toggles.values()) and widget.lock_button.disabled
    with pytest.raises(ScoreError):
        widget.session.record(widget.current_code, "fat", 2)


def test_snapshot_and_mimebundle(widget):
    widget.toggles["fat"].value = 2
    png = widget.snapshot_png()
    assert png.startswith(PNG_MAGIC) and len(png) > 5000
    bundle = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]).startswith(PNG_MAGIC)
    assert not any(s in bundle["text/plain"] for s in SUBJECTS)


def test_needs_a_session(store):
    with pytest.raises(ScoreError, match="ReaderSession"):
        ScoreEntryWidget(store)
