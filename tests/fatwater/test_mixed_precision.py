"""The float32-screened grid search returns the float64 search's candidates bit for bit."""

import numpy as np
import pytest
from numba import njit

from qmri_kernels.fatwater import FatWaterModel, signal
from qmri_kernels.fatwater import _kernels as K
from qmri_kernels.fatwater._plan import make_plan
from qmri_kernels.physics import DEFAULT_FAT_SPECTRUM

UNIFORM = 1.2e-3 + 1.5e-3 * np.arange(6)
NON_UNIFORM = np.array([1.1, 2.4, 3.9, 5.1, 6.8, 8.0]) * 1e-3


def _signals(te, seed, n=3000):
    """Tissue-like voxels plus the awkward ones: noise-free with ψ on and between grid
    points (ties between neighbours), zero, NaN, tiny and huge energy, pure noise."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0, 1, n)
    f = 1 - w
    r2 = rng.uniform(0, 300, n)
    psi = rng.uniform(-300, 300, n)
    s = signal(w * np.exp(1j * rng.uniform(0, 6.3, n)), f * np.exp(1j * rng.uniform(0, 6.3, n)),
               r2, psi, te)
    sigma = rng.choice([0.0, 1e-3, 0.02, 0.2], n)[:, None]
    s = s + sigma * (rng.normal(size=s.shape) + 1j * rng.normal(size=s.shape))
    s = s * rng.choice([1.0, 1e3, 1e-2], n)[:, None]
    model = FatWaterModel(te)
    grid = model._plan.psi_grid
    step = grid[1] - grid[0]
    exact = signal(np.ones(20), np.zeros(20), 0.0,
                   np.r_[grid[:10], grid[:10] + step / 2], te)     # on / between points
    special = np.zeros((6, te.size), complex)
    special[1] = np.nan
    special[2] = 1e-20 * (1 + 1j)
    special[3] = 1e17 * (1 - 1j)
    special[4] = rng.normal(size=te.size) + 1j * rng.normal(size=te.size)
    special[5] = 3.0                                                # constant, no phase
    return np.ascontiguousarray(np.concatenate([s, exact, special]), dtype=np.complex64)


def _both(sig, plan):
    args = (sig, plan.phasors_re, plan.phasors_im, plan.psi_grid, plan.periodic,
            plan.decay, plan.gram, plan.c, 4)
    return K.candidates_kernel(*args), K.candidates_mixed_kernel(*args)


# within the harmonic form's tolerance of uniform spacing (departure ≈ 2e-8): screened with
# the harmonic form plus the departure's share of the error bound
NEARLY_UNIFORM = UNIFORM + np.array([0.0, 1e-12, -1e-12, 0.0, 2e-12, 0.0])


@pytest.mark.parametrize("te", [UNIFORM, NON_UNIFORM, NEARLY_UNIFORM],
                         ids=["uniform", "non-uniform", "nearly-uniform"])
@pytest.mark.parametrize("r2_grid", [(0.0, 50.0, 150.0, 400.0), (0.0, 100.0), (80.0,)])
def test_mixed_precision_candidates_equal_float64(te, r2_grid):
    plan = make_plan(te, 3.0, DEFAULT_FAT_SPECTRUM, r2_grid=r2_grid)
    sig = _signals(te, seed=len(r2_grid) + int(te[1] * 1e4))
    ref, got = _both(sig, plan)
    names = ("psi", "cost", "r2_index", "n", "energy")
    for name, a, b in zip(names, ref, got):
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(b, a, err_msg=name)
    # the special voxels take the special paths: constant curve (zero signal), non-finite,
    # and energies outside float32's safe range, evaluated in float64 throughout
    n_cand, energy = ref[3][-6:], ref[4][-6:]
    assert n_cand[0] == 1 and n_cand[1] == 0
    assert energy[2] < 1e-30 and energy[3] > 1e30 and n_cand[2] >= 1 and n_cand[3] >= 1


def test_mixed_precision_on_a_fitted_volume_matches_float64_fit():
    te = UNIFORM
    rng = np.random.default_rng(5)
    shape = (24, 20, 2)
    w = rng.uniform(0, 1, shape)
    psi = 40 * np.sin(np.linspace(0, 3, shape[0]))[:, None, None] + np.zeros(shape)
    s = signal(w, 1 - w, 60.0, psi, te)
    s = s + 0.02 * (rng.normal(size=s.shape) + 1j * rng.normal(size=s.shape))
    sig = np.ascontiguousarray(s.reshape(-1, te.size), dtype=np.complex64)
    ref, got = _both(sig, FatWaterModel(te)._plan)
    for a, b in zip(ref, got):
        np.testing.assert_array_equal(b, a)


@pytest.mark.parametrize("n_echo", [3, 4, 8, 12, 16])
def test_mixed_precision_equal_float64_for_other_echo_counts(n_echo):
    te = 1.0e-3 + 1.1e-3 * np.arange(n_echo)
    plan = make_plan(te, 3.0, DEFAULT_FAT_SPECTRUM)
    ref, got = _both(_signals(te, seed=n_echo, n=1500), plan)
    for a, b in zip(ref, got):
        np.testing.assert_array_equal(b, a)


def test_harmonic_tables_measure_the_departure_from_uniform_spacing():
    def departure(te):
        plan = make_plan(te, 3.0, DEFAULT_FAT_SPECTRUM)
        return K._harmonic_tables(plan.phasors_re, plan.phasors_im, 72)[2]

    assert departure(UNIFORM) < 1e-13
    assert 1e-9 < departure(NEARLY_UNIFORM) < K._HARMONIC_MAX_DEVIATION
    assert departure(NON_UNIFORM) > 0.1
    plan = make_plan(UNIFORM, 3.0, DEFAULT_FAT_SPECTRUM)
    hre, him, _ = K._harmonic_tables(plan.phasors_re, plan.phasors_im, 72)
    theta = 2 * np.pi * plan.psi_grid * 1.5e-3
    m = np.arange(1, 6)[:, None]
    np.testing.assert_allclose(hre[:, :theta.size], np.cos(m * theta), atol=1e-6)
    np.testing.assert_allclose(him[:, :theta.size], np.sin(m * theta), atol=1e-6)
    assert not hre[:, theta.size:].any() and not him[:, theta.size:].any()


@njit
def _screened_curves(sig, plan_re, plan_im, wt1, wt2, harmonic):
    n_vox, n_echo = sig.shape
    n_grid = plan_re.shape[1]
    n_pad = (n_grid + 7) // 8 * 8
    hre, him, _ = K._harmonic_tables(plan_re, plan_im, n_pad)
    phrf = np.zeros((n_echo, n_pad), dtype=np.float32)
    phif = np.zeros((n_echo, n_pad), dtype=np.float32)
    phrf[:, :n_grid] = plan_re
    phif[:, :n_grid] = plan_im
    wt1f = wt1.astype(np.float32)
    wt2f = wt2.astype(np.complex64)
    curve = np.empty(n_pad, dtype=np.float32)
    second = np.empty(n_pad, dtype=np.float32)
    ridx = np.empty(n_pad, dtype=np.float32)
    out = np.empty((n_vox, n_grid))
    out_r = np.empty((n_vox, n_grid))
    for v in range(n_vox):
        e = 0.0
        for k in range(n_echo):
            e += abs(sig[v, k]) ** 2
        K._screen_start(curve, second, ridx)
        if harmonic:
            K._screen_harmonic(sig, v, np.float32(e), wt1f, wt2f, hre, him,
                               np.empty(n_echo, np.complex64), np.empty(n_echo, np.complex64),
                               np.empty(2 * n_echo, np.float32),
                               np.empty(n_pad, np.float32), curve, second, ridx)
        else:
            K._screen_direct(sig, v, np.float32(e), wt1f, wt2f, phrf, phif,
                             np.empty((4, n_pad), np.float32), curve, second, ridx)
        out[v] = curve[:n_grid]
        out_r[v] = second[:n_grid]
    return out, out_r


@pytest.mark.parametrize("n_echo", [3, 6, 16])
@pytest.mark.parametrize("harmonic", [True, False], ids=["harmonic", "direct"])
def test_float32_screen_curves_within_their_error_bound(n_echo, harmonic):
    """Both float32 forms give the float64 cost curve (lowest and second lowest over R2*)
    to within their documented bound δ; observed errors are a few ε₃₂·||s||²."""
    te = 1.2e-3 + 1.3e-3 * np.arange(n_echo)
    plan = make_plan(te, 3.0, DEFAULT_FAT_SPECTRUM)
    sig = _signals(te, seed=11 * n_echo, n=2000)[:2000]            # ordinary voxels only
    wt1, wt2 = K._orthonormal_weights(plan.decay, plan.gram, plan.c)
    low, second = _screened_curves(sig, plan.phasors_re, plan.phasors_im, wt1, wt2, harmonic)
    s = sig.astype(np.complex128)
    p = plan.phasors_re + 1j * plan.phasors_im
    e = (np.abs(s) ** 2).sum(axis=1)
    costs = np.stack([e[:, None] - np.abs((s * wt1[r]) @ p) ** 2 - np.abs((s * wt2[r]) @ p) ** 2
                      for r in range(wt1.shape[0])])
    costs.sort(axis=0)
    eps = np.finfo(np.float32).eps
    bound = K.screen_error_bound(n_echo, harmonic, 0.0)
    for got, want in ((low, costs[0]), (second, costs[1])):
        err = (np.abs(got - want) / e[:, None]).max()
        assert err < 10 * eps < bound, (err / eps, bound / eps)
