"""The results' I/O edge: scores from the store (imported from the cohort's CSV, locked,
rebuilt when the CSV changed), the clinical table, the figure subjects, the image slices."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from qmri_kernels.results import inputs
from qmri_kernels.results.inputs import (SCORE_IMPORT_ATTR, StudyInputError, clinical_table,
                                         figure_subjects, study_scores)
from qmri_kernels.scores import ITEMS, ScoreError, ScoreStore
from qmri_kernels.scores.cohort_import import csv_differences, import_cohort_scores

SUBJECTS = ["01", "02", "03", "04"]


def _write_csv(path: Path, seed: int, subjects=SUBJECTS) -> Path:
    """The synthetic cohort's layout: participant_id, patient, reader, score, value."""
    rng = np.random.default_rng(seed)
    rows = [(f"sub-{s}", int(s), reader, item, int(rng.integers(0, 5)))
            for reader in ("R3", "R4") for item in ITEMS for s in subjects]
    pd.DataFrame(rows, columns=["participant_id", "patient", "reader", "score", "value"]
                 ).to_csv(path, index=False)
    return path


def _manifest(tmp: Path, csv: Path | None, subjects=SUBJECTS[:3]) -> SimpleNamespace:
    entries = [SimpleNamespace(id=s, bids_id=f"sub-{s}") for s in subjects]
    return SimpleNamespace(subjects=entries, scores=csv, score_store=tmp / "scores.sqlite",
                           clinical_table=tmp / "clinical.csv", example_subject=entries[-1])


def _csv_values(csv: Path) -> pd.Series:
    raw = pd.read_csv(csv, dtype={"participant_id": str})
    raw["subject"] = raw["participant_id"].str.removeprefix("sub-")
    return raw.set_index(["subject", "reader", "score"])["value"].sort_index()


def test_scores_are_imported_locked_and_limited_to_the_manifest(tmp_path):
    csv = _write_csv(tmp_path / "scores.csv", seed=1)
    m = _manifest(tmp_path, csv)
    scores = study_scores(m)
    assert list(scores.columns) == ["subject", "reader", "item", "score"]
    assert sorted(scores["subject"].unique()) == SUBJECTS[:3]        # not 04
    assert len(scores) == 3 * 2 * len(ITEMS)
    got = scores.set_index(["subject", "reader", "item"])["score"].sort_index()
    want = _csv_values(csv).loc[SUBJECTS[:3]]
    assert got.to_numpy().tolist() == want.to_numpy().tolist()
    assert "Imported from scores.csv and locked: R3 (40 scores), R4 (40 scores)" \
        in scores.attrs[SCORE_IMPORT_ATTR]
    with ScoreStore(m.score_store) as store:
        assert store.is_locked("R3") and store.is_locked("R4")
        n_events = len(store.history())
    again = study_scores(m)                                  # nothing new is written
    assert "Already in the store, locked" in again.attrs[SCORE_IMPORT_ATTR]
    with ScoreStore(m.score_store) as store:
        assert len(store.history()) == n_events
    pd.testing.assert_frame_equal(again, scores)


def test_a_changed_csv_rebuilds_a_store_made_only_by_imports(tmp_path):
    csv = _write_csv(tmp_path / "scores.csv", seed=1)
    m = _manifest(tmp_path, csv)
    study_scores(m)
    _write_csv(csv, seed=2)                                  # the cohort was regenerated
    scores = study_scores(m)
    note = scores.attrs[SCORE_IMPORT_ATTR]
    assert "has changed since the store was made" in note and "rebuilt" in note
    old = sorted(tmp_path.glob("scores.replaced-*.sqlite"))
    assert len(old) == 1 and old[0].name in note             # the old store is kept
    got = scores.set_index(["subject", "reader", "item"])["score"].sort_index()
    assert got.to_numpy().tolist() == _csv_values(csv).loc[SUBJECTS[:3]].to_numpy().tolist()
    with ScoreStore(old[0]) as previous:                     # and still holds the old scores
        assert csv_differences(previous, csv, "R3") > 0


def test_a_store_entered_by_hand_is_never_replaced(tmp_path):
    csv = _write_csv(tmp_path / "scores.csv", seed=1)
    m = _manifest(tmp_path, csv)
    with ScoreStore(m.score_store) as store:                 # R3 scores by hand, all 2s
        for s in SUBJECTS:
            for item in ITEMS:
                store.record(s, "R3", item, 2, source="session")
        store.session("R3").lock()
    with pytest.raises(StudyInputError, match="entered by hand") as err:
        study_scores(m)
    assert "R3 (" in str(err.value)
    assert not list(tmp_path.glob("scores.replaced-*"))
    with pytest.raises(ScoreError, match="rebuild=False"):
        import_cohort_scores(m.score_store, csv, rebuild=False)


def test_blinded_until_both_readers_lock(tmp_path):
    csv = _write_csv(tmp_path / "scores.csv", seed=1)
    m = _manifest(tmp_path, None)                            # no CSV in the manifest
    with pytest.raises(StudyInputError, match="still blinded"):
        study_scores(m)
    with ScoreStore(m.score_store) as store:                 # R4 is at work, not locked
        store.record("01", "R4", "fat", 1, source="session")
    done = import_cohort_scores(m.score_store, csv)
    assert done.by_hand == ("R4",) and set(done.imported) == {"R3"}
    with pytest.raises(StudyInputError, match="R3 and R4 must both lock"):
        study_scores(_manifest(tmp_path, csv))


def test_a_csv_without_a_reader_is_refused_before_any_write(tmp_path):
    csv = _write_csv(tmp_path / "scores.csv", seed=1)
    table = pd.read_csv(csv)
    table[table.reader == "R3"].to_csv(csv, index=False)
    with pytest.raises(StudyInputError, match="no rows for reader 'R4'"):
        study_scores(_manifest(tmp_path, csv))
    with ScoreStore(tmp_path / "scores.sqlite") as store:
        assert store.history().empty


def test_clinical_table_and_figure_subjects(tmp_path):
    m = _manifest(tmp_path, None, subjects=["08", "13", "02"])
    pd.DataFrame({"participant_id": ["sub-02", "sub-08", "sub-13", "sub-20"],
                  "patient": [2, 8, 13, 20], "age_years": [51, 25, 65, 40]}
                 ).to_csv(m.clinical_table, index=False)
    clinical = clinical_table(m)
    assert list(clinical.index) == ["08", "13", "02"]       # the manifest's order
    assert clinical.loc["13", "age_years"] == 65 and "participant_id" not in clinical
    assert figure_subjects(m, clinical) == {"08": "patient 8 (sub-08)",
                                            "13": "patient 13 (sub-13)"}
    only = _manifest(tmp_path, None, subjects=["02"])
    assert figure_subjects(only, clinical) == {"02": "sub-02, the example subject"}
    m.clinical_table = tmp_path / "missing.csv"
    with pytest.raises(StudyInputError, match="missing.csv cannot be read"):
        clinical_table(m)


def test_slice_choice_follows_the_muscle():
    mask = np.zeros((4, 4, 5), bool)
    mask[1:3, 1:3, 1] = True
    mask[0:4, 0:4, 3] = True                                 # the largest section
    z = np.array([0.0, 10.0, 20.0, 30.0, 40.0])
    assert inputs._pick(mask, z, None) == 3
    assert inputs._pick(mask, z, 12.0) == 1                  # nearest slice holding it
    assert inputs._pick(np.zeros((2, 2, 4), bool), z[:4], 5.0) == 2


@pytest.mark.slow
def test_biopsy_slices_of_the_synthetic_cohort():
    from qmri_kernels.manifest import load_manifest

    try:
        manifest = load_manifest()
    except Exception as exc:                                 # pragma: no cover
        pytest.skip(f"no cohort: {exc}")
    ex = manifest.example_subject
    if not (Path(manifest.derivatives) / ex.bids_id).is_dir():
        pytest.skip("the pipeline has not run on the example subject")
    s = inputs.biopsy_slices(manifest, ex.id)
    assert set(s.images) == set(s.outlines) == {"t2w", "ff_percent", "water_t2_ms"}
    for key, image in s.images.items():
        assert image.shape == s.outlines[key].shape and s.outlines[key].any()
    # the three slices lie within one T2-weighted slab spacing of each other
    assert max(s.z_mm.values()) - min(s.z_mm.values()) < 20
    # the outlines land on muscle: fitted water T2 inside, FF well below that of fat
    assert np.isfinite(s.images["water_t2_ms"][s.outlines["water_t2_ms"]]).mean() > 0.9
    assert np.nanmedian(s.images["ff_percent"][s.outlines["ff_percent"]]) < 50
    assert s.bodies["t2w"][s.outlines["t2w"]].mean() > 0.95
