"""Compressed transfer syntaxes: JPEG-LS, JPEG 2000, RLE and JPEG lossless decode to the
same voxels as the uncompressed file; a missing decoder is a clear error, never a crash."""

from __future__ import annotations

import dataclasses
import shutil
import warnings

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate
from pydicom.pixels import get_decoder
from pydicom.uid import (JPEG2000Lossless, JPEGLosslessSV1, JPEGLSLossless, MPEG2MPML,
                         RLELossless)

from qmri_kernels.dicom import DicomError, ingest, load_series
from qmri_kernels.grids import axial_grid
from qmri_kernels.phantom.dicom_writer import write_series
from qmri_kernels.phantom.protocol import PROTOCOL

from ._enhanced import write_enhanced
from ._jpeg import encode_lossless
from ._study import IDENTITY

MESE = 7  # series number of the spin echo in the small study
PYDICOM_COMPRESSED = ["MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm",
                      "MR_small_RLE.dcm"]


def _ingest_one(name, tmp_path, **kwargs):
    folder = tmp_path / name.replace(".", "_")
    folder.mkdir()
    shutil.copy(get_testdata_file(name), folder / name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ingest(folder, tmp_path / f"out-{folder.name}", "sub-01", **kwargs)


@pytest.mark.parametrize("name", PYDICOM_COMPRESSED)
def test_pydicom_compressed_mr_gives_the_pixels_of_mr_small(name, tmp_path):
    # one slice: not classified as T2-weighted by itself, so the role is given
    paths = _ingest_one(name, tmp_path, roles={1: "t2w"})
    reference = _ingest_one("MR_small.dcm", tmp_path, roles={1: "t2w"})
    ours, ref = nib.load(paths[1]), nib.load(reference[1])
    pixels = pydicom.dcmread(get_testdata_file("MR_small.dcm")).pixel_array
    np.testing.assert_array_equal(ours.get_fdata()[..., 0], pixels.T)
    np.testing.assert_array_equal(np.asarray(ours.dataobj), np.asarray(ref.dataobj))
    np.testing.assert_array_equal(ours.affine, ref.affine)


def _recompress(path, transfer_syntax):
    ds = pydicom.dcmread(path)
    if transfer_syntax == JPEGLosslessSV1:  # pydicom has no JPEG lossless encoder
        ds.PixelData = encapsulate([encode_lossless(ds.pixel_array)])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = JPEGLosslessSV1
    else:
        ds.compress(transfer_syntax)
    ds.save_as(path, enforce_file_format=True)


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    """A 3-slice, 3-echo spin echo (40 x 36: OpenJPEG's six wavelet levels need >= 32
    pixels a side) as classic files, and its uncompressed ingest."""
    root = tmp_path_factory.mktemp("native")
    protocol = dataclasses.replace(PROTOCOL["mese"], n_slices=3, echo_times=(0.01, 0.02, 0.03))
    grid = axial_grid(matrix=(40, 36), fov_mm=300.0, slice_thickness=6.0, gap=2.0, n_slices=3)
    rng = np.random.default_rng(3)
    images = rng.uniform(50, 1500, (*grid.shape, 3)) * np.exp(-np.array([1.0, 2.0, 3.0]) / 4)
    files = write_series(root / "dicom", images, grid, protocol, IDENTITY, study_uid="1.2.3",
                         uid_seed="compressed")
    ingest(root / "dicom", root / "out", "sub-07")
    return files, load_series(root / "out", "07", "mese")


@pytest.mark.parametrize("transfer_syntax", [JPEGLosslessSV1, JPEG2000Lossless, RLELossless],
                         ids=["jpeg-lossless-sv1", "jpeg2000-lossless", "rle"])
def test_compressed_series_ingests_to_the_same_voxels(native, tmp_path, transfer_syntax):
    files, reference = native
    (tmp_path / "dicom").mkdir()
    for f in files:
        _recompress(shutil.copy(f, tmp_path / "dicom" / f.name), transfer_syntax)
    assert pydicom.dcmread(tmp_path / "dicom" / files[0].name).file_meta.TransferSyntaxUID \
        == transfer_syntax
    ingest(tmp_path / "dicom", tmp_path / "out", "sub-07")
    ours = load_series(tmp_path / "out", "07", "mese")
    np.testing.assert_array_equal(ours.data, reference.data)
    np.testing.assert_array_equal(ours.affine, reference.affine)


@pytest.mark.parametrize("transfer_syntax", [JPEG2000Lossless, RLELossless],
                         ids=["jpeg2000-lossless", "rle"])
def test_compressed_enhanced_multiframe(native, tmp_path, transfer_syntax):
    files, reference = native
    write_enhanced(files, tmp_path / "mf" / "MF0001", order="shuffled",
                   transfer_syntax=transfer_syntax)
    ingest(tmp_path / "mf", tmp_path / "out", "sub-07")
    ours = load_series(tmp_path / "out", "07", "mese")
    np.testing.assert_array_equal(ours.data, reference.data)
    np.testing.assert_array_equal(ours.affine, reference.affine)
    np.testing.assert_array_equal(ours.echo_times, reference.echo_times)


@pytest.mark.parametrize("name, syntax, package", [
    ("MR_small_jpeg_ls_lossless.dcm", JPEGLSLossless, "pip install python-gdcm"),
    ("MR_small_jp2klossless.dcm", JPEG2000Lossless, "pip install pylibjpeg pylibjpeg-openjpeg"),
])
def test_missing_decoder_names_file_syntax_and_package(name, syntax, package, tmp_path,
                                                        monkeypatch):
    monkeypatch.setattr(get_decoder(syntax), "_available", {})  # as if not installed
    with pytest.raises(DicomError) as info:
        _ingest_one(name, tmp_path, roles={1: "t2w"})
    message = str(info.value)
    for fragment in (name, syntax.name, str(syntax), package, "no decoder"):
        assert fragment in message, message
    assert not any((tmp_path / f"out-{name.replace('.', '_')}").glob("sub-01"))


def test_syntax_without_any_decoder_is_named(study, tmp_path):
    path = study.series_files(MESE)[0]
    ds = pydicom.dcmread(path)
    ds.PixelData = encapsulate([ds.PixelData])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = MPEG2MPML
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(DicomError, match=r"SE0007/IM00001: unsupported transfer syntax MPEG2 "
                                         r".*pydicom has no decoder"):
        ingest(study.dicom, study.out, "sub-07")
    assert not (study.out / "sub-07").exists()


def test_corrupt_compressed_stream_names_the_file(study):
    path = study.series_files(MESE)[0]
    ds = pydicom.dcmread(path)
    ds.PixelData = encapsulate([b"\x00\x01" * 50])  # not a JPEG-LS stream
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGLSLossless
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(DicomError, match=r"SE0007/IM00001: pixel data \(JPEG-LS Lossless "
                                         r"Image Compression\) cannot be read or decoded"):
        ingest(study.dicom, study.out, "sub-07")
    assert not (study.out / "sub-07").exists()
