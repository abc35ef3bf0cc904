"""The raw BIDS dataset of the ingest and the pipeline's derivative dataset pass the official
BIDS validator (``bids-validator-deno``, the ``test`` extra), their files follow the umask,
and ``participants.tsv`` carries no identifying column.

One subject of the synthetic cohort at 48 × 48 pixels goes through every stage of the
pipeline (as in tests/test_pipeline.py); the validator then reads both datasets.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from qmri_kernels import derivatives as D
from qmri_kernels.dicom.dataset import AGE_CAP_YEARS, PARTICIPANT_COLUMNS, write_participants
from qmri_kernels.manifest import load_manifest
from qmri_kernels.phantom.synthetic_cohort import generate_cohort
from qmri_kernels.segment import DEFAULT_WEIGHTS


def _validator() -> str | None:
    beside = Path(sys.executable).parent / "bids-validator-deno"
    return str(beside) if beside.is_file() else shutil.which("bids-validator-deno")


VALIDATOR = _validator()
needs_validator = pytest.mark.skipif(
    VALIDATOR is None, reason="the BIDS validator CLI bids-validator-deno is not installed "
                              "(pip install -e '.[test]' installs it)")
needs_weights = pytest.mark.skipif(not Path(DEFAULT_WEIGHTS).is_file(),
                                   reason="the segmentation network's weights are not shipped "
                                          "in this checkout")

#: Clinical-table columns that identify a patient or tell more than a shared dataset needs.
IDENTIFYING = {"patient", "name", "patient_name", "birth_date", "date_of_birth", "mrn",
               "chief_complaint", "course_months", "ck_u_per_l", "electromyography",
               "mri_to_biopsy_days", "scan_date", "acquisition_date"}


#: Warnings the validator may give, each for a reason the datasets cannot remove.
#: Authorship and licence are the study's to declare; no HED tags are used; the DICOM
#: export the raw dataset was converted from is not a BIDS dataset to name as its source.
_DATASET_WARNINGS = {("NO_AUTHORS", "Authors"), ("TOO_FEW_AUTHORS", ""),
                     ("JSON_KEY_RECOMMENDED", "HEDVersion"), ("JSON_KEY_RECOMMENDED", "License"),
                     ("JSON_KEY_RECOMMENDED", "SourceDatasets")}
#: Recommended sidecar keys of the raw images that the de-identification removes on
#: purpose (they name the site and the scanner) ...
_REMOVED_KEYS = {"DeviceSerialNumber", "StationName", "InstitutionName", "InstitutionAddress",
                 "InstitutionalDepartmentName"}
#: ... and those no standard DICOM attribute holds (vendor-private, or not exported).
_NOT_IN_DICOM = {"CoilCombinationMethod", "MatrixCoilMode", "DwellTime",
                 "NonlinearGradientCorrection", "PulseSequenceDetails",
                 "ReceiveCoilActiveElements", "SliceTiming"}
ALLOWED_WARNINGS = {
    "rawdata": _DATASET_WARNINGS | {("SIDECAR_KEY_RECOMMENDED", k)
                                    for k in _REMOVED_KEYS | _NOT_IN_DICOM},
    "derivatives": _DATASET_WARNINGS,
}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """One subject of the synthetic cohort through every pipeline stage, under umask 022."""
    from qmri_kernels.pipeline import main

    root = tmp_path_factory.mktemp("bids-cohort")
    generate_cohort(root, matrix=(48, 48), patients=[13])
    doc = {"version": 1, "synthetic": True, "root": str(root),
           "clinical_table": "sourcedata/clinical.csv",
           "scores": "sourcedata/scores_pathology.csv",
           "score_store": "derivatives/scores.sqlite", "derivatives": "derivatives/qmri",
           "rawdata": "rawdata", "truth": "truth",
           "subjects": [{"id": "13", "dicom_root": "sourcedata/sub-13/dicom",
                         "biopsy_muscle": "VL", "biopsy_side": "right"}]}
    path = root / "manifest.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    old = os.umask(0o022)
    try:
        assert main(["--manifest", str(path), "--serial", "--no-progress"]) == 0
    finally:
        os.umask(old)
    return load_manifest(path)


def _validate(dataset: Path) -> dict:
    """The validator's JSON report of ``dataset``."""
    proc = subprocess.run([VALIDATOR, "--format", "json", str(dataset)], capture_output=True,
                          text=True, timeout=600)
    assert proc.stdout.strip(), f"no report from the validator: {proc.stderr[-2000:]}"
    return json.loads(proc.stdout)


def _issues(report: dict, severity: str) -> list[tuple[str, str, str]]:
    """(code, subCode, location) of every issue of ``severity``."""
    return [(i["code"], i.get("subCode", ""), i.get("location", ""))
            for i in report["issues"]["issues"] if i["severity"] == severity]


@needs_weights
@needs_validator
@pytest.mark.parametrize("which", ["rawdata", "derivatives"])
def test_the_validator_accepts_both_datasets(cohort, which):
    dataset = Path(getattr(cohort, which))
    report = _validate(dataset)
    errors = _issues(report, "error")
    assert errors == [], "\n".join(map(" ".join, errors))
    unexplained = {(code, sub) for code, sub, _ in _issues(report, "warning")} \
        - ALLOWED_WARNINGS[which]
    assert unexplained == set(), unexplained


@needs_weights
def test_datasets_link_and_name_their_sources(cohort):
    raw, deriv = Path(cohort.rawdata), Path(cohort.derivatives)
    assert json.loads((raw / "dataset_description.json").read_text())["DatasetType"] == "raw"
    desc = json.loads((deriv / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative"
    assert D.dataset_links(deriv) == {"raw": raw.resolve()}
    assert not list(deriv.rglob("*_MEGRE.nii.gz"))           # the images live in rawdata
    side = D.read_sidecar(deriv, "13", "pdff")
    assert side["Sources"] and all(s.startswith("bids:raw:sub-13/anat/")
                                   for s in side["Sources"])
    assert all((raw / s[len("bids:raw:"):]).is_file() for s in side["Sources"])
    t2 = D.read_sidecar(deriv, "13", "t2")
    assert D.map_path(deriv, "13", "t2").name == "sub-13_desc-monoexp_T2map.nii.gz"
    assert "apparent T2" in t2["Description"] and D.MASK_NOTE in t2["Description"]


@needs_weights
def test_every_file_follows_the_umask(cohort):
    for root in (Path(cohort.rawdata), Path(cohort.derivatives)):
        files = [p for p in root.rglob("*") if p.is_file()]
        assert len(files) > 20
        modes = {p.relative_to(root).as_posix(): oct(p.stat().st_mode & 0o777)
                 for p in files if p.stat().st_mode & 0o777 != 0o644}
        assert modes == {}, modes
        dirs = {p.relative_to(root).as_posix(): oct(p.stat().st_mode & 0o777)
                for p in root.rglob("*") if p.is_dir() and p.stat().st_mode & 0o777 != 0o755}
        assert dirs == {}, dirs


@needs_weights
def test_participants_has_no_identifying_column(cohort):
    raw = Path(cohort.rawdata)
    with (raw / "participants.tsv").open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    clinical = (Path(cohort.clinical_table)).read_text().splitlines()[0].split(",")
    assert IDENTIFYING & set(clinical)                # the table has such columns ...
    assert set(rows[0]) == {"participant_id", "age", "sex", "diagnosis", "biopsy_muscle",
                            "biopsy_side"}            # ... participants.tsv does not
    assert [r["participant_id"] for r in rows] == ["sub-13"]
    sidecar = json.loads((raw / "participants.json").read_text())
    assert set(sidecar) == set(rows[0])
    assert all(sidecar[c].get("Description") for c in sidecar)


def test_participants_keep_only_the_allowed_columns_and_cap_age(tmp_path):
    table = tmp_path / "clinical.csv"
    table.write_text("participant_id,patient_name,age_years,sex,diagnosis,birth_date\n"
                     "sub-01,Doe^Jane,93,F,DM,19300101\n"
                     "sub-02,Roe^Rick,,M,XYZ,19800101\n")

    class Entry:
        def __init__(self, sid):
            self.id, self.biopsy_muscle, self.biopsy_side = sid, "RF", "left"

    path = write_participants(tmp_path / "raw", [Entry("01"), Entry("02"), Entry("03")],
                              table)
    text = path.read_text()
    assert "Doe" not in text and "1930" not in text and "Roe" not in text
    rows = [line.split("\t") for line in text.splitlines()]
    assert rows[0] == ["participant_id", *PARTICIPANT_COLUMNS, "biopsy_muscle",
                       "biopsy_side"]
    assert rows[1] == ["sub-01", str(AGE_CAP_YEARS), "F", "DM", "RF", "left"]
    assert rows[2][:4] == ["sub-02", "n/a", "M", "XYZ"]
    assert rows[3][:4] == ["sub-03", "n/a", "n/a", "n/a"]       # not in the table
    levels = json.loads((tmp_path / "raw" / "participants.json").read_text())["diagnosis"]
    assert levels["Levels"] == {"DM": "dermatomyositis", "XYZ": "XYZ"}


@needs_weights
def test_the_privacy_scan_finds_no_identity_in_either_dataset(cohort):
    script = Path(__file__).resolve().parents[1] / "tools" / "check_privacy.py"
    proc = subprocess.run([sys.executable, str(script), str(cohort.rawdata),
                           str(cohort.derivatives)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
