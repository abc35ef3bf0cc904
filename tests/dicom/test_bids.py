"""BIDS naming, parsing and the reader for the other chapters."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from qmri_kernels.dicom import DicomError, ingest, load_series
from qmri_kernels.dicom.bids import bids_name, bids_path, parse_name, subject_label


@pytest.mark.parametrize("args, name", [
    (("01", "megre"), None),
    (("sub-01", "megre", 2, "phase"), "sub-01_echo-2_part-phase_MEGRE"),
    (("01", "mese", 8), "sub-01_echo-8_MESE"),
    (("01", "t2w"), "sub-01_T2w"),
    (("01", "megre", 1, "mag", 2), "sub-01_run-2_echo-1_part-mag_MEGRE"),
])
def test_bids_name(args, name):
    keys = ("subject", "role", "echo", "part", "run")
    kwargs = dict(zip(keys[2:], args[2:]))
    if name is None:
        with pytest.raises(DicomError, match="needs an echo"):
            bids_name(*args[:2], **kwargs)
        return
    assert bids_name(*args[:2], **kwargs) == name
    info = parse_name(name + ".nii.gz")
    assert info["role"] == args[1] and info["subject"] == "01"
    assert info["echo"] == kwargs.get("echo") and info["run"] == kwargs.get("run")


def test_bad_names():
    assert parse_name("sub-01_desc-water_T2map.nii.gz") is None
    with pytest.raises(DicomError, match="role must be one of"):
        bids_name("01", "dwi")
    for bad in ("sub-0_1", "", "sub-", "01 "):
        with pytest.raises(DicomError, match="not a BIDS label"):
            subject_label(bad)
    assert bids_path("/d", "sub-3", "t2w", ext=".json").as_posix() == "/d/sub-3/anat/sub-3_T2w.json"


def test_load_series_errors(study):
    with pytest.raises(DicomError, match="has sub-07 been ingested"):
        load_series(study.out, "sub-07", "mese")
    ingest(study.dicom, study.out, "sub-07")
    with pytest.raises(DicomError, match="part must be"):
        load_series(study.out, "sub-07", "mese", "both")
    with pytest.raises(DicomError, match="only available for megre"):
        load_series(study.out, "sub-07", "mese", "complex")
    with pytest.raises(DicomError, match="no mese \\(phase\\) images"):
        load_series(study.out, "sub-07", "mese", "phase")


def test_load_series_runs(study):
    ingest(study.dicom, study.out, "sub-07")
    anat = study.out / "sub-07" / "anat"
    for path in list(anat.glob("sub-07_echo-*_MESE*")):
        shutil.copy(path, anat / path.name.replace("sub-07_", "sub-07_run-2_"))
    with pytest.raises(DicomError, match="runs"):
        load_series(study.out, "sub-07", "mese")
    second = load_series(study.out, "sub-07", "mese", run=2)
    assert second.data.shape == study.images["mese"].shape
    assert np.all(np.diff(second.echo_times) > 0)
