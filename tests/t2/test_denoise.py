"""Tests of Marchenko-Pastur PCA denoising and noise estimation."""

from __future__ import annotations

import numpy as np
import pytest

from qmri_kernels.t2 import EPGT2Model, mp_noise_sigma, mppca_denoise


def _volume(rng, sigma=8.0):
    model = EPGT2Model(0.007, 8)
    x = np.linspace(0, 1, 48)
    t2 = 0.03 + 0.03 * x[:, None, None] + 0.0 * x[None, :, None]
    b1 = 0.75 + 0.2 * x[None, :, None] + 0.0 * x[:, None, None]
    clean = model.signal(t2 + 0 * b1, b1 + 0 * t2, 0.02, 700.0)
    noise = rng.normal(0, sigma, clean.shape + (2,))
    return clean, np.abs(clean + noise[..., 0] + 1j * noise[..., 1]).astype(np.float32)


def test_noise_sigma_estimate():
    clean, noisy = _volume(np.random.default_rng(0))
    assert mp_noise_sigma(noisy) == pytest.approx(8.0, rel=0.06)


def test_denoising_reduces_error_and_keeps_signal():
    clean, noisy = _volume(np.random.default_rng(1))
    den, sigma = mppca_denoise(noisy)
    assert sigma == pytest.approx(8.0, rel=0.06)
    err_noisy = np.sqrt(np.mean((noisy - clean) ** 2))
    err_den = np.sqrt(np.mean((den - clean) ** 2))
    assert err_den < 0.5 * err_noisy
    assert abs(np.mean(den - clean)) < 0.5            # no bias
    # A noise-free volume comes back unchanged (all signal components kept).
    same, _ = mppca_denoise(clean.astype(np.float32), noise_sigma=1e-3)
    np.testing.assert_allclose(same, clean, rtol=1e-4, atol=1e-3)


def test_mask_and_bad_input():
    _, noisy = _volume(np.random.default_rng(2))
    mask = np.zeros(noisy.shape[:-1], bool)
    mask[10:20, 10:20] = True
    den, _ = mppca_denoise(noisy, mask, noise_sigma=8.0)
    np.testing.assert_array_equal(den[~mask], noisy[~mask])
    with pytest.raises(ValueError, match="patch"):
        mppca_denoise(noisy, patch=(3, 3, 1))
    with pytest.raises(ValueError, match="patch"):
        mppca_denoise(noisy, patch=(5, 5))
    with pytest.raises(ValueError, match="magnitude"):
        mppca_denoise(noisy[..., 0, 0])
    with pytest.raises(ValueError, match="mask"):
        mppca_denoise(noisy, mask[..., :1, 0])
