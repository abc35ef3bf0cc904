"""Allow-list de-identification: what the analysis needs survives; the rest is named."""

from __future__ import annotations

import copy

import pydicom
import pytest

from qmri_kernels.dicom.deidentify import ALLOWED_KEYWORDS, deidentify, removed_names

from ._study import IDENTITY_STRINGS


@pytest.fixture
def header(study_template):
    return pydicom.dcmread(study_template.series_files(5)[0], stop_before_pixels=True)


def test_only_allowed_attributes_survive(header):
    original = copy.deepcopy(header)
    clean, removed = deidentify(header, "sub-07")
    assert header == original  # the input is not modified
    extra = {"PatientName", "PatientID", "PatientIdentityRemoved", "DeidentificationMethod"}
    assert {e.keyword for e in clean} <= ALLOWED_KEYWORDS | extra
    assert not any(e.tag.is_private for e in clean)
    assert str(clean.PatientName) == clean.PatientID == "sub-07"
    assert clean.PatientIdentityRemoved == "YES"
    for keyword in ("ImagePositionPatient", "EchoTime", "MagneticFieldStrength",
                    "ManufacturerModelName", "SoftwareVersions", "RescaleSlope"):
        assert clean[keyword].value == header[keyword].value
    text = str(clean) + " ".join(removed)
    for needle in IDENTITY_STRINGS:
        assert needle.lower() not in text.lower(), needle


def test_removed_names_are_names_not_values(header):
    _, removed = deidentify(header, "sub-07")
    for keyword in ("PatientName", "PatientBirthDate", "InstitutionName", "AccessionNumber",
                    "ReferringPhysicianName", "OperatorsName", "StudyDate", "StudyInstanceUID"):
        assert keyword in removed
    private = [r for r in removed if "private" in r]
    assert any(r.startswith("(0043,1062)") for r in private)  # the GE "Scanner Study ID"
    assert removed == removed_names(header)


def test_descriptor_holding_an_identity_is_cleaned(header):
    header.SeriesDescription = "Ax T2 " + str(header.PatientName).split("^")[0]
    clean, removed = deidentify(header, "sub-07")
    assert clean.SeriesDescription == ""
    assert "SeriesDescription (cleaned)" in removed


def test_sequences_are_dropped(header):
    item = pydicom.Dataset()
    item.PatientName = "Hidden^Person"
    header.OtherPatientIDsSequence = [item]
    clean, removed = deidentify(header, "sub-07")
    assert "OtherPatientIDsSequence" in removed and "Hidden" not in str(clean)
