"""ScoreStore: validation, corrections and history, append-only triggers, schema, CSV."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qmri_kernels.scores import (APPLICATION_ID, ITEMS, SCHEMA_VERSION, ScoreError, ScoreStore,
                                 import_reader_scores)


@pytest.fixture
def store(tmp_path):
    with ScoreStore(tmp_path / "scores.sqlite") as st:
        yield st


def _n_rows(path: Path, table: str) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def _cohort_csv(path: Path, seed: int = 7, subjects: int = 13) -> pd.DataFrame:
    """A scores CSV in the synthetic cohort's layout (participant_id, patient, reader, score, value)."""
    rng = np.random.default_rng(seed)
    rows = []
    for reader in ("R3", "R4"):
        for item in ITEMS:
            for p in range(1, subjects + 1):
                rows.append((f"sub-{p:02d}", p, reader, item, int(rng.integers(0, 5))))
    df = pd.DataFrame(rows, columns=["participant_id", "patient", "reader", "score", "value"])
    df.to_csv(path, index=False)
    return df


def test_items_are_the_papers_ten():
    assert ITEMS == ("myofiber_size_variation", "necrosis", "inflammatory_cells",
                     "connective_tissue", "fat", "acp", "cd4", "cd68", "mhc1", "complement")


def test_record_then_table_is_tidy(store):
    assert store.record(subject="01", reader="R3", item="fat", score=2) is True
    store.record(subject="sub-02", reader="R4", item="necrosis", score=np.int64(4))
    store.record(subject="01", reader="R3", item="myofiber_size_variation", score=np.int8(0))
    df = store.table()
    assert list(df.columns) == ["subject", "reader", "item", "score"]
    assert df.to_dict("records") == [
        {"subject": "01", "reader": "R3", "item": "myofiber_size_variation", "score": 0},
        {"subject": "01", "reader": "R3", "item": "fat", "score": 2},
        {"subject": "02", "reader": "R4", "item": "necrosis", "score": 4},
    ]
    assert all(isinstance(s, str) for s in df["subject"])
    assert df["score"].dtype == np.int64
    assert store.score("01", "R3", "fat") == 2
    assert store.score("01", "R4", "fat") is None


BAD_SCORES = [5, -1, 2.5, 2.0, "2", None, True, False, np.bool_(True), np.float64(1.0),
              np.int64(7), [2]]
BAD_ITEMS = ["Fat", "fibrosis", "", None, 3]
BAD_NAMES = ["", "   ", None, 3]
BAD_SUBJECTS = ["sub-", "0 1", "01/02", 1, np.int64(1)]


@pytest.mark.parametrize("kwargs", [
    *({"score": s} for s in BAD_SCORES),
    *({"item": i} for i in BAD_ITEMS),
    *({"reader": r} for r in BAD_NAMES),
    *({"subject": s} for s in BAD_NAMES + BAD_SUBJECTS),
], ids=repr)
def test_bad_input_raises_and_writes_nothing(store, kwargs):
    args = {"subject": "01", "reader": "R3", "item": "fat", "score": 2} | kwargs
    with pytest.raises(ScoreError) as info:
        store.record(**args)
    assert isinstance(info.value, ValueError)
    assert store.table().empty and store.history().empty
    for table in ("score_events", "subjects"):
        assert _n_rows(store.path, table) == 0


def test_correction_keeps_history(store):
    store.record(subject="01", reader="R3", item="fat", score=2)
    store.record(subject="01", reader="R3", item="fat", score=3)
    assert store.table()["score"].tolist() == [3]
    hist = store.history(subject="01", reader="R3", item="fat")
    assert hist["score"].tolist() == [2, 3]
    assert hist["previous"].isna().tolist() == [True, False] and hist["previous"].iloc[1] == 2
    assert hist["event_id"].is_monotonic_increasing
    # the same value again is not a new event
    assert store.record(subject="01", reader="R3", item="fat", score=3) is False
    assert len(store.history()) == 2
    # a refused correction leaves the current value
    with pytest.raises(ScoreError):
        store.record(subject="01", reader="R3", item="fat", score=9)
    assert store.score("01", "R3", "fat") == 3


@pytest.mark.parametrize("statement", [
    "UPDATE score_events SET score = 0",
    "DELETE FROM score_events",
    "DELETE FROM score_events WHERE item = 'fat'",
    "UPDATE subjects SET code = 'S-XXXX'",
    "DELETE FROM subjects",
    "UPDATE meta SET value = '00'",
    "DELETE FROM note_events",
    "UPDATE locks SET forced = 0",
    "DELETE FROM locks",
])
def test_triggers_refuse_update_and_delete(store, statement):
    store.record(subject="01", reader="R3", item="fat", score=2)
    store.record_note(subject="01", reader="R3", text="a note")
    store.session("R9", ["01"]).lock(force=True)
    before = store.history(), store.slide_codes()
    con = sqlite3.connect(store.path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute(statement)
        con.rollback()
    finally:
        con.close()
    pd.testing.assert_frame_equal(store.history(), before[0])
    assert store.slide_codes() == before[1]
    assert store.note("01", "R3") == "a note" and store.is_locked("R9")


def test_sql_constraints_hold_for_any_client(store):
    store.record(subject="01", reader="R3", item="fat", score=2)
    con = sqlite3.connect(store.path)
    try:
        for values in [("01", "R3", "fat", 7), ("01", "R3", "fibrosis", 1), ("01", "R3", "fat", 2.5),
                       ("01", " ", "fat", 1)]:
            with pytest.raises(sqlite3.IntegrityError):
                con.execute("INSERT INTO score_events (subject, reader, item, score, "
                            "recorded_at, source) VALUES (?, ?, ?, ?, 'now', 'raw')", values)
    finally:
        con.close()
    assert len(store.history()) == 1
    store.session("R3").lock(force=True)
    con = sqlite3.connect(store.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="locked"):
            con.execute("INSERT INTO score_events (subject, reader, item, score, recorded_at, "
                        "source) VALUES ('01', 'R3', 'fat', 1, 'now', 'raw')")
    finally:
        con.close()
    assert store.score("01", "R3", "fat") == 2


def test_schema_version_and_pragmas(store):
    con = sqlite3.connect(store.path)
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        con.close()


def test_reopen_keeps_scores_and_codes(tmp_path):
    path = tmp_path / "deep" / "folder" / "scores.sqlite"
    with ScoreStore(path) as st:
        st.record(subject="01", reader="R3", item="cd4", score=1)
        codes = st.slide_codes()
    assert st.closed
    with pytest.raises(ScoreError, match="closed"):
        st.table()
    with ScoreStore(path) as st:
        assert st.table()["score"].tolist() == [1]
        assert st.slide_codes() == codes


def test_refuses_a_file_that_is_not_a_score_store(tmp_path):
    text = tmp_path / "notes.sqlite"
    text.write_text("this is not a database, just text " * 100)
    with pytest.raises(ScoreError, match="not a score store") as info:
        ScoreStore(text)
    assert str(text) in str(info.value)
    assert text.read_text().startswith("this is not a database")

    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE patients (id INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(ScoreError, match="another application") as info:
        ScoreStore(other)
    assert str(other) in str(info.value)

    with pytest.raises(ScoreError, match="directory"):
        ScoreStore(tmp_path)


def test_refuses_a_newer_schema(tmp_path):
    path = tmp_path / "scores.sqlite"
    ScoreStore(path).close()
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(ScoreError, match="newer"):
        ScoreStore(path)


def test_export_import_round_trip(store, tmp_path):
    rng = np.random.default_rng(3)
    for subject in ("01", "02", "10"):
        for reader in ("R3", "R4"):
            for item in ITEMS:
                store.record(subject=subject, reader=reader, item=item,
                             score=int(rng.integers(0, 5)))
    store.record(subject="01", reader="R3", item="fat", score=(store.score("01", "R3", "fat") + 1) % 5)
    out = store.export_csv(tmp_path / "out" / "scores.csv")
    assert sorted(p.name for p in out.parent.iterdir()) == ["scores.csv"]   # no temp file left
    text = out.read_text()
    assert text.splitlines()[0] == "subject,reader,item,score"
    assert "\n01,R3," in text                                              # zero kept
    with ScoreStore(tmp_path / "copy.sqlite") as copy:
        assert copy.import_csv(out) == 60
        pd.testing.assert_frame_equal(copy.table(), store.table())
        assert copy.import_csv(out) == 0                                    # idempotent
        assert len(copy.history()) == 60
        assert set(copy.history()["source"]) == {"import:scores.csv"}
    # one reader only
    store.export_csv(tmp_path / "r4.csv", reader="R4")
    r4 = pd.read_csv(tmp_path / "r4.csv", dtype={"subject": str})
    assert set(r4["reader"]) == {"R4"} and len(r4) == 30


def test_export_replaces_an_existing_file(store, tmp_path):
    target = tmp_path / "scores.csv"
    target.write_text("old content\n")
    store.record(subject="01", reader="R3", item="fat", score=2)
    store.export_csv(target)
    assert target.read_text() == "subject,reader,item,score\n01,R3,fat,2\n"


def test_import_reader_scores_from_the_cohort_layout(store, tmp_path):
    csv = tmp_path / "scores_pathology.csv"
    truth = _cohort_csv(csv)
    assert import_reader_scores(store, csv, "R3") == 130
    assert store.is_locked("R3") and not store.is_locked("R4")
    assert import_reader_scores(store, csv, "R3") == 0       # same file again: nothing new
    assert len(store.history()) == 130
    with pytest.raises(ScoreError, match="blinded"):
        store.comparison()
    assert import_reader_scores(store, csv, "R4") == 130
    cmp = store.comparison()
    wide = truth.pivot_table(index=["participant_id", "score"], columns="reader",
                             values="value").reset_index()
    wide["subject"] = wide["participant_id"].str[4:]
    merged = cmp.table.merge(wide, left_on=["subject", "item"], right_on=["subject", "score"],
                             suffixes=("", "_csv"))
    assert len(merged) == len(cmp.table) == 130
    assert (merged["R3"] == merged["R3_csv"]).all() and (merged["R4"] == merged["R4_csv"]).all()
    expected = {(r.subject, r.item) for r in merged.itertuples() if r.R3 != r.R4}
    assert {(d.subject, d.item) for d in cmp.disagreements()} == expected
    assert all(d.difference == abs(d.scores["R3"] - d.scores["R4"]) > 0 for d in cmp.disagreements())


def test_import_from_patient_numbers_and_assigned_reader(store, tmp_path):
    csv = tmp_path / "r3.csv"
    pd.DataFrame({"patient": [1, 12], "score": ["fat", "cd68"], "value": [3, 0]}).to_csv(csv, index=False)
    with pytest.raises(ScoreError, match="no 'reader' column"):
        store.import_csv(csv)
    assert store.import_csv(csv, reader="R3") == 2
    assert store.table()[["subject", "item", "score"]].values.tolist() == [["01", "fat", 3],
                                                                         ["12", "cd68", 0]]


@pytest.mark.parametrize("bad_row, message", [
    ("02,R3,fat,5", "integer 0–4"),
    ("02,R3,fat,2.0", "integer 0–4"),
    ("02,R3,fat,", "integer 0–4"),
    ("02,R3,fibrosis,1", "unknown item"),
    ("02,,fat,1", "reader"),
    (",R3,fat,1", "subject"),
    ("01,R3,fat,4", "conflicting"),
])
def test_import_refuses_a_bad_row_and_writes_nothing(store, tmp_path, bad_row, message):
    csv = tmp_path / "bad.csv"
    csv.write_text("subject,reader,item,score\n01,R3,fat,2\n01,R3,cd4,1\n" + bad_row + "\n")
    with pytest.raises(ScoreError, match=message) as info:
        store.import_csv(csv)
    assert "line 4" in str(info.value) and str(csv) in str(info.value)
    assert store.table().empty and _n_rows(store.path, "subjects") == 0


def test_import_refuses_unusable_files(store, tmp_path):
    with pytest.raises(ScoreError, match="does not exist"):
        store.import_csv(tmp_path / "missing.csv")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b\n1,2\n")
    with pytest.raises(ScoreError, match="needs columns"):
        store.import_csv(wrong)
    one = tmp_path / "one.csv"
    one.write_text("subject,reader,item,score\n01,R3,fat,2\n")
    with pytest.raises(ScoreError, match="no rows for reader 'R4'"):
        store.import_csv(one, reader="R4")
    assert store.table().empty


def test_import_change_after_lock_is_refused(store, tmp_path):
    csv = tmp_path / "scores.csv"
    df = _cohort_csv(csv, subjects=2)
    import_reader_scores(store, csv, "R3")
    df.loc[(df["reader"] == "R3") & (df["score"] == "fat"), "value"] = \
        (df.loc[(df["reader"] == "R3") & (df["score"] == "fat"), "value"] + 1) % 5
    df.to_csv(csv, index=False)
    with pytest.raises(ScoreError, match="locked"):
        import_reader_scores(store, csv, "R3")
    assert len(store.history()) == 20
    # the other reader is unaffected by R3's lock
    assert import_reader_scores(store, csv, "R4") == 20


def test_import_reader_scores_refuses_to_lock_an_incomplete_set(store, tmp_path):
    csv = tmp_path / "partial.csv"
    csv.write_text("subject,reader,item,score\n01,R3,fat,2\n")
    with pytest.raises(ScoreError, match="incomplete"):
        import_reader_scores(store, csv, "R3")
    assert store.score("01", "R3", "fat") == 2 and not store.is_locked("R3")
    assert import_reader_scores(store, csv, "R3", force=True) == 0
    assert store.locks()[["reader", "forced", "complete", "total"]].values.tolist() == \
        [["R3", True, 0, 1]]


def test_the_synthetic_cohort_scores_import_when_built():
    root = Path(__file__).resolve().parents[2]
    csv = root / "data" / "synthetic" / "sourcedata" / "scores_pathology.csv"
    if not csv.is_file():
        pytest.skip("synthetic cohort not generated")
    import tempfile
    with tempfile.TemporaryDirectory() as tmp, ScoreStore(Path(tmp) / "s.sqlite") as st:
        n3 = import_reader_scores(st, csv, "R3")
        n4 = import_reader_scores(st, csv, "R4")
        raw = pd.read_csv(csv)
        assert n3 + n4 == len(raw) == len(st.table())
        assert len(st.comparison()) == len(raw) // 2
