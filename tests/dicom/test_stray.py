"""Stray and foreign files in a scanner export: skipped or left alone with the reason, never
fatal and never guessed; a magnitude-only gradient echo is ingested and the fat-water step
says what it needs."""

from __future__ import annotations

import logging
import shutil
import types
import warnings

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (ComprehensiveSRStorage, ExplicitVRLittleEndian,
                         GrayscaleSoftcopyPresentationStateStorage,
                         KeyObjectSelectionDocumentStorage, RawDataStorage, generate_uid)

from qmri_kernels.dicom import DicomError, DicomWarning, ingest, load_series, survey

from .test_ingest import _expected_names

T2W, MEGRE, MEGRE_PHASE = 3, 5, 105


def _object(study, path, sop_class, modality, series_number):
    """A non-image object of the study's patient and study (no pixel data)."""
    ref = pydicom.dcmread(study.series_files(T2W)[0], stop_before_pixels=True)
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[str(path)])
    ds.PatientName, ds.PatientID = ref.PatientName, ref.PatientID
    ds.StudyInstanceUID = ref.StudyInstanceUID
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[str(path), "series"])
    ds.SeriesNumber, ds.Modality = series_number, modality
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def _ingest_with_warnings(study, caplog):
    with caplog.at_level(logging.INFO), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = ingest(study.dicom, study.out, "sub-07")
    return paths, [str(w.message) for w in caught if issubclass(w.category, DicomWarning)]


def test_non_image_objects_are_skipped_with_their_reason(study, caplog):
    extra = study.dicom / "extra"
    _object(study, extra / "PS0001", GrayscaleSoftcopyPresentationStateStorage, "PR", 901)
    _object(study, extra / "SR0001", ComprehensiveSRStorage, "SR", 902)
    _object(study, extra / "KO0001", KeyObjectSelectionDocumentStorage, "KO", 903)
    _object(study, extra / "RAW0001", RawDataStorage, "MR", 904)
    header_only = pydicom.dcmread(study.series_files(7)[0])
    del header_only.PixelData
    header_only.SOPInstanceUID = generate_uid(entropy_srcs=["header-only"])
    header_only.save_as(extra / "HDR0001", enforce_file_format=True)
    shutil.copy(get_testdata_file("reportsi.dcm"), extra / "foreign_report.dcm")  # other patient
    (study.dicom / "DICOMDIR").write_bytes(b"\x00" * 200)
    (extra / "index.html").write_text("<html>viewer</html>")
    paths, messages = _ingest_with_warnings(study, caplog)
    assert {p.name for p in paths} == _expected_names()
    expected = {"extra/PS0001": "a presentation state", "extra/SR0001": "a structured report",
                "extra/KO0001": "a key object selection", "extra/RAW0001": "a non-image object",
                "extra/HDR0001": "an image header without pixel data",
                "extra/foreign_report.dcm": "a structured report",
                "DICOMDIR": "a media directory (DICOMDIR)",
                "extra/index.html": "not a DICOM file"}
    for name, reason in expected.items():
        hits = [m for m in messages if m.startswith(f"{name}: {reason}")]
        assert len(hits) == 1, (name, messages)
        assert hits[0].endswith("skipped") or "skipped" in hits[0]
        assert any(r.levelno == logging.WARNING and r.getMessage() == hits[0]
                   for r in caplog.records), name


def test_only_non_image_objects_is_an_error_naming_that(study, tmp_path):
    _object(study, tmp_path / "in" / "PS0001", GrayscaleSoftcopyPresentationStateStorage, "PR",
            901)
    with pytest.warns(DicomWarning, match="PS0001: a presentation state"):
        with pytest.raises(DicomError, match="no DICOM images found"):
            ingest(tmp_path / "in", tmp_path / "out", "sub-07")


def test_single_slice_of_another_vendor_is_not_taken_for_the_t2w(study, caplog):
    ref = pydicom.dcmread(study.series_files(T2W)[0], stop_before_pixels=True)
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.PatientName, ds.PatientID = ref.PatientName, ref.PatientID
    ds.StudyInstanceUID = ref.StudyInstanceUID
    ds.save_as(study.dicom / "MR_small.dcm", enforce_file_format=True)
    paths, messages = _ingest_with_warnings(study, caplog)
    assert {p.name for p in paths} == _expected_names()  # no second T2w run
    (message,) = [m for m in messages if "series 1 " in m]
    for fragment in ("unclassified", "TE 240 ms, TR 4000 ms", "1 slice(s)",
                     "needs at least 2 slices", "roles={1: 't2w'}"):
        assert fragment in message, message


def test_unknown_contrast_is_listed_as_unclassified(study, caplog):
    for path in study.series_files(T2W):
        ds = pydicom.dcmread(path)
        ds.ScanningSequence = "EP"
        ds.save_as(path, enforce_file_format=True)
    paths, messages = _ingest_with_warnings(study, caplog)
    assert "sub-07_T2w.nii.gz" not in {p.name for p in paths}
    (message,) = [m for m in messages if "series 3 " in m]
    assert "unclassified" in message and "EP with 1 echo time(s)" in message
    table = survey(study.dicom).set_index("series_number")
    assert table.loc[T2W, "role"] == "" and "EP with" in table.loc[T2W, "reason"]


@pytest.fixture
def magnitude_only(study):
    for path in study.dicom.rglob(f"SE{MEGRE_PHASE:04d}"):
        shutil.rmtree(path)
    return study


def test_magnitude_only_megre_is_written_and_explained(magnitude_only, caplog):
    study = magnitude_only
    paths, messages = _ingest_with_warnings(study, caplog)
    names = {p.name for p in paths}
    assert names == {n for n in _expected_names() if "part-phase" not in n}
    (note,) = [m for m in messages if "complex echoes" in m]
    for fragment in ("magnitude images only", "magnitude and phase, or real and imaginary",
                     "field map", "1 − f"):
        assert fragment in note, note
    mag = load_series(study.out, "07", "megre", "mag")
    assert mag.data.shape == study.images["megre"].shape
    with pytest.raises(DicomError, match=r"sub-07 megre: no complex echoes to fit .* "
                                         r"magnitude images only.*field map"):
        load_series(study.out, "07", "megre", "complex")
    reason = survey(study.dicom).set_index("series_number").loc[MEGRE, "reason"]
    assert reason.startswith("gradient echo with 6 echo times; ") and "complex" in reason


def test_fat_water_loader_says_what_it_needs_without_reingesting(magnitude_only, monkeypatch):
    import qmri_kernels.dicom._ingest as ingest_module
    from qmri_kernels.fatwater._io import load_megre

    study = magnitude_only
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ingest(study.dicom, study.out, "sub-07")
    entry = types.SimpleNamespace(id="07", bids_id="sub-07", dicom_root=study.dicom)
    manifest = types.SimpleNamespace(rawdata=study.out, subject=lambda _: entry)

    def no_reingest(*args, **kwargs):
        raise AssertionError("ingested again although the MEGRE is there")

    monkeypatch.setattr(ingest_module, "ingest", no_reingest)
    with pytest.raises(DicomError, match="needs complex echoes"):
        load_megre(manifest, "07")
