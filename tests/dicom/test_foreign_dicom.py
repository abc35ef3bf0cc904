"""DICOM that nobody here wrote: the MR test files shipped with pydicom.

Ingest either works or raises DicomError with a clear message — never another exception.
The MR files are one 64x64 spin-echo slice of another vendor (TE 240 ms, TR 4000 ms): a
T2-weighted contrast, but one slice, so they are reported as unclassified rather than
guessed to be the study's T2-weighted series; given the role by hand, they ingest.
"""

from __future__ import annotations

import shutil
import warnings

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from qmri_kernels.dicom import DicomError, ingest

FOREIGN = ["MR_small.dcm", "MR_small_RLE.dcm", "MR_small_bigendian.dcm", "MR_small_expb.dcm",
           "MR_small_implicit.dcm", "MR_small_padded.dcm", "MR_small_jp2klossless.dcm",
           "MR_small_jpeg_ls_lossless.dcm", "MR_truncated.dcm", "zipMR.gz"]
EXPECTED_ERROR = {"MR_truncated.dcm": "MR_truncated.dcm: corrupt or truncated",
                  "zipMR.gz": "no DICOM files"}


@pytest.mark.parametrize("name", FOREIGN)
def test_foreign_file_ingests_or_fails_clearly(name, tmp_path):
    source = get_testdata_file(name)
    (tmp_path / "in").mkdir()
    shutil.copy(source, tmp_path / "in" / name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name in EXPECTED_ERROR:
            with pytest.raises(DicomError, match=EXPECTED_ERROR[name]):
                ingest(tmp_path / "in", tmp_path / "out", "sub-01")
            return
        with pytest.raises(DicomError, match=r"no series of a known role .*1 slice\(s\): a "
                                             r"T2-weighted series needs at least 2 slices"):
            ingest(tmp_path / "in", tmp_path / "out", "sub-01")
        assert not (tmp_path / "out" / "sub-01").exists()
        paths = ingest(tmp_path / "in", tmp_path / "out", "sub-01", roles={1: "t2w"})
    assert [p.name for p in paths] == ["sub-01_T2w.json", "sub-01_T2w.nii.gz"]
    ds = pydicom.dcmread(source)
    img = nib.load(paths[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MR_small_padded: "excess padding"
        pixels = ds.pixel_array
    expected = pixels.T.astype(float) * float(ds.get("RescaleSlope", 1)) \
        + float(ds.get("RescaleIntercept", 0))
    np.testing.assert_allclose(img.get_fdata()[..., 0], expected)


def test_all_foreign_files_in_one_folder(tmp_path):
    (tmp_path / "in").mkdir()
    for name in FOREIGN:
        shutil.copy(get_testdata_file(name), tmp_path / "in" / name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DicomError):
            ingest(tmp_path / "in", tmp_path / "out", "sub-01")
    assert not (tmp_path / "out" / "sub-01").exists()
