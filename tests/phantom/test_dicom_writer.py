"""Tests of the GE-style DICOM writer: read-back, pixel round trip, geometry, determinism."""

from __future__ import annotations

import dataclasses

import numpy as np
import pydicom
import pytest

from qmri_kernels.phantom.dicom_writer import Identity, phase_rescale, write_series, write_study
from qmri_kernels.grids import Grid, axial_grid
from qmri_kernels.phantom.protocol import PROTOCOL

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _identity() -> Identity:
    return Identity(patient_name="Testperson^Alma", patient_id="HX99231",
                    birth_date="19610412", sex="F", age_years=61,
                    accession_number="ACC7731902", institution_name="Northvale Clinic",
                    referring_physician="Quill^Harriet", operator="Brack^Otto",
                    study_date="20220817", study_time="143015")


def _protocol(role: str, n_slices: int = 4):
    return dataclasses.replace(PROTOCOL[role], n_slices=n_slices)


def _grid(protocol, matrix=(32, 24)) -> Grid:
    return axial_grid(matrix=matrix, fov_mm=420.0, slice_thickness=protocol.slice_thickness,
                      gap=protocol.gap, n_slices=protocol.n_slices, z_centre=12.5)


def _affine_from_headers(datasets) -> np.ndarray:
    """Reference reconstruction (PS3.3 C.7.6.2.1.1), written independently of the writer."""
    first = datasets[0]
    iop = np.array(first.ImageOrientationPatient, dtype=float)
    row_cos, col_cos = iop[:3], iop[3:]
    dr, dc = (float(v) for v in first.PixelSpacing)
    normal = np.cross(row_cos, col_cos)
    ordered = sorted(datasets, key=lambda d: float(np.dot(d.ImagePositionPatient, normal)))
    ipp0 = np.array(ordered[0].ImagePositionPatient, dtype=float)
    ipp1 = np.array(ordered[-1].ImagePositionPatient, dtype=float)
    n = len({tuple(d.ImagePositionPatient) for d in datasets})
    lps = np.eye(4)
    lps[:3, 0] = row_cos * dc
    lps[:3, 1] = col_cos * dr
    lps[:3, 2] = (ipp1 - ipp0) / (n - 1)
    lps[:3, 3] = ipp0
    return LPS_TO_RAS @ lps


def _volume(datasets, n_echoes: int) -> np.ndarray:
    """(nx, ny, nz, n_echoes) physical values from files sorted by InstanceNumber."""
    ordered = sorted(datasets, key=lambda d: int(d.InstanceNumber))
    rows, cols = ordered[0].Rows, ordered[0].Columns
    nz = len(ordered) // n_echoes
    out = np.zeros((cols, rows, nz, n_echoes))
    for d in ordered:
        k, e = divmod(int(d.InstanceNumber) - 1, n_echoes)
        assert int(d.EchoNumbers) == e + 1
        out[:, :, k, e] = (d.pixel_array.astype(float) * float(d.RescaleSlope)
                           + float(d.RescaleIntercept)).T
    return out


def test_magnitude_round_trip_headers_and_geometry(tmp_path):
    protocol = _protocol("mese")
    grid = _grid(protocol)
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 1800, size=grid.shape + (protocol.n_echoes,))
    paths = write_series(tmp_path, images, grid, protocol, _identity(),
                         study_uid="1.2.3.4", uid_seed="seed-a")
    assert len(paths) == grid.shape[2] * protocol.n_echoes
    datasets = [pydicom.dcmread(p) for p in paths]
    d0 = datasets[0]
    assert d0.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert d0.SOPClassUID == pydicom.uid.MRImageStorage
    assert d0.Manufacturer == "GE MEDICAL SYSTEMS"
    assert d0.ManufacturerModelName == "DISCOVERY MR750w"
    assert float(d0.MagneticFieldStrength) == 3.0
    assert list(d0.ImageType) == ["ORIGINAL", "PRIMARY", "OTHER"]
    assert d0.PatientPosition == "FFS" and d0.BodyPartExamined == "THIGH"
    assert float(d0.RepetitionTime) == pytest.approx(protocol.repetition_time * 1e3)
    assert float(d0.SliceThickness) == protocol.slice_thickness
    assert float(d0.SpacingBetweenSlices) == protocol.slice_thickness + protocol.gap
    assert (d0.Rows, d0.Columns) == (grid.shape[1], grid.shape[0])
    assert np.allclose([float(v) for v in d0.PixelSpacing], 420.0 / np.array([24, 32]))
    echo_ms = sorted({float(d.EchoTime) for d in datasets})
    assert echo_ms == pytest.approx([t * 1e3 for t in protocol.echo_times])
    for d in datasets:
        uid = pydicom.uid.UID(d.SOPInstanceUID)
        assert uid.is_valid and d.file_meta.MediaStorageSOPInstanceUID == uid
        assert float(d.SliceLocation) == pytest.approx(float(d.ImagePositionPatient[2]))
    assert len({d.SOPInstanceUID for d in datasets}) == len(datasets)
    assert len({d.SeriesInstanceUID for d in datasets}) == 1
    assert d0[0x0043, 0x0010].value == "GEMS_PARM_01" and d0[0x0043, 0x102F].value == 0
    back = _volume(datasets, protocol.n_echoes)
    slope = float(d0.RescaleSlope)
    assert np.max(np.abs(back - images)) <= 0.5 * slope * (1 + 1e-9)
    np.testing.assert_allclose(_affine_from_headers(datasets), grid.affine, atol=1e-6)


def test_phase_round_trip_in_radians(tmp_path):
    protocol = _protocol("megre", n_slices=3)
    grid = _grid(protocol, matrix=(16, 16))
    rng = np.random.default_rng(2)
    phase = rng.uniform(-np.pi, np.pi, size=grid.shape + (protocol.n_echoes,))
    phase[0, 0, 0, 0] = np.pi  # the edge value wraps to -pi: the same angle
    paths = write_series(tmp_path, phase, grid, protocol, _identity(), study_uid="1.2.3",
                         part="phase", uid_seed="seed-b")
    datasets = [pydicom.dcmread(p) for p in paths]
    assert list(datasets[0].ImageType)[2] == "PHASE"
    assert datasets[0][0x0043, 0x102F].value == 1
    assert int(datasets[0].SeriesNumber) == protocol.series_number + 100
    slope, intercept, _, _ = phase_rescale()
    assert float(datasets[0].RescaleSlope) == slope
    back = _volume(datasets, protocol.n_echoes)
    assert back.min() >= -np.pi - 1e-9 and back.max() < np.pi
    wrapped = np.angle(np.exp(1j * (back - phase)))
    assert np.max(np.abs(wrapped)) <= 0.5 * slope * (1 + 1e-6)


def test_real_part_with_negative_values(tmp_path):
    protocol = _protocol("t2w", n_slices=2)
    grid = _grid(protocol, matrix=(8, 8))
    images = np.random.default_rng(3).normal(0, 300, size=grid.shape)
    paths = write_series(tmp_path, images, grid, protocol, _identity(), study_uid="1.2.3",
                         part="real", uid_seed="s")
    datasets = [pydicom.dcmread(p) for p in paths]
    back = _volume(datasets, 1)[..., 0]
    assert np.max(np.abs(back - images)) <= 0.5 * float(datasets[0].RescaleSlope) * 1.0001


def test_oblique_grid_geometry(tmp_path):
    protocol = _protocol("t2w", n_slices=3)
    angle = np.deg2rad(17.0)
    rot = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0],
                    [-np.sin(angle), 0, np.cos(angle)]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag([-1.5, -2.0, 18.0])
    affine[:3, 3] = [40.0, 60.0, -20.0]
    grid = Grid((10, 12, 3), affine, 8.0)
    images = np.random.default_rng(4).uniform(0, 10, size=grid.shape)
    paths = write_series(tmp_path, images, grid, protocol, _identity(), study_uid="1.2.3",
                         uid_seed="s")
    datasets = [pydicom.dcmread(p) for p in paths]
    np.testing.assert_allclose(_affine_from_headers(datasets), affine, atol=1e-6)


def test_same_inputs_write_byte_identical_files(tmp_path):
    protocol = _protocol("megre", n_slices=2)
    grid = _grid(protocol, matrix=(8, 8))
    rng = np.random.default_rng(5)
    signal = (rng.normal(size=grid.shape + (6,)) + 1j * rng.normal(size=grid.shape + (6,)))
    series = [(protocol, grid, 100 * signal)]
    a = write_study(tmp_path / "a", _identity(), series, uid_seed="cohort-7")
    b = write_study(tmp_path / "b", _identity(), series, uid_seed="cohort-7")
    c = write_study(tmp_path / "c", _identity(), series, uid_seed="cohort-8")
    assert len(a) == 2 * 2 * 6  # magnitude and phase series
    assert [p.relative_to(tmp_path / "a") for p in a] == [p.relative_to(tmp_path / "b") for p in b]
    assert all(pa.read_bytes() == pb.read_bytes() for pa, pb in zip(a, b))
    assert pydicom.dcmread(a[0]).StudyInstanceUID != pydicom.dcmread(c[0]).StudyInstanceUID


def test_write_study_series_share_study_and_frame_of_reference(tmp_path):
    identity = _identity()
    series = []
    for role in ("megre", "mese", "t2w"):
        protocol = _protocol(role, n_slices=2)
        grid = _grid(protocol, matrix=(8, 8))
        shape = grid.shape + ((protocol.n_echoes,) if protocol.n_echoes > 1 else ())
        data = np.ones(shape, dtype=np.complex64 if role == "megre" else np.float32)
        series.append((protocol, grid, data))
    paths = write_study(tmp_path, identity, series, uid_seed="x")
    datasets = [pydicom.dcmread(p, stop_before_pixels=True) for p in paths]
    assert len({d.StudyInstanceUID for d in datasets}) == 1
    assert len({d.FrameOfReferenceUID for d in datasets}) == 1
    assert sorted({int(d.SeriesNumber) for d in datasets}) == [3, 5, 7, 105]
    assert {str(d.PatientName) for d in datasets} == {identity.patient_name}
    assert {d.StudyDate for d in datasets} == {identity.study_date}
    assert len({p.parent for p in paths}) == 4


@pytest.mark.parametrize("kwargs, match", [
    (dict(part="magnitude"), "part must be one of"),
    (dict(images=np.ones((8, 8, 2, 6), complex)), "must be real"),
    (dict(images=np.ones((8, 9, 2, 6))), "does not match grid shape"),
    (dict(images=np.ones((8, 8, 2, 5))), "has 6"),
    (dict(images=np.full((8, 8, 2, 6), np.nan)), "NaN"),
    (dict(images=-np.ones((8, 8, 2, 6))), ">= 0"),
    (dict(images=np.full((8, 8, 2, 6), 4.0), part="phase"), r"\[-pi, pi\)"),
    (dict(study_uid="1.2.abc"), "not a valid DICOM UID"),
])
def test_bad_input_raises_clear_error(tmp_path, kwargs, match):
    protocol = _protocol("megre", n_slices=2)
    grid = _grid(protocol, matrix=(8, 8))
    args = dict(images=np.ones(grid.shape + (6,)), part="mag", study_uid="1.2.3")
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        write_series(tmp_path, args.pop("images"), grid, protocol, _identity(),
                     uid_seed="s", **args)


def test_sheared_grid_is_rejected(tmp_path):
    protocol = _protocol("t2w", n_slices=2)
    affine = np.diag([-2.0, -2.0, 18.0, 1.0])
    affine[0, 2] = 3.0  # slices shifted sideways: not along the normal
    with pytest.raises(ValueError, match="slice normal"):
        write_series(tmp_path, np.ones((4, 4, 2)), Grid((4, 4, 2), affine, 8.0), protocol,
                     _identity(), study_uid="1.2.3", uid_seed="s")


def test_identity_validation():
    with pytest.raises(ValueError, match="birth_date"):
        dataclasses.replace(_identity(), birth_date="1961-04-12")
    with pytest.raises(ValueError, match="sex"):
        dataclasses.replace(_identity(), sex="X")
    with pytest.raises(ValueError, match="study_time"):
        dataclasses.replace(_identity(), study_time="25:00")
