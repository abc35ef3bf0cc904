"""Tests of qmri_kernels.manifest: the cohort manifest and its validating loader."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from qmri_kernels.manifest import (ENV_VAR, MANIFEST_NAME, Manifest, ManifestError,
                                   SubjectEntry, find_manifest, load_manifest)
from qmri_kernels.labels import MUSCLES

REPO = Path(__file__).resolve().parents[1]


def _cohort(tmp_path: Path, n: int = 4, synthetic: bool = False) -> dict:
    """Lay out a small cohort under tmp_path/data and return its manifest document."""
    root = tmp_path / "data"
    for i in range(1, n + 1):
        (root / f"sourcedata/sub-{i:02d}/dicom").mkdir(parents=True)
    (root / "sourcedata/clinical.csv").write_text("subject,sex,age\n")
    doc = {
        "version": 1,
        "synthetic": synthetic,
        "root": "data",
        "clinical_table": "sourcedata/clinical.csv",
        "score_store": "derivatives/scores.sqlite",
        "derivatives": "derivatives/qmri",
        "subjects": [{"id": f"{i:02d}", "dicom_root": f"sourcedata/sub-{i:02d}/dicom",
                      "biopsy_muscle": "RF", "biopsy_side": "left"} for i in range(1, n + 1)],
    }
    if synthetic:
        (root / "truth").mkdir()
        (root / "sourcedata/scores_pathology.csv").write_text("subject,reader\n")
        doc.update(truth="truth", scores="sourcedata/scores_pathology.csv")
    return doc


def _write(tmp_path: Path, doc: dict | str) -> Path:
    path = tmp_path / MANIFEST_NAME
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
    return path


def _error(path: Path, **kw) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        load_manifest(path, **kw)
    assert isinstance(info.value, ValueError)
    assert str(path) in str(info.value)
    return info.value


# ---------------------------------------------------------------- the shipped manifest

def test_repository_manifest_is_the_synthetic_cohort_of_table_1():
    m = load_manifest(REPO / MANIFEST_NAME, check_paths=False)
    assert m.synthetic
    assert m.root == REPO / "data" / "synthetic"
    assert [s.bids_id for s in m.subjects] == [f"sub-{i:02d}" for i in range(1, 14)]
    sites = {s.id: (s.biopsy_muscle, s.biopsy_side) for s in m.subjects}
    # Wang et al. 2023, Table 1: 2 and 7 right RF, 13 right VL, all others left RF.
    assert sites.pop("02") == sites.pop("07") == ("RF", "right")
    assert sites.pop("13") == ("VL", "right")
    assert set(sites.values()) == {("RF", "left")}
    assert m.subject("sub-05").dicom_root == m.root / "sourcedata/sub-05/dicom"
    assert m.clinical_table == m.root / "sourcedata/clinical.csv"
    assert m.scores == m.root / "sourcedata/scores_pathology.csv"
    assert m.score_store == m.root / "derivatives/scores.sqlite"
    assert m.derivatives == m.root / "derivatives/qmri"
    assert m.rawdata == m.root / "rawdata"
    assert m.truth == m.root / "truth"


# ---------------------------------------------------------------- a valid manifest

def test_valid_manifest_loads_typed_immutable_and_resolved(tmp_path, monkeypatch):
    doc = _cohort(tmp_path, synthetic=True)
    doc["subjects"][1]["id"] = "sub-02"          # the BIDS spelling is accepted too
    doc["subjects"][2].update(biopsy_muscle="VL", biopsy_side="right")
    path = _write(tmp_path, doc)
    monkeypatch.chdir(tmp_path.parent)           # relative paths follow the file, not the cwd
    m = load_manifest(path)
    root = (tmp_path / "data").resolve()
    assert isinstance(m, Manifest) and m.path == path.resolve() and m.root == root
    assert all(isinstance(s, SubjectEntry) for s in m.subjects)
    assert isinstance(m.subjects, tuple)
    assert [s.id for s in m.subjects] == ["01", "02", "03", "04"]
    assert m.subjects[1].bids_id == "sub-02"
    s3 = m.subject("03")
    assert (s3.biopsy_muscle, s3.biopsy_side, s3.contralateral_side) == ("VL", "right", "left")
    assert m.subjects[0].contralateral_side == "right"
    assert s3.dicom_root == root / "sourcedata/sub-03/dicom"
    assert m.truth == root / "truth" and m.synthetic is True
    # outputs need not exist yet
    assert not m.score_store.exists() and not m.derivatives.exists()
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.root = tmp_path
    with pytest.raises(dataclasses.FrozenInstanceError):
        s3.biopsy_side = "left"
    with pytest.raises(KeyError, match="sub-99"):
        m.subject("sub-99")


def test_optional_keys_default_and_absolute_paths_are_kept(tmp_path):
    doc = _cohort(tmp_path)
    del doc["synthetic"]
    elsewhere = tmp_path / "elsewhere.csv"
    elsewhere.write_text("subject\n")
    doc["clinical_table"] = str(elsewhere)
    m = load_manifest(_write(tmp_path, doc))
    assert m.synthetic is False and m.truth is None and m.scores is None
    assert m.clinical_table == elsewhere
    assert m.rawdata == m.root / "rawdata" and not m.rawdata.exists()   # an output


def test_rawdata_key_is_resolved_against_the_root(tmp_path):
    doc = _cohort(tmp_path)
    doc["rawdata"] = "bids/raw"
    m = load_manifest(_write(tmp_path, doc))
    assert m.rawdata == (tmp_path / "data" / "bids" / "raw").resolve()
    doc["rawdata"] = ""
    assert "rawdata" in str(_error(_write(tmp_path, doc)))


# ---------------------------------------------------------------- schema errors

@pytest.mark.parametrize("where", ["top", "subject"])
def test_unknown_key(tmp_path, where):
    doc = _cohort(tmp_path)
    if where == "top":
        doc["derivative_root"] = "x"
        entry = "top level"
    else:
        doc["subjects"][3]["biopsy_site"] = "RF"
        entry = "subjects[3] (sub-04)"
    err = _error(_write(tmp_path, doc))
    assert f"{entry}: unknown key" in str(err)
    assert ("derivative_root" if where == "top" else "biopsy_site") in str(err)


@pytest.mark.parametrize("muscle", ["XX", "rf", "Rectus femoris"])
def test_muscle_not_in_label_table(tmp_path, muscle):
    doc = _cohort(tmp_path)
    doc["subjects"][3]["biopsy_muscle"] = muscle
    err = _error(_write(tmp_path, doc))
    assert err.problems == ((
        "subjects[3] (sub-04).biopsy_muscle",
        f"biopsy muscle {muscle!r} is not in the label table "
        f"(qmri_kernels.labels.MUSCLES: {', '.join(MUSCLES)})"),)


@pytest.mark.parametrize("side", ["up", "Left", "L", True])
def test_side_not_left_or_right(tmp_path, side):
    doc = _cohort(tmp_path)
    doc["subjects"][3]["biopsy_side"] = side
    err = _error(_write(tmp_path, doc))
    assert err.problems == (("subjects[3] (sub-04).biopsy_side",
                             f"biopsy side {side!r} is not 'left' or 'right'"),)


def test_missing_required_key(tmp_path):
    doc = _cohort(tmp_path)
    del doc["clinical_table"]
    del doc["subjects"][0]["dicom_root"]
    err = _error(_write(tmp_path, doc))
    assert err.problems == (
        ("top level", "missing required key; 'clinical_table' is a required property"),
        ("subjects[0] (sub-01)", "missing required key; 'dicom_root' is a required property"),
    )


def test_unquoted_numeric_id_asks_for_quotes(tmp_path):
    text = yaml.safe_dump(_cohort(tmp_path), sort_keys=False).replace("id: '02'", "id: 02")
    err = _error(_write(tmp_path, text))
    assert "subjects[1].id" in str(err) and 'quote it, e.g. id: "01"' in str(err)


@pytest.mark.parametrize("bad", ["sub_01", "sub-", "01 ", "sub-sub-01"])
def test_id_must_be_a_bids_label(tmp_path, bad):
    doc = _cohort(tmp_path)
    doc["subjects"][0]["id"] = bad
    err = _error(_write(tmp_path, doc))
    assert "is not a BIDS subject label" in str(err) and "subjects[0]" in str(err)


def test_problems_are_listed_in_manifest_order(tmp_path):
    doc = _cohort(tmp_path, n=12)
    doc["subjects"][10]["biopsy_side"] = "up"
    doc["subjects"][2]["biopsy_side"] = "down"
    entries = [e for e, _ in _error(_write(tmp_path, doc)).problems]
    assert entries == ["subjects[2] (sub-03).biopsy_side", "subjects[10] (sub-11).biopsy_side"]


def test_wrong_types_and_version(tmp_path):
    doc = _cohort(tmp_path)
    doc.update(version=2, synthetic="yes", subjects=[])
    entries = [e for e, _ in _error(_write(tmp_path, doc)).problems]
    assert entries == ["subjects", "synthetic", "version"]


def test_empty_and_non_mapping_documents(tmp_path):
    for text in ("", "- a\n- b\n"):
        err = _error(_write(tmp_path, text))
        assert err.problems[0][0] == "top level" and "must be a mapping" in str(err)


def test_yaml_syntax_error_and_duplicate_key(tmp_path):
    err = _error(_write(tmp_path, "root: [data\n"))
    assert err.problems[0][0] == "YAML" and "line" in str(err)
    err = _error(_write(tmp_path, "version: 1\nroot: a\nroot: b\n"))
    assert "duplicate key 'root'" in str(err) and "line 3" in str(err)


def test_unreadable_manifest(tmp_path):
    err = _error(tmp_path / "nope.yaml")
    assert err.problems[0][0] == "file"


# ---------------------------------------------------------------- semantic errors

@pytest.mark.parametrize("spelling", ["04", "sub-04"])
def test_duplicate_subject_ids(tmp_path, spelling):
    doc = _cohort(tmp_path)
    doc["subjects"][2]["id"] = spelling
    err = _error(_write(tmp_path, doc))
    assert err.problems == (("subjects[3] (sub-04)",
                             "duplicate subject id; sub-04 is also subjects[2]"),)


def test_synthetic_cohort_needs_truth(tmp_path):
    doc = _cohort(tmp_path, synthetic=True)
    del doc["truth"]
    assert _error(_write(tmp_path, doc)).problems[0][0] == "truth"


# ---------------------------------------------------------------- paths

def test_missing_dicom_root(tmp_path):
    doc = _cohort(tmp_path)
    (tmp_path / "data/sourcedata/sub-04/dicom").rmdir()
    err = _error(_write(tmp_path, doc))
    missing = (tmp_path / "data/sourcedata/sub-04/dicom").resolve()
    assert err.problems == (("subjects[3] (sub-04).dicom_root",
                             f"directory {missing} does not exist"),)
    assert "phantom.synthetic_cohort" not in str(err)       # a real cohort: no generator hint


def test_missing_dicom_root_of_synthetic_cohort_names_the_generator(tmp_path):
    doc = _cohort(tmp_path, synthetic=True)
    (tmp_path / "data/sourcedata/sub-02/dicom").rmdir()
    err = _error(_write(tmp_path, doc))
    assert "subjects[1] (sub-02).dicom_root" in str(err)
    assert f"python -m qmri_kernels.phantom.synthetic_cohort --out {(tmp_path / 'data').resolve()}" \
        in str(err)


def test_missing_root_is_one_problem_with_the_generator_hint(tmp_path):
    doc = _cohort(tmp_path, synthetic=True)
    doc["root"] = "not-generated"
    err = _error(_write(tmp_path, doc))
    assert [e for e, _ in err.problems] == ["root"]
    assert "python -m qmri_kernels.phantom.synthetic_cohort" in str(err)
    assert "check_paths=False" in str(err)
    assert load_manifest(_write(tmp_path, doc), check_paths=False).root.name == "not-generated"


def test_missing_and_misplaced_inputs_are_all_reported(tmp_path):
    doc = _cohort(tmp_path, synthetic=True)
    (tmp_path / "data/sourcedata/clinical.csv").unlink()
    (tmp_path / "data/sourcedata/clinical.csv").mkdir()        # a directory, not a file
    (tmp_path / "data/sourcedata/scores_pathology.csv").unlink()
    (tmp_path / "data/truth").rmdir()
    (tmp_path / "data/sourcedata/sub-01/dicom").rmdir()
    (tmp_path / "data/sourcedata/sub-01/dicom").write_text("")  # a file, not a directory
    err = _error(_write(tmp_path, doc))
    assert [e for e, _ in err.problems] == [
        "clinical_table", "scores", "truth", "subjects[0] (sub-01).dicom_root"]
    assert "is not a file" in err.problems[0][1] and "is not a directory" in err.problems[3][1]
    assert str(err).startswith(f"manifest {tmp_path / MANIFEST_NAME}: 4 problems:")


def test_check_paths_false_skips_existence_but_not_schema(tmp_path):
    doc = _cohort(tmp_path)
    doc["root"] = "absent"
    assert len(load_manifest(_write(tmp_path, doc), check_paths=False).subjects) == 4
    doc["subjects"][0]["biopsy_side"] = "middle"
    _error(_write(tmp_path, doc), check_paths=False)


# ---------------------------------------------------------------- finding the manifest

def test_find_manifest_env_var_cwd_and_package(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    nested = tmp_path / "notebooks" / "deep"
    nested.mkdir(parents=True)
    path = _write(tmp_path, _cohort(tmp_path))
    monkeypatch.chdir(nested)                         # found in a parent of the cwd
    assert find_manifest() == path.resolve()
    assert load_manifest().path == path.resolve()
    other = tmp_path / "other.yaml"
    other.write_text(path.read_text())
    monkeypatch.setenv(ENV_VAR, str(other))           # the environment variable wins
    assert load_manifest().path == other.resolve()
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing.yaml"))
    with pytest.raises(ManifestError, match=ENV_VAR):
        find_manifest()
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.chdir(tmp_path.parent)                # none above the cwd: the repository's
    assert find_manifest() == REPO / MANIFEST_NAME


# ---------------------------------------------------------------- what a real study varies

def test_example_subject_acquisition_series_and_masks_load(tmp_path):
    doc = _cohort(tmp_path)
    (tmp_path / "data/masks").mkdir()
    (tmp_path / "data/masks/sub-02_R1.nii.gz").write_bytes(b"")
    doc["example_subject"] = "sub-03"
    doc["acquisition"] = {"field_strength_t": 1.5, "fat_spectrum": "ren2008-9peak",
                          "fat_t2_ms": 120, "mese_repetition_time_s": 1.2,
                          "mese_slice_profile": {"time_bandwidth": 3.0,
                                                 "refocusing_width": 1.5,
                                                 "excitation_angle_deg": 90}}
    doc["subjects"][1]["series"] = {"megre": 5, "ignore": 9}
    doc["subjects"][1]["masks"] = {"R1": {"path": "masks/sub-02_R1.nii.gz",
                                          "labels": {"1": "RF_left", "7": "VL_right"}}}
    m = load_manifest(_write(tmp_path, doc))
    assert m.example_subject.id == "03"
    assert m.acquisition.field_strength_t == 1.5 and m.acquisition.fat_t2_ms == 120
    assert m.acquisition.mese_slice_profile["excitation_angle"] == pytest.approx(1.5707963)
    assert m.acquisition.as_dict()["FatSpectrum"] == "ren2008-9peak"
    sub = m.subject("02")
    assert sub.roles() == {5: "megre", 9: "ignore"}
    mask = sub.reader_mask("R1")
    assert mask.labels == {1: ("RF", "left"), 7: ("VL", "right")}
    assert mask.path == (tmp_path / "data/masks/sub-02_R1.nii.gz").resolve()
    assert m.subject("01").reader_mask("R1") is None
    assert load_manifest(_write(tmp_path, _cohort(tmp_path / "b"))).example_subject.id == "01"


@pytest.mark.parametrize("change, entry, words", [
    (lambda d: d["subjects"][1].update(masks={"R1": {"path": "m.nii.gz",
                                                     "labels": {"1": "XX_left"}}}),
     "subjects[1] (sub-02).masks.R1.labels.1", "does not match"),
    (lambda d: d["subjects"][1].update(masks={"auto": {"path": "m.nii.gz",
                                                       "labels": {"1": "RF_left"}}}),
     "subjects[1] (sub-02).masks", "auto"),
    (lambda d: d["subjects"][1].update(series={"flair": 3}),
     "subjects[1] (sub-02).series", "unknown key"),
    (lambda d: d.update(acquisition={"fat_spectrum": "hamilton-3peak"}),
     "acquisition.fat_spectrum", "hamilton-3peak"),
    (lambda d: d.update(acquisition={"mese_slice_profile": {"shape": "gauss"}}),
     "acquisition.mese_slice_profile", ""),
    (lambda d: d.update(example_subject="07"), "example_subject", "not one of the subjects"),
])
def test_bad_study_settings_name_the_entry(tmp_path, change, entry, words):
    doc = _cohort(tmp_path)
    change(doc)
    err = _error(_write(tmp_path, doc), check_paths=False)
    assert entry in str(err) and words in str(err)


def test_a_missing_mask_file_is_named(tmp_path):
    doc = _cohort(tmp_path)
    doc["subjects"][0]["masks"] = {"R2": {"path": "masks/none.nii.gz",
                                          "labels": {"1": "RF_left"}}}
    err = _error(_write(tmp_path, doc))
    assert "subjects[0] (sub-01).masks.R2.path" in str(err) and "none.nii.gz" in str(err)
