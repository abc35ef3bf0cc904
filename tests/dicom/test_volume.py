"""Voxel arrays, rescale, phase conventions and the LPS → RAS affine."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from qmri_kernels.dicom import DicomError, assemble, group_series, read_headers, sort_series
from qmri_kernels.dicom.discover import discover
from qmri_kernels.dicom.volume import LPS_TO_RAS, affine_ras, phase_convention
from qmri_kernels.phantom.dicom_writer import write_series
from qmri_kernels.grids import Grid
from qmri_kernels.phantom.protocol import PROTOCOL

from ._study import IDENTITY


def _sorted(folder):
    headers = read_headers(discover(folder), folder)
    return [sort_series(s) for s in group_series(headers)]


def test_oblique_affine_matches_the_grid(tmp_path):
    """An oblique, double-angulated stack whose slices run *against* the normal."""
    a, b = np.deg2rad(20.0), np.deg2rad(-12.0)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    affine = np.eye(4)
    affine[:3, :3] = rx @ ry @ np.diag([-1.8, -2.2, -7.5])
    affine[:3, 3] = [12.0, -30.0, 55.0]
    grid = Grid((12, 10, 5), affine, 6.0)
    protocol = dataclasses.replace(PROTOCOL["t2w"], n_slices=5)
    images = np.random.default_rng(0).uniform(0, 100, grid.shape)
    write_series(tmp_path / "s", images, grid, protocol, IDENTITY, study_uid="1.2.3",
                 uid_seed="x")
    (sorted_series,) = _sorted(tmp_path / "s")
    vol = assemble(sorted_series)
    # slices are sorted along the normal, which runs opposite to the grid's k axis here
    flipped = affine.copy()
    flipped[:3, 2] = -affine[:3, 2]
    flipped[:3, 3] = affine[:3, 3] + 4 * affine[:3, 2]
    np.testing.assert_allclose(vol.affine, flipped, atol=1e-6)
    np.testing.assert_allclose(vol.data[..., 0] * vol.slope + vol.inter, images[:, :, ::-1],
                               atol=0.51 * vol.slope)


def test_lps_to_ras_flips_x_and_y():
    point = np.array([10.0, 20.0, 30.0, 1.0])
    assert list(LPS_TO_RAS @ point) == [-10.0, -20.0, 30.0, 1.0]


class _Hdr:
    def __init__(self, **values):
        import pydicom
        self.dataset = pydicom.Dataset()
        for k, v in values.items():
            setattr(self.dataset, k, v)
        self.name = "IMG"


@pytest.mark.parametrize("low, high, header, factor", [
    (-3.1, 3.1, {}, 1.0),  # already radians
    (-100.0, 2000.0, {"RescaleType": "rad"}, 1.0),
    (-3142.0, 3141.0, {"Manufacturer": "GE MEDICAL SYSTEMS"}, 1e-3),
    (-4096.0, 4094.0, {"Manufacturer": "SIEMENS"}, np.pi / 4096),
    (-3000.0, 3000.0, {"Manufacturer": "SIEMENS"}, np.pi / 4096),
    (-4096.0, 4094.0, {}, np.pi / 4096),
])
def test_phase_conventions(low, high, header, factor):
    f, name = phase_convention(low, high, _Hdr(**header))
    assert f == pytest.approx(factor) and name


def test_unknown_phase_range_raises():
    with pytest.raises(DicomError, match="IMG: phase values span"):
        phase_convention(-20000.0, 20000.0, _Hdr())


def test_per_image_rescale_gives_float_volume(study):
    import pydicom

    files = study.series_files(7)
    ds = pydicom.dcmread(files[0])
    ds.RescaleSlope = float(ds.RescaleSlope) * 2
    ds.save_as(files[0], enforce_file_format=True)
    mese = next(s for s in _sorted(study.dicom) if s.series.number == 7)
    vol = assemble(mese)
    assert vol.data.dtype == np.float32 and (vol.slope, vol.inter) == (1.0, 0.0)
    np.testing.assert_allclose(vol.data[..., 1:, :], study.images["mese"][..., 1:, :],
                               atol=0.02, rtol=1e-6)
    np.testing.assert_allclose(vol.data[..., 0, 0], 2 * study.images["mese"][..., 0, 0],
                               atol=0.05, rtol=1e-6)


def test_affine_of_a_single_slice_uses_the_stated_spacing(study):
    for f in study.series_files(3)[1:]:
        f.unlink()
    t2w = next(s for s in _sorted(study.dicom) if s.series.number == 3)
    aff = affine_ras(t2w)
    assert aff[2, 2] == pytest.approx(18.0)
    np.testing.assert_allclose(aff[:3, :2], study.grids["t2w"].affine[:3, :2])
