"""End-to-end ingest of the small synthetic study: values, geometry, naming, atomicity, privacy."""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import warnings

import nibabel as nib
import numpy as np
import pydicom
import pytest

from qmri_kernels.dicom import DicomError, DicomWarning, ingest, load_series
from qmri_kernels.dicom.bids import bids_path
from qmri_kernels.phantom.dicom_writer import write_series
from qmri_kernels.grids import axial_grid
from qmri_kernels.phantom.protocol import PROTOCOL

from ._study import IDENTITY_STRINGS


def _expected_names():
    names = {"sub-07_T2w"}
    names |= {f"sub-07_echo-{e}_MESE" for e in range(1, 9)}
    names |= {f"sub-07_echo-{e}_part-{p}_MEGRE" for e in range(1, 7) for p in ("mag", "phase")}
    return {n + ext for n in names for ext in (".nii.gz", ".json")}


def test_ingest_writes_bids_files_with_values_and_geometry(study):
    paths = ingest(study.dicom, study.out, "sub-07")
    assert {p.name for p in paths} == _expected_names()
    assert all(p.parent == study.out / "sub-07" / "anat" for p in paths)
    assert (study.out / "dataset_description.json").exists()

    megre = load_series(study.out, "sub-07", "megre", "complex")
    truth = study.images["megre"]
    assert megre.data.shape == truth.shape
    np.testing.assert_allclose(megre.affine, study.grids["megre"].affine, atol=1e-6)
    np.testing.assert_allclose(megre.echo_times, study.protocols["megre"].echo_times, rtol=1e-9)
    mag = load_series(study.out, "07", "megre", "mag").data
    step = np.abs(truth).max() / 65535
    assert np.max(np.abs(mag - np.abs(truth))) <= 0.51 * step + 1e-3
    phase = load_series(study.out, "07", "megre", "phase").data
    assert phase.min() >= -np.pi - 1e-6 and phase.max() < np.pi + 1e-6
    inside = np.abs(truth) > 300
    dphi = np.angle(np.exp(1j * (phase - np.angle(truth))))
    assert np.max(np.abs(dphi[inside])) < 2e-4

    mese = load_series(study.out, "sub-07", "mese")
    np.testing.assert_allclose(mese.affine, study.grids["mese"].affine, atol=1e-6)
    np.testing.assert_allclose(mese.data, study.images["mese"],
                               atol=0.51 * study.images["mese"].max() / 65535 + 1e-3)
    t2w = load_series(study.out, "sub-07", "t2w")
    assert t2w.data.shape == study.grids["t2w"].shape
    np.testing.assert_allclose(t2w.affine, study.grids["t2w"].affine, atol=1e-6)
    assert t2w.grid.shape == study.grids["t2w"].shape

    side = json.loads(bids_path(study.out, "07", "mese", echo=3, ext=".json").read_text())
    assert side["EchoTime"] == pytest.approx(0.021)
    assert side["RepetitionTime"] == pytest.approx(1.046)
    assert side["MagneticFieldStrength"] == 3
    assert side["SliceThickness"] == 6 and side["SpacingBetweenSlices"] == pytest.approx(13)
    assert side["Manufacturer"] == "GE MEDICAL SYSTEMS"
    assert side["ManufacturersModelName"] == "DISCOVERY MR750w"
    assert side["SeriesDescription"] == "Ax T2 Map FS"
    prov = side["Provenance"]
    assert prov["SourceSeriesUIDHash"].startswith("sha256:")
    assert "PatientName" in prov["Deidentification"]["RemovedAttributes"]
    phase_side = json.loads(bids_path(study.out, "07", "megre", echo=1, part="phase",
                                      ext=".json").read_text())
    assert phase_side["Units"] == "rad"
    img = nib.load(bids_path(study.out, "07", "megre", echo=1, part="mag"))
    assert img.header["sform_code"] == 1 and img.header["qform_code"] == 1


def test_ingest_is_deterministic(study, tmp_path):
    a = ingest(study.dicom, tmp_path / "a", "sub-07")
    b = ingest(study.dicom, tmp_path / "b", "sub-07")
    assert [p.name for p in a] == [p.name for p in b]
    assert all(pa.read_bytes() == pb.read_bytes() for pa, pb in zip(a, b))


def test_no_identity_string_in_any_output_byte_or_log(study, caplog):
    series_uid = str(pydicom.dcmread(study.series_files(7)[0]).SeriesInstanceUID)
    with caplog.at_level(logging.DEBUG), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ingest(study.dicom, study.out, "sub-07")
    blobs = []
    for path in study.out.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            blobs.append(gzip.decompress(raw) if path.suffix == ".gz" else raw)
    blobs.append(caplog.text.encode())
    blobs += [str(w.message).encode() for w in caught]
    assert len(blobs) > 40
    for needle in IDENTITY_STRINGS + (series_uid,):
        for blob in blobs:
            assert needle.lower().encode() not in blob.lower(), needle


def test_failed_subject_leaves_nothing_behind(study):
    study.series_files(7)[5].unlink()  # one echo of one slice of the spin echo
    with pytest.raises(DicomError):
        ingest(study.dicom, study.out, "sub-07")
    assert not (study.out / "sub-07").exists()
    assert not any(p.name.startswith(".ingest") for p in study.out.iterdir()) \
        if study.out.exists() else True


def test_failed_reingest_keeps_the_previous_output(study):
    first = ingest(study.dicom, study.out, "sub-07")
    before = {p: p.read_bytes() for p in first}
    study.series_files(3)[1].unlink()  # middle T2w slice: a missing slice
    with pytest.raises(DicomError, match="missing"):
        ingest(study.dicom, study.out, "sub-07")
    assert {p: p.read_bytes() for p in first} == before
    assert sorted(p.name for p in (study.out / "sub-07" / "anat").iterdir()) == \
        sorted(p.name for p in first)


def test_reingest_replaces_outputs_and_keeps_other_derivatives(study):
    ingest(study.dicom, study.out, "sub-07")
    other = study.out / "sub-07" / "anat" / "sub-07_desc-water_T2map.nii.gz"
    other.write_bytes(b"a later chapter's map")
    for path in study.dicom.rglob("SE0003"):
        for f in path.iterdir():
            f.unlink()
    paths = ingest(study.dicom, study.out, "sub-07")
    names = {p.name for p in (study.out / "sub-07" / "anat").iterdir()}
    assert "sub-07_T2w.nii.gz" not in names  # stale output of the removed series is gone
    assert other.name in names and other.read_bytes() == b"a later chapter's map"
    assert {p.name for p in paths} == _expected_names() - {"sub-07_T2w.nii.gz",
                                                           "sub-07_T2w.json"}


def test_non_dicom_files_are_skipped_with_a_warning(study):
    (study.dicom / "README.txt").write_text("exported by PACS")
    (study.dicom / "nested" / "deeper").mkdir(parents=True)
    (study.dicom / "nested" / "deeper" / "thumbs.db").write_bytes(b"\x00" * 300)
    with pytest.warns(DicomWarning) as caught:
        paths = ingest(study.dicom, study.out, "sub-07")
    assert sorted(str(w.message).split(":")[0] for w in caught) == \
        ["README.txt", "nested/deeper/thumbs.db"]
    assert len(paths) == len(_expected_names())


def _write_localizer(folder, identity, study_uid):
    localizer = dataclasses.replace(PROTOCOL["megre"], series_description="3Pl Loc",
                                    echo_times=(1.6e-3,), n_slices=3, series_number=1)
    write_series(folder, np.ones((8, 8, 3)), axial_grid((8, 8), 420, 10, 0, 3), localizer,
                 identity, study_uid=study_uid, uid_seed="loc")


def test_unknown_series_is_reported_and_left_alone(study):
    study_uid = str(pydicom.dcmread(study.series_files(3)[0]).StudyInstanceUID)
    _write_localizer(study.dicom / "loc", study.identity, study_uid)
    with pytest.warns(DicomWarning, match="series 1 '3Pl Loc' .* left alone"):
        paths = ingest(study.dicom, study.out, "sub-07")
    assert len(paths) == len(_expected_names())


def test_folder_without_known_roles_raises(study, tmp_path):
    _write_localizer(tmp_path / "only-loc", study.identity, "1.2.3.4")
    with pytest.warns(DicomWarning):
        with pytest.raises(DicomError, match="no series of a known role .*3Pl Loc"):
            ingest(tmp_path / "only-loc", study.out, "sub-07")


def test_empty_folder_and_bad_subject_raise(tmp_path, study):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DicomError, match="no DICOM files"):
        ingest(tmp_path / "empty", tmp_path / "out", "sub-01")
    with pytest.raises(DicomError, match="not a directory"):
        ingest(tmp_path / "missing", tmp_path / "out", "sub-01")
    with pytest.raises(DicomError, match="not a BIDS label"):
        ingest(study.dicom, study.out, "sub_07")


def test_dicomdir_is_tolerated(study, tmp_path):
    from pydicom.fileset import FileSet

    fs = FileSet()
    for path in sorted(study.dicom.rglob("IM*")):
        fs.add(pydicom.dcmread(path))
    fs.write(tmp_path / "media")
    assert (tmp_path / "media" / "DICOMDIR").exists()
    with pytest.warns(DicomWarning, match=r"^DICOMDIR: a media directory \(DICOMDIR\), not "
                                          r"an image; skipped"):
        paths = ingest(tmp_path / "media", tmp_path / "out", "sub-07")
    assert {p.name for p in paths} == _expected_names()
