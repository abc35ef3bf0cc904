"""Scanner-computed maps: series written here with pydicom, each in its vendor's own headers
and scaling, must ingest to SI maps equal to the values the test put in — or, when the
headers do not give the scale, be left alone with the reason (never guessed)."""

from __future__ import annotations

import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from qmri_kernels import derivatives as D
from qmri_kernels.dicom import DicomError, DicomWarning, ingest, plan
from qmri_kernels.dicom.vendor_maps import ScalingUnknown, map_kind, map_scaling, to_si

SHAPE = (12, 10, 3)          # columns (x), rows (y), slices
STUDY = generate_uid(entropy_srcs=["vendor-maps-study"])
FRAME = generate_uid(entropy_srcs=["vendor-maps-frame"])


def _write(folder: Path, stored: np.ndarray, *, manufacturer: str, image_type: list[str],
           description: str, number: int, slope: str | None = None,
           intercept: str | None = None, private=None, rwvm=None, dtype="<u2") -> None:
    """One series, one file per slice, stored values ``stored`` (x, y, z) as given."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = generate_uid(entropy_srcs=[str(folder), str(number)])
    for k in range(stored.shape[2]):
        ds = Dataset()
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[series_uid, str(k)])
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = \
            STUDY, series_uid, FRAME
        ds.PatientName, ds.PatientID = "Test^Vendor", "VM0001"
        ds.Modality, ds.Manufacturer = "MR", manufacturer
        ds.ManufacturerModelName = "Model X"
        ds.ImageType = image_type
        ds.SeriesDescription = description
        ds.SeriesNumber, ds.InstanceNumber = number, k + 1
        ds.ScanningSequence = "GR"
        ds.EchoTime, ds.RepetitionTime = "1.5", "11.2"
        ds.MagneticFieldStrength = "3"
        ds.SliceThickness = "6"
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        ds.ImagePositionPatient = ["-50", "-40", str(9.0 * k)]
        ds.PixelSpacing = ["2", "2"]
        ds.Rows, ds.Columns = stored.shape[1], stored.shape[0]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1 if dtype == "<i2" else 0
        if slope is not None:
            ds.RescaleSlope, ds.RescaleIntercept = slope, intercept or "0"
        if rwvm is not None:
            rw_slope, rw_intercept, code = rwvm
            unit = Dataset()
            unit.CodeValue, unit.CodingSchemeDesignator, unit.CodeMeaning = code, "UCUM", code
            item = Dataset()
            item.RealWorldValueSlope, item.RealWorldValueIntercept = rw_slope, rw_intercept
            item.RealWorldValueFirstValueMapped, item.RealWorldValueLastValueMapped = 0, 4095
            item.MeasurementUnitsCodeSequence = Sequence([unit])
            item.LUTLabel = "map"
            ds.RealWorldValueMappingSequence = Sequence([item])
        if private is not None:
            group, creator, element, vr, value = private
            ds.private_block(group, creator, create=True).add_new(element, vr, value)
        ds.PixelData = np.ascontiguousarray(stored[:, :, k].T).astype(dtype).tobytes()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        ds.save_as(folder / f"IM{k + 1:03d}", enforce_file_format=True)


def _fraction(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 0.6, SHAPE)


def _ingest(src: Path, out: Path) -> list[Path]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DicomWarning)
        return ingest(src, out, "01")


def _read(out: Path, name: str) -> tuple[np.ndarray, dict]:
    data, _, side = D.read_map(out, "01", name)
    return data, side


def test_ge_ideal_iq_series_ingest_to_si_maps(tmp_path):
    ff = _fraction(1)
    stored_ff = np.rint(ff * 1000).astype(np.uint16)           # GE: percent x 10
    water = np.random.default_rng(2).uniform(100, 3000, SHAPE).round()
    r2s = np.random.default_rng(3).uniform(20, 90, SHAPE).round()
    ge = ("GE MEDICAL SYSTEMS", ["DERIVED", "PRIMARY", "IDEAL", "FAT FRACTION"])
    part = (0x0043, "GEMS_PARM_01", 0x2F, "SS", 0)
    _write(tmp_path / "dcm" / "ff", stored_ff, manufacturer=ge[0], image_type=ge[1],
           description="IDEAL IQ FF", number=503, private=part)
    _write(tmp_path / "dcm" / "w", water, manufacturer=ge[0],
           image_type=["DERIVED", "PRIMARY", "IDEAL", "WATER"], description="WATER",
           number=501, private=part)
    _write(tmp_path / "dcm" / "r2", r2s, manufacturer=ge[0],
           image_type=["DERIVED", "PRIMARY", "IDEAL", "R2STAR"], description="R2*",
           number=504, private=part)
    paths = _ingest(tmp_path / "dcm", tmp_path / "out")
    assert {p.name for p in paths} >= {"sub-01_desc-scanner_PDFFmap.nii.gz",
                                       "sub-01_desc-scannerwater_S0map.nii.gz",
                                       "sub-01_desc-scanner_R2starmap.nii.gz"}
    got, side = _read(tmp_path / "out", "scanner_pdff")
    np.testing.assert_allclose(got, stored_ff / 1000.0, atol=1e-6)
    np.testing.assert_allclose(got, ff, atol=5e-4 + 1e-6)
    assert side["Units"] == "1" and side["ScannerMap"]["Vendor"] == "GE"
    assert "Test^Vendor" not in (tmp_path / "out" / "sub-01" / "anat" /
                                 "sub-01_desc-scanner_PDFFmap.json").read_text()
    np.testing.assert_allclose(_read(tmp_path / "out", "scanner_water")[0], water)
    got_r2, side_r2 = _read(tmp_path / "out", "scanner_r2star")
    np.testing.assert_allclose(got_r2, r2s)
    assert side_r2["Units"] == "1/s"
    # the affine places voxel (0, 0, k) at the written position (LPS -> RAS)
    affine = nib.load(D.map_path(tmp_path / "out", "01", "scanner_pdff")).affine
    np.testing.assert_allclose(affine @ [0, 0, 2, 1], [50, 40, 18, 1], atol=1e-4)


def test_siemens_dixon_ff_with_rescale(tmp_path):
    ff = _fraction(4)
    stored = np.rint(ff * 1000 / 0.5).astype(np.uint16)        # rescale slope 0.5
    _write(tmp_path / "dcm", stored, manufacturer="SIEMENS",
           image_type=["DERIVED", "PRIMARY", "DIXON", "FF"], description="t1_vibe_dixon_FF",
           number=12, slope="0.5", intercept="0")
    _ingest(tmp_path / "dcm", tmp_path / "out")
    got, side = _read(tmp_path / "out", "scanner_pdff")
    np.testing.assert_allclose(got, stored * 0.5 / 1000, atol=1e-6)
    assert side["ScannerMap"]["Vendor"] == "SIEMENS"


def test_philips_mdixon_quant_ff_via_real_world_values(tmp_path):
    ff = _fraction(5)
    stored = np.rint(ff * 100 / 0.025).astype(np.uint16)       # RWV: 0.025 % per unit
    _write(tmp_path / "dcm", stored, manufacturer="Philips Medical Systems",
           image_type=["DERIVED", "PRIMARY", "PROJECTION IMAGE", "DIXON"],
           description="mDIXON-Quant", number=801, slope="3.7", intercept="0",
           private=(0x2005, "Philips MR Imaging DD 001", 0x11, "CS", "FF"),
           rwvm=(0.025, 0.0, "%"))
    _ingest(tmp_path / "dcm", tmp_path / "out")
    got, side = _read(tmp_path / "out", "scanner_pdff")
    np.testing.assert_allclose(got, stored * 0.025 / 100, atol=1e-6)
    assert "Real World Value" in side["ScannerMap"]["Scaling"]


def test_vendor_t2_map_in_ms_becomes_seconds(tmp_path):
    t2_ms = np.random.default_rng(6).uniform(25, 80, SHAPE).round(1)
    stored = np.rint(t2_ms * 10).astype(np.uint16)
    _write(tmp_path / "dcm", stored, manufacturer="SIEMENS",
           image_type=["DERIVED", "PRIMARY", "T2_MAP"], description="T2Map_SE_MapIt",
           number=20, slope="0.1", intercept="0")
    _ingest(tmp_path / "dcm", tmp_path / "out")
    got, side = _read(tmp_path / "out", "scanner_t2")
    np.testing.assert_allclose(got, t2_ms / 1000, rtol=1e-5)
    assert side["Units"] == "s"
    assert D.map_path(tmp_path / "out", "01", "scanner_t2").name == \
        "sub-01_desc-scanner_T2map.nii.gz"


def test_unknown_scaling_is_left_alone_with_the_reason(tmp_path):
    ff = np.rint(_fraction(7) * 4095).astype(np.uint16)
    _write(tmp_path / "dcm", ff, manufacturer="Philips Medical Systems",
           image_type=["DERIVED", "PRIMARY", "FF"], description="FF map", number=9,
           slope="1", intercept="0")
    planned = plan(tmp_path / "dcm")
    assert planned[0].classification.role is None
    assert planned[0].classification.scanner_map is None
    assert "unknown scaling" in planned[0].classification.reason
    assert "Real World Value" in planned[0].classification.reason
    with pytest.warns(DicomWarning, match="unknown scaling"), \
            pytest.raises(DicomError, match="no series of a known role"):
        ingest(tmp_path / "dcm", tmp_path / "out", "01")
    assert not (tmp_path / "out" / "sub-01").exists()


def test_a_map_outside_its_convention_raises_instead_of_rescaling(tmp_path):
    stored = np.full(SHAPE, 4000, np.uint16)                   # 400 % as GE percent x 10
    _write(tmp_path / "dcm", stored, manufacturer="GE MEDICAL SYSTEMS",
           image_type=["DERIVED", "PRIMARY", "IDEAL", "FF"], description="IDEAL IQ FF",
           number=503)
    with pytest.raises(ScalingUnknown, match="fraction lies in"):
        _ingest(tmp_path / "dcm", tmp_path / "out")


def test_recognition_from_headers():
    class H:                     # the attributes map_kind reads
        def __init__(self, image_type, description="", manufacturer="GE MEDICAL SYSTEMS"):
            self.image_type = tuple(image_type)
            self.series_description = description
            self.dataset = Dataset()
            self.dataset.Manufacturer = manufacturer
            self.name = "IM1"

    assert map_kind(H(["ORIGINAL", "PRIMARY", "OTHER"], "Ax IDEAL-IQ")) is None
    assert map_kind(H(["DERIVED", "PRIMARY", "OTHER"], "IDEAL IQ FAT")) == "fat"
    assert map_kind(H(["DERIVED", "PRIMARY", "OTHER"], "IDEAL IQ FF")) == "pdff"
    assert map_kind(H(["DERIVED", "PRIMARY", "OTHER"], "R2* map")) == "r2star"
    assert map_kind(H(["DERIVED", "PRIMARY", "OTHER"], "IN PHASE")) is None
    assert map_kind(H(["ORIGINAL", "PRIMARY", "OTHER"], "FF")) is None   # not derived
    assert map_kind(H(["DERIVED", "PRIMARY", "DIXON", "W"], "", "SIEMENS")) == "water"
    with pytest.raises(ScalingUnknown, match="unknown scaling"):
        map_scaling(H(["DERIVED", "PRIMARY", "FF"], "", "ACME MRI"), "pdff")
    s = map_scaling(H(["DERIVED", "PRIMARY", "FF"]), "pdff")
    assert to_si(np.array([[[0, 500, 1000]]]), s).ravel().tolist() == [0.0, 0.5, 1.0]
