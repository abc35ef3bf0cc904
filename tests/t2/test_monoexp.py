"""Tests of the mono-exponential T2 fit against analytic data and a SciPy reference."""

from __future__ import annotations

import numpy as np
import pytest

from qmri_kernels.t2 import MonoExpT2Model, cpmg_signal, monoexp_signal
from qmri_kernels.t2._reference import fit_monoexp_voxel

TE = 0.007 * np.arange(1, 9)


def test_exact_recovery_and_analytic_two_echoes():
    t2 = np.array([0.02, 0.04, 0.1, 0.5])
    y = monoexp_signal(np.array([300.0, 500, 800, 100]), t2, TE)
    fit = MonoExpT2Model(TE).fit(y)
    # Inputs are cast to float32 (the kernels' contract), so "exact" means ~1e-7.
    np.testing.assert_allclose(fit.t2, t2, rtol=1e-6)
    np.testing.assert_allclose(fit.s0, [300, 500, 800, 100], rtol=1e-6)
    # Two echoes: T2 = (t2 - t1) / ln(y1 / y2) exactly.
    te2 = np.array([0.01, 0.03])
    fit2 = MonoExpT2Model(te2, skip_echoes=0).fit(np.array([[200.0, 80.0]]))
    assert fit2.t2[0] == pytest.approx(0.02 / np.log(2.5), rel=1e-6)


def test_matches_scipy_reference_with_noise():
    rng = np.random.default_rng(5)
    t2 = rng.uniform(0.02, 0.1, 12)
    y = monoexp_signal(600.0, t2, TE) + rng.normal(0, 8, (12, 8))
    y = np.abs(y).astype(np.float32)
    fit = MonoExpT2Model(TE).fit(y)
    for i in range(12):
        ref = fit_monoexp_voxel(y[i], TE, 1)
        assert fit.t2[i] == pytest.approx(ref["t2"], rel=1e-5)
        assert fit.s0[i] == pytest.approx(ref["s0"], rel=1e-5)
        assert fit.residual[i] ** 2 * 7 == pytest.approx(ref["cost"], rel=1e-5)


def test_stimulated_echoes_bias_mono_exponential_upwards():
    y = 500 * cpmg_signal(0.035, 1.42, 0.007, 8, b1=np.array([1.0, 0.8, 0.6]))
    t2 = MonoExpT2Model(TE).fit(y).t2
    assert t2[0] == pytest.approx(0.035, rel=1e-6)
    assert 0.035 < t2[1] < t2[2]


def test_mask_noise_floor_and_flat_signal():
    y = np.stack([monoexp_signal(500.0, 0.03, TE), np.full(8, 50.0),
                  monoexp_signal(100.0, 0.01, TE)])
    mask = np.array([True, True, True])
    fit = MonoExpT2Model(TE).fit(y, mask, noise_sigma=2.0)
    assert fit.t2[0] == pytest.approx(0.03, rel=1e-6)
    assert fit.t2[1] == pytest.approx(5.0)             # no decay: at the upper bound
    assert fit.t2[2] == pytest.approx(0.01, rel=1e-4)  # fitted on the echoes above 6σ
    fit = MonoExpT2Model(TE).fit(y, np.array([True, False, True]))
    assert np.isnan(fit.t2[1]) and np.isnan(fit.s0[1])
    np.testing.assert_allclose(fit.predict()[0], y[0], rtol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(echo_times=[0.01]), "echo_times"),
    (dict(echo_times=TE[:2]), "fewer than the 2 parameters"),
    (dict(echo_times=TE[::-1]), "increasing"),
    (dict(echo_times=[0.01, np.nan, 0.03]), "echo_times"),
    (dict(skip_echoes=-1), "skip_echoes"),
])
def test_bad_model_arguments(kwargs, match):
    args = dict(echo_times=TE, skip_echoes=1) | kwargs
    with pytest.raises(ValueError, match=match):
        MonoExpT2Model(**args)


def test_bad_fit_input():
    model = MonoExpT2Model(TE)
    good = np.full((2, 8), 10.0)
    with pytest.raises(ValueError, match="magnitude"):
        model.fit(good[:, :6])
    with pytest.raises(ValueError, match="NaN"):
        model.fit(np.where(np.eye(2, 8) > 0, np.nan, good))
    with pytest.raises(ValueError, match=">= 0"):
        model.fit(-good)
    with pytest.raises(ValueError, match="mask"):
        model.fit(good, np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="magnitude"):
        model.fit(good.astype(complex))
