"""ReaderSession: blinded slide codes, per-reader order, own entries only, lock, comparison."""

from __future__ import annotations

import re

import numpy as np
import pytest

from qmri_kernels.scores import ITEMS, ReaderSession, ScoreError, ScoreStore

SUBJECTS = [f"{i:02d}" for i in range(1, 14)]
CODE = re.compile(r"S-[2-9A-HJ-NP-Z]{4}")


@pytest.fixture
def store(tmp_path):
    with ScoreStore(tmp_path / "scores.sqlite") as st:
        yield st


def _fill(session: ReaderSession, rng: np.random.Generator) -> dict[str, dict[str, int]]:
    entered = {}
    for code in session.slides:
        entered[code] = {item: int(rng.integers(0, 5)) for item in ITEMS}
        for item, score in entered[code].items():
            session.record(code, item, score)
    return entered


def test_slide_codes_are_blinded_unique_and_stable(tmp_path):
    with ScoreStore(tmp_path / "a.sqlite") as a, ScoreStore(tmp_path / "b.sqlite") as b:
        sa, sb = a.session("R3", SUBJECTS), b.session("R3", SUBJECTS)
        codes_a, codes_b = a.slide_codes(), b.slide_codes()
        assert sorted(sa.slides) == sorted(codes_a.values())
        assert all(CODE.fullmatch(c) for c in sa.slides)
        assert len(set(sa.slides)) == 13
        assert not any(s in c for s in SUBJECTS for c in sa.slides)
        # keyed by each store's own secret salt: another store gives other codes
        assert sum(codes_a[s] == codes_b[s] for s in SUBJECTS) < 3
    with ScoreStore(tmp_path / "a.sqlite") as again:
        assert again.slide_codes() == codes_a
        assert again.session("R3", seed=0).slides == sa.slides


def test_order_is_shuffled_per_reader_and_seed(store):
    r3 = store.session("R3", SUBJECTS, seed=5).slides
    assert ReaderSession(store, "R3", SUBJECTS, 5).slides == r3
    assert store.session("R3", list(reversed(SUBJECTS)), seed=5).slides == r3
    assert store.session("R4", SUBJECTS, seed=5).slides != r3
    assert store.session("R3", SUBJECTS, seed=6).slides != r3
    assert sorted(store.session("R4", SUBJECTS, seed=5).slides) == sorted(r3)


def test_a_session_sees_only_its_own_reader(store):
    r3, r4 = store.session("R3", SUBJECTS), store.session("R4", SUBJECTS)
    code = r4.slides[0]
    r4.record(code, "fat", 4)
    r4.note(code, "R4 thinks this is severe")
    assert r3.scores(code) == {item: None for item in ITEMS}
    assert r3.notes(code) == ""
    assert r3.progress() == (0, 13)
    r3.record(code, "fat", 1)
    assert r3.scores(code)["fat"] == 1 and r4.scores(code)["fat"] == 4
    # nothing public on the session names a subject
    public = {k: v for k, v in vars(r3).items() if not k.startswith("_")}
    assert set(public) == {"reader", "slides"}
    assert not set(SUBJECTS) & set(public["slides"])
    with pytest.raises(ScoreError, match="unknown slide code"):
        r3.scores("01")


def test_record_progress_and_notes(store):
    s = store.session("R3", SUBJECTS[:3], seed=2)
    code = s.slides[1]
    for i, item in enumerate(ITEMS):
        assert s.progress() == (0, 3)
        s.record(code, item, i % 5)
    assert s.progress() == (1, 3) and s.is_complete(code)
    assert s.scores(code) == {item: i % 5 for i, item in enumerate(ITEMS)}
    s.record(code, "fat", 0)                                   # correction
    assert s.scores(code)["fat"] == 0 and s.progress() == (1, 3)
    assert len(store.history(reader="R3", item="fat")) == 2
    assert set(store.history()["source"]) == {"session"}
    s.note(code, "poorly fixed")
    s.note(code, "poorly fixed; recut")
    assert s.notes(code) == "poorly fixed; recut"
    for bad in ({"item": "fibrosis", "score": 1}, {"item": "fat", "score": 5},
                {"item": "fat", "score": True}):
        with pytest.raises(ScoreError):
            s.record(code, **bad)
    assert s.scores(code)["fat"] == 0


def test_lock_refuses_incomplete_then_freezes_the_reader(store):
    s = store.session("R3", SUBJECTS[:2])
    _fill_one = {item: 2 for item in ITEMS}
    for item, v in _fill_one.items():
        s.record(s.slides[0], item, v)
    with pytest.raises(ScoreError, match="incomplete") as info:
        s.lock()
    assert s.slides[1] in str(info.value)
    assert not s.locked
    for item in ITEMS:
        s.record(s.slides[1], item, 3)
    assert s.lock() is True and s.locked
    assert s.lock() is False                                   # already locked
    n = len(store.history())
    with pytest.raises(ScoreError, match="locked"):
        s.record(s.slides[0], "fat", 4)
    with pytest.raises(ScoreError, match="locked"):
        store.record(subject="01", reader="R3", item="fat", score=4)
    with pytest.raises(ScoreError, match="locked"):
        s.note(s.slides[0], "late note")
    assert len(store.history()) == n and s.scores(s.slides[0])["fat"] == 2
    # a fresh session of the same reader is locked too; other readers are not
    assert store.session("R3").locked
    store.session("R4").record(s.slides[0], "fat", 1)


def test_forced_lock_of_an_incomplete_reader(store):
    s = store.session("R4", SUBJECTS[:2])
    s.record(s.slides[0], "cd4", 1)
    assert s.lock(force=True)
    row = store.locks().iloc[0]
    assert (row["reader"], bool(row["forced"]), row["complete"], row["total"]) == ("R4", True, 0, 2)


def test_comparison_is_blinded_until_both_locked(store):
    rng = np.random.default_rng(11)
    r3, r4 = store.session("R3", SUBJECTS[:4]), store.session("R4", SUBJECTS[:4])
    e3, e4 = _fill(r3, rng), _fill(r4, rng)
    with pytest.raises(ScoreError, match="blinded: R3 and R4 have not locked"):
        store.comparison()
    r3.lock()
    with pytest.raises(ScoreError, match="blinded: R4 has not locked"):
        store.unblinded_comparison()
    with pytest.raises(ScoreError, match="blinded"):
        store.disagreements()
    r4.lock()
    cmp = store.comparison()
    assert list(cmp.table.columns) == ["subject", "item", "R3", "R4"] == list(cmp.columns)
    assert cmp["R3"].tolist() == cmp.table["R3"].tolist()
    assert len(cmp) == 40 and cmp.table[["R3", "R4"]].notna().all().all()
    codes = store.slide_codes()
    expected = set()
    for subject in SUBJECTS[:4]:
        for item in ITEMS:
            a, b = e3[codes[subject]][item], e4[codes[subject]][item]
            row = cmp.table[(cmp.table.subject == subject) & (cmp.table.item == item)].iloc[0]
            assert (row["R3"], row["R4"]) == (a, b)
            if a != b:
                expected.add((subject, item, a, b))
    got = {(d.subject, d.item, d.scores["R3"], d.scores["R4"]) for d in cmp.disagreements()}
    assert got == expected and len(got) > 0


def test_comparison_of_another_pair_and_missing_scores(store):
    a, b = store.session("P1", ["01"]), store.session("P2", ["01"])
    a.record(a.slides[0], "fat", 2)
    b.record(b.slides[0], "fat", 2)
    b.record(b.slides[0], "cd4", 3)
    a.lock(force=True)
    b.lock(force=True)
    with pytest.raises(ScoreError, match="blinded"):
        store.comparison()                                     # R3/R4 never locked
    with pytest.raises(ScoreError, match="distinct"):
        store.comparison(("P1", "P1"))
    cmp = store.comparison(("P1", "P2"))
    d = {x.item: x for x in cmp.disagreements()}
    assert "fat" not in d
    assert d["cd4"].scores == {"P1": None, "P2": 3} and d["cd4"].difference is None
    assert list(d) == ["cd4"]                     # items neither scored are not disagreements


def test_session_needs_subjects(store):
    with pytest.raises(ScoreError, match="no subjects"):
        store.session("R3")
    with pytest.raises(ScoreError, match="BIDS label"):
        store.session("R3", ["01", "bad id"])
    with pytest.raises(ScoreError, match="reader"):
        store.session("  ", ["01"])
