"""Each ingest check on a deliberately broken copy of the small study: DicomError names the file.

Compressed pixel data (undecodable streams, missing decoders) is tested in test_compressed.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from qmri_kernels.dicom import DicomError, ingest
from qmri_kernels.dicom.check import check_spacing
from qmri_kernels.dicom.group import Series

MESE, MEGRE, T2W = 7, 5, 3  # series numbers in the small study


def _edit(path, **values):
    ds = pydicom.dcmread(path)
    for keyword, value in values.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(path, enforce_file_format=True)


def _fails(study, *fragments):
    with pytest.raises(DicomError) as info:
        ingest(study.dicom, study.out, "sub-07")
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert not (study.out / "sub-07").exists()
    return message


def _rel(study, path):
    return str(path.relative_to(study.dicom))


@pytest.mark.parametrize("keep", [700, 1500, 2100])
def test_truncated_header(study, keep):
    path = study.series_files(MESE)[3]
    path.write_bytes(path.read_bytes()[:keep])
    _fails(study, _rel(study, path), "corrupt or truncated")


def test_truncated_pixel_data(study):
    path = study.series_files(MEGRE)[10]
    path.write_bytes(path.read_bytes()[:-400])
    _fails(study, _rel(study, path), "truncated", "(7FE0,0010)")


def test_corrupt_element_length(study):
    path = study.series_files(T2W)[0]
    raw = bytearray(path.read_bytes())
    at = raw.index(b"\x08\x00\x3e\x10")  # (0008,103E) SeriesDescription, explicit VR LO
    raw[at + 6:at + 8] = b"\xff\xff"  # its length now runs past the end of the file
    path.write_bytes(bytes(raw))
    _fails(study, _rel(study, path))


def test_missing_echo(study):
    files = study.series_files(MEGRE)  # 4 slices × 6 echoes, echo-minor
    files[2 * 6 + 2].unlink()  # slice 3, echo 3 (TE 4.5 ms)
    _fails(study, "series 5 'Ax IDEAL-IQ' (mag)", "slice 3 of 4", "TE 4.50 ms",
           _rel(study, files[2 * 6]))


def test_missing_slice(study):
    files = study.series_files(MESE)  # 4 slices × 8 echoes
    for f in files[8:16]:  # the whole second slice
        f.unlink()
    _fails(study, "series 7", "1 slice(s) missing", _rel(study, files[0]))


def test_missing_slice_of_a_short_stack(study):
    files = study.series_files(T2W)  # 3 slices, one echo
    files[1].unlink()
    _fails(study, "series 3", "missing", "SpacingBetweenSlices", _rel(study, files[2]))


def test_uneven_spacing(study):
    path = study.series_files(T2W)[2]
    ipp = [float(v) for v in pydicom.dcmread(path).ImagePositionPatient]
    _edit(path, ImagePositionPatient=[ipp[0], ipp[1], ipp[2] + 4.5])
    _fails(study, "uneven slice spacing", _rel(study, path))


def test_two_patients(study):
    path = study.series_files(MESE)[9]
    _edit(path, PatientID="OTHER-PATIENT-77")
    message = _fails(study, "two different patients", _rel(study, path))
    assert "OTHER-PATIENT-77" not in message and study.identity.patient_id not in message


def test_two_studies(study):
    path = study.series_files(T2W)[1]
    _edit(path, StudyInstanceUID="1.2.826.0.1.3680043.8.498.1234567")
    _fails(study, "two different studies", _rel(study, path))


def test_inconsistent_orientation(study):
    path = study.series_files(MESE)[17]
    c, s = np.cos(0.1), np.sin(0.1)
    _edit(path, ImageOrientationPatient=[c, s, 0, -s, c, 0])
    _fails(study, "series 7", "ImageOrientationPatient", _rel(study, path))


def test_inconsistent_pixel_spacing(study):
    path = study.series_files(MEGRE)[7]
    _edit(path, PixelSpacing=[13.0, 13.5])
    _fails(study, "PixelSpacing", _rel(study, path))


def test_inconsistent_matrix(study):
    path = study.series_files(MESE)[4]
    ds = pydicom.dcmread(path)
    ds.Rows = ds.Rows - 4
    ds.PixelData = ds.PixelData[: ds.Rows * ds.Columns * 2]
    ds.save_as(path, enforce_file_format=True)
    _fails(study, "matrix", _rel(study, path))


def test_missing_geometry(study):
    path = study.series_files(T2W)[0]
    _edit(path, ImagePositionPatient=None)
    _fails(study, "no ImagePositionPatient", _rel(study, path))


def test_two_images_of_the_same_slice_and_echo(study):
    files = study.series_files(MESE)
    ds = pydicom.dcmread(files[0])
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.8.498.99"
    copy = files[0].with_name("IM_copy")
    ds.save_as(copy, enforce_file_format=True)
    _fails(study, "two images of the same slice", "IM_copy")


def test_exact_duplicate_file_is_harmless(study):
    files = study.series_files(T2W)
    (files[0].parent / "IM_again").write_bytes(files[0].read_bytes())
    assert len(ingest(study.dicom, study.out, "sub-07")) == 2 * (1 + 8 + 12)


def test_sheared_stack(study):
    files = study.series_files(T2W)
    ipp = [float(v) for v in pydicom.dcmread(files[2]).ImagePositionPatient]
    _edit(files[2], ImagePositionPatient=[ipp[0] + 3.0, ipp[1], ipp[2]])
    _fails(study, "not stacked along their normal", _rel(study, files[2]))


def test_check_spacing_single_slice_and_even_stack(study_template):
    from qmri_kernels.dicom.headers import read_header

    h = read_header(study_template.series_files(T2W)[0])
    series = Series("1.2", "mag", [h])
    assert np.isnan(check_spacing(series, np.array([0.0]), np.zeros(1), [h]))
    assert check_spacing(series, np.array([0.0, 18.0, 36.0]), np.zeros(3), [h] * 3) == 18.0
