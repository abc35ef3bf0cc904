"""Tests of world-coordinate resampling and of the one-subject T2 mapping on the phantom."""

from __future__ import annotations

import numpy as np
import pytest

from qmri_kernels.phantom import make_subject
from qmri_kernels.grids import axial_grid
from qmri_kernels.t2 import map_water_t2, resample_to_grid
from qmri_kernels.phantom.scanner_physics import DEFAULT_SCANNER
from qmri_kernels.t2 import EPGT2Model


def test_resample_identity_and_shift():
    rng = np.random.default_rng(0)
    vol = rng.normal(size=(6, 5, 4))
    aff = np.diag([2.0, 2.0, 5.0, 1.0])
    np.testing.assert_allclose(resample_to_grid(vol, aff, vol.shape, aff), vol)
    shifted = aff.copy()
    shifted[2, 3] = 2.5                   # half a slice up
    out = resample_to_grid(vol, aff, vol.shape, shifted)
    np.testing.assert_allclose(out[:, :, :3], 0.5 * (vol[:, :, :3] + vol[:, :, 1:]))
    assert np.isnan(out[:, :, 3]).all()  # beyond the source volume
    with pytest.raises(ValueError, match="order"):
        resample_to_grid(vol, aff, vol.shape, aff, order=3)


def test_map_water_t2_on_phantom_slab():
    subject = make_subject(4)
    grid = axial_grid(matrix=(96, 96), fov_mm=420.0, slice_thickness=6.0, gap=7.0,
                      n_slices=2, z_centre=0.0)
    truth = subject.truth(grid)
    mag = subject.simulate_mese(grid, 0.007, 8, 1.046, rng=1, truth=truth)
    share = subject.fat_share_mese(grid, 1.046, truth)
    muscle = truth["labels"] > 10
    # the fit told the simulated scanner's pulses (its default assumes others; the
    # robustness tests measure what that costs)
    told = EPGT2Model.from_echo_times(0.007 * np.arange(1, 9), fat_t2=subject.fat_t2,
                                      slice_profile=DEFAULT_SCANNER.epg_slice_profile())
    maps = map_water_t2(mag, 0.007 * np.arange(1, 9), truth["labels"] > 0, grid.zooms,
                        fat_share=share, b1_mask=muscle, model=told)
    err = np.abs(maps.epg.water_t2 - truth["water_t2"])[muscle]
    mono_err = np.abs(maps.monoexp.t2 - truth["water_t2"])[muscle]
    assert np.median(err) < 1.5e-3
    assert np.median(mono_err) > 5 * np.median(err)
    assert maps.noise_sigma == pytest.approx(8.0, rel=0.1)
