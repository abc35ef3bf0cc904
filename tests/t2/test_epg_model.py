"""Tests of the EPG water/fat T2 fit: exact recovery, SciPy reference, slice profile, errors."""

from __future__ import annotations

import numpy as np
import pytest
from _t2_bloch import bloch_slice_profile_cpmg

from qmri_kernels.t2 import EPGT2Model, cpmg_signal, cpmg_signal_slice_profile
from qmri_kernels.t2._epg_fit_kernels import interpolate
from qmri_kernels.t2._reference import fit_epg_voxel

ESP, N = 0.007, 8


def _noisy(y, sigma, rng):
    """Rician magnitudes of ``y`` with complex Gaussian noise of SD ``sigma``."""
    noise = rng.normal(0, sigma, y.shape + (2,))
    return np.abs(y + noise[..., 0] + 1j * noise[..., 1]).astype(np.float32)


def test_exact_recovery_without_noise():
    model = EPGT2Model(ESP, N)
    rng = np.random.default_rng(0)
    # Water T2 well away from the fat T2 (133 ms): where they meet, water and fat have
    # the same echo train and the free fat fraction is not identifiable.
    t2 = rng.uniform(0.02, 0.09, 40)
    b1 = rng.uniform(0.6, 1.0, 40)
    ff = rng.uniform(0.0, 0.5, 40)
    y = model.signal(t2, b1, ff, 700.0).astype(np.float32)
    for fixed in (None, ff):
        fit = model.fit(y, fat_fraction=fixed)
        np.testing.assert_allclose(fit.water_t2, t2, rtol=2e-4)
        np.testing.assert_allclose(fit.b1, b1, atol=2e-4)
        np.testing.assert_allclose(fit.fat_fraction, ff, atol=2e-4)
        np.testing.assert_allclose(fit.s0, 700.0, rtol=2e-4)
    fit = model.fit(y, fat_fraction=ff, b1=b1)
    np.testing.assert_allclose(fit.water_t2, t2, rtol=2e-4)
    np.testing.assert_allclose(fit.b1, np.clip(b1, *model.b1_range), rtol=1e-12)


def test_hard_pulse_model_recovers_hard_pulse_data():
    model = EPGT2Model(ESP, N, slice_profile=False, fat_t2=0.15)
    t2 = np.array([0.03, 0.05, 0.08])
    b1 = np.array([0.7, 0.85, 0.95])
    y = 500 * (0.9 * cpmg_signal(t2, 1.42, ESP, N, b1) + 0.1 * cpmg_signal(0.15, 0.371, ESP,
                                                                            N, b1))
    fit = model.fit(y.astype(np.float32))
    np.testing.assert_allclose(fit.water_t2, t2, rtol=2e-4)
    np.testing.assert_allclose(fit.fat_fraction, 0.1, atol=2e-4)


def test_dictionary_interpolation_matches_direct_epg():
    model = EPGT2Model(ESP, N)
    water, fat, *_ = model._tables()
    g = model._grid
    rng = np.random.default_rng(1)
    bufs = [np.empty(N) for _ in range(5)] + [np.empty(4) for _ in range(4)]
    for _ in range(20):
        t2, b1 = np.exp(rng.uniform(np.log(0.012), np.log(0.2))), rng.uniform(0.45, 1.25)
        x = (np.log(t2) - g.log_t2_0) / g.log_t2_step
        y = (b1 - g.b1_0) / g.b1_step
        interpolate(water, fat, x, y, N, *bufs)
        direct_w = cpmg_signal_slice_profile(t2, model.water_t1, ESP, N, b1)
        direct_f = cpmg_signal_slice_profile(model.fat_t2, model.fat_t1, ESP, N, b1)
        np.testing.assert_allclose(bufs[0], direct_w, atol=2e-5)
        np.testing.assert_allclose(bufs[3], direct_f, atol=2e-5)
        # derivatives against finite differences of the direct EPG (d/dx, x in grid units)
        h = 1e-4
        d_direct = (cpmg_signal_slice_profile(np.exp(np.log(t2) + h * g.log_t2_step),
                                              model.water_t1, ESP, N, b1)
                    - cpmg_signal_slice_profile(np.exp(np.log(t2) - h * g.log_t2_step),
                                                model.water_t1, ESP, N, b1)) / (2 * h)
        np.testing.assert_allclose(bufs[1], d_direct, atol=2e-4)


@pytest.mark.parametrize("fixed", [True, False])
def test_kernel_matches_scipy_reference(fixed):
    model = EPGT2Model(ESP, N)
    rng = np.random.default_rng(7)
    v = 6
    t2 = rng.uniform(0.03, 0.07, v)
    b1 = rng.uniform(0.7, 0.95, v)
    ff = rng.uniform(0.0, 0.2, v)
    y = _noisy(model.signal(t2, b1, ff, 600.0), 6.0, rng)
    fit = model.fit(y, fat_fraction=ff if fixed else None)
    cost_kernel = fit.residual ** 2 * N
    for i in range(v):
        ref = fit_epg_voxel(model, y[i], ff[i] if fixed else None,
                            starts_t2=(0.035, 0.07), starts_b1=(0.75, 0.95))
        # The kernel finds a minimum at least as deep (the dictionary interpolation error
        # is ~1e-5 of the signal), and it is the same minimum.
        assert cost_kernel[i] <= ref["cost"] * (1 + 1e-4) + 1e-6
        assert abs(fit.water_t2[i] - ref["water_t2"]) < 1e-4 + 0.02 * ref["water_t2"]


def test_noisy_recovery_within_tolerance():
    model = EPGT2Model(ESP, N)
    rng = np.random.default_rng(11)
    t2 = rng.uniform(0.03, 0.05, 400)
    b1 = rng.uniform(0.75, 1.0, 400)
    ff = rng.uniform(0.0, 0.1, 400)
    y = _noisy(model.signal(t2, b1, ff, 800.0), 4.0, rng)
    fit = model.fit(y, fat_fraction=ff)
    err = np.abs(fit.water_t2 - t2)
    assert np.median(err) < 1.5e-3
    assert abs(np.median(fit.water_t2 - t2)) < 3e-4      # unbiased


def test_slice_profile_default_removes_bias_of_hard_pulse_fit():
    """Data from a brute-force Bloch simulation over the slice (no EPG code involved)."""
    t2 = np.repeat([0.03, 0.045, 0.06], 2)
    b1 = np.tile([0.8, 1.0], 3)
    y = (1000 * bloch_slice_profile_cpmg(t2, 1.42, ESP, N, b1)).astype(np.float32)
    hard = EPGT2Model(ESP, N, slice_profile=False).fit(y, fat_fraction=0.0)
    default = EPGT2Model(ESP, N).fit(y, fat_fraction=0.0)
    bias_hard = np.abs(hard.water_t2 - t2).mean()
    bias_default = np.abs(default.water_t2 - t2).mean()
    assert bias_hard > 1e-3           # > 1 ms: so the default models the slice profile
    assert bias_default < 1e-4


def test_noise_floor_drops_late_echoes():
    model = EPGT2Model(ESP, N)
    y = model.signal(np.array([0.02, 0.05]), 0.9, 0.0, 60.0).astype(np.float32)
    fit = model.fit(y, fat_fraction=0.0, noise_sigma=4.0)
    assert fit.n_echoes_used[0] < N and fit.n_echoes_used[1] == N
    assert fit.n_echoes_used.min() >= 3
    np.testing.assert_allclose(fit.water_t2, [0.02, 0.05], rtol=1e-3)


def test_mask_and_outputs():
    model = EPGT2Model(ESP, N)
    y = np.broadcast_to(model.signal(0.04, 0.9, 0.05, 300.0), (4, 3, N)).astype(np.float32)
    mask = np.zeros((4, 3), bool)
    mask[1:3, 1] = True
    fit = model.fit(y, mask)
    assert fit.water_t2.shape == (4, 3) and fit.params.shape == (4, 3, 4)
    assert np.isnan(fit.water_t2[~mask]).all() and np.isfinite(fit.water_t2[mask]).all()
    assert not fit.params.flags.writeable
    pred = fit.predict()
    np.testing.assert_allclose(pred[mask], y[mask], rtol=1e-4)


def test_from_echo_times_and_errors():
    te = ESP * np.arange(1, N + 1)
    assert EPGT2Model.from_echo_times(te).echo_spacing == pytest.approx(ESP)
    with pytest.raises(ValueError, match="echo_times"):
        EPGT2Model.from_echo_times([0.007, 0.014, 0.022, 0.028])
    with pytest.raises(ValueError, match="echo_times"):
        EPGT2Model.from_echo_times([0.010, 0.017, 0.024, 0.031])   # first echo ≠ ΔTE
    with pytest.raises(ValueError, match="echo_spacing"):
        EPGT2Model(te, N)
    with pytest.raises(ValueError, match="n_echoes"):
        EPGT2Model(ESP, 0)
    with pytest.raises(ValueError, match="slice_profile"):
        EPGT2Model(ESP, N, slice_profile={"bandwidth": 2})
    with pytest.raises(ValueError, match="t2_range"):
        EPGT2Model(ESP, N, t2_range=(0.1, 0.05))


@pytest.mark.parametrize("case, name", [
    ("few_echoes", "fewer than"),
    ("echo_count", "echoes"),
    ("nan", "NaN"),
    ("negative", ">= 0"),
    ("mask_shape", "mask"),
    ("ff_range", "fat_fraction"),
    ("ff_shape", "fat_fraction"),
    ("b1", "b1"),
    ("sigma", "noise_sigma"),
])
def test_bad_input(case, name):
    model = EPGT2Model(ESP, N)
    y = np.full((3, N), 100.0, np.float32)
    kwargs = {}
    if case == "few_echoes":
        model, y = EPGT2Model(ESP, 3), y[:, :3]
    elif case == "echo_count":
        y = y[:, :5]
    elif case == "nan":
        y[1, 2] = np.nan
    elif case == "negative":
        y[0, 0] = -1.0
    elif case == "mask_shape":
        kwargs["mask"] = np.ones(4, bool)
    elif case == "ff_range":
        kwargs["fat_fraction"] = 5.0
    elif case == "ff_shape":
        kwargs["fat_fraction"] = np.zeros(5)
    elif case == "b1":
        kwargs["b1"] = -1.0
    elif case == "sigma":
        kwargs["noise_sigma"] = np.ones(7)
    with pytest.raises(ValueError, match=name):
        model.fit(y, **kwargs)
