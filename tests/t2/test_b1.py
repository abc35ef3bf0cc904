"""Tests of the B1 smoothing and of the two-pass EPG fit."""

from __future__ import annotations

import numpy as np
import pytest

from qmri_kernels.t2 import EPGT2Model, fit_with_smooth_b1, smooth_b1


def _smooth_field(shape):
    x, y = np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]),
                       indexing="ij")
    return (0.85 + 0.1 * np.sin(1.3 * x + 0.4) * np.cos(0.9 * y))[..., None]


def test_smooth_b1_recovers_smooth_field_with_outliers():
    rng = np.random.default_rng(0)
    truth = _smooth_field((48, 40))
    noisy = truth + rng.normal(0, 0.05, truth.shape)
    noisy[5, 5, 0] = 1.3          # an outlier (a fit stuck at the bound)
    noisy[10, 30, 0] = np.nan     # a failed voxel
    mask = np.ones(truth.shape, bool)
    out = smooth_b1(noisy, mask, (2.0, 2.0, 13.0), fwhm_mm=16.0)
    inner = (slice(8, -8), slice(8, -8), 0)
    assert np.abs(out - truth)[inner].max() < 0.015
    assert np.abs(out - truth)[inner].mean() < 0.3 * np.nanmean(np.abs(noisy - truth)[inner])
    assert np.isfinite(out[10, 30, 0])


def test_smooth_b1_errors():
    b1 = np.ones((4, 4, 1))
    with pytest.raises(ValueError, match="mask"):
        smooth_b1(b1, np.ones((4, 4), bool), (1, 1, 1))
    with pytest.raises(ValueError, match="voxel_size"):
        smooth_b1(b1, np.ones_like(b1, bool), (1, 1))
    with pytest.raises(ValueError, match="fwhm_mm"):
        smooth_b1(b1, np.ones_like(b1, bool), (1, 1, 1), fwhm_mm=-2)


def test_two_pass_fit_improves_water_t2_precision():
    rng = np.random.default_rng(1)
    model = EPGT2Model(0.007, 8)
    b1 = _smooth_field((40, 40))
    t2 = np.full(b1.shape, 0.04)
    y = model.signal(t2, b1, 0.03, 600.0)
    noise = rng.normal(0, 8.0, y.shape + (2,))
    y = np.abs(y + noise[..., 0] + 1j * noise[..., 1]).astype(np.float32)
    mask = np.ones(b1.shape, bool)
    final, first = fit_with_smooth_b1(model, y, mask, (2.0, 2.0, 13.0), 0.03)
    err_first = np.abs(first.water_t2 - t2)
    err_final = np.abs(final.water_t2 - t2)
    assert np.median(err_final) < 0.8 * np.median(err_first)
    assert np.abs(final.b1 - b1)[8:-8, 8:-8].max() < 0.03
