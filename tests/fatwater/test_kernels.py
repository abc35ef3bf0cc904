"""Numba kernels against the slow NumPy/SciPy references, voxel by voxel."""

import numpy as np
import pytest

from qmri_kernels.fatwater import signal
from qmri_kernels.fatwater import _kernels as K
from qmri_kernels.fatwater._fieldmap import find_candidates
from qmri_kernels.fatwater._plan import make_plan
from qmri_kernels.fatwater._reference import (candidates_reference, refine_reference,
                                              start_reference, varpro_cost_reference)
from qmri_kernels.physics import DEFAULT_FAT_SPECTRUM

TE = 1.5e-3 * np.arange(1, 7)
TE_UNEVEN = np.array([1.2, 2.9, 4.1, 6.0, 7.7, 9.1]) * 1e-3      # no period, no recurrence


def random_voxels(n, rng, noise=0.02, te=TE):
    """Random complex W, F, R2* in [0, 300] 1/s, ψ in ±300 Hz, plus complex noise."""
    rng = np.random.default_rng(rng)
    ff = rng.uniform(0, 1, n)
    amp = rng.uniform(0.2, 1.5, n) * np.exp(1j * rng.uniform(-np.pi, np.pi, n))
    r2 = rng.uniform(0, 300, n)
    psi = rng.uniform(-300, 300, n)
    s = signal(amp * (1 - ff), amp * ff, r2, psi, te)
    s = s + noise * (rng.standard_normal(s.shape) + 1j * rng.standard_normal(s.shape))
    return np.ascontiguousarray(s, dtype=np.complex64), ff, r2, psi


@pytest.mark.parametrize("te", [TE, TE_UNEVEN], ids=["uniform", "uneven"])
def test_candidates_match_reference_including_zero_and_nan_voxels(te):
    plan = make_plan(te, 3.0, DEFAULT_FAT_SPECTRUM)
    sig, *_ = random_voxels(25, 1, te=te)
    sig = np.concatenate([sig, np.zeros((1, 6), np.complex64),
                          np.full((1, 6), np.nan, np.complex64)])
    c = find_candidates(sig, plan, n_keep=4)
    for v in range(25 + 1):
        psis, costs, ridx = candidates_reference(sig[v], plan, n_keep=4)
        n = c.n[v]
        assert n == len(psis), v
        np.testing.assert_allclose(c.psi[v, :n], psis, rtol=0, atol=1e-6)
        scale = np.sum(np.abs(sig[v]) ** 2) + 1e-30
        np.testing.assert_allclose(c.cost[v, :n], costs, rtol=0, atol=1e-9 * scale)
        np.testing.assert_array_equal(c.r2_index[v, :n], ridx)
        np.testing.assert_allclose(c.energy[v], np.sum(np.abs(sig[v].astype(complex)) ** 2),
                                   rtol=1e-12)
    assert c.n[-1] == 0 and not np.isfinite(c.energy[-1])       # NaN voxel: no candidate
    assert c.n[-2] == 1                                        # zero voxel: one flat minimum


def test_cost_kernel_matches_reference():
    plan = make_plan(TE, 3.0, DEFAULT_FAT_SPECTRUM)
    sig, _, _, psi = random_voxels(20, 2)
    trial = psi + np.random.default_rng(3).uniform(-80, 80, psi.size)
    fast = K.cost_at_kernel(sig, trial, plan.te, plan.c, plan.decay, plan.gram)
    slow = [varpro_cost_reference(sig[v].astype(complex), trial[v], plan)[0] for v in range(20)]
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("noise", [0.0, 0.03])
@pytest.mark.parametrize("te", [TE, TE_UNEVEN], ids=["uniform", "uneven"])
def test_refinement_matches_scipy_least_squares(noise, te):
    plan = make_plan(te, 3.0, DEFAULT_FAT_SPECTRUM)
    sig, ff, r2, psi = random_voxels(20, 4, noise=noise, te=te)
    rng = np.random.default_rng(5)
    start = psi + rng.uniform(-15, 15, psi.size)              # in the right basin
    fast = K.refine_kernel(sig, start, plan.te, plan.c, plan.decay, plan.gram, plan.r2_grid,
                           90.0, 0.0, 1000.0, 50, 1e-14)
    for v in range(20):
        slow = refine_reference(sig[v], start[v], plan, 90.0, (0.0, 1000.0))
        amp = float(np.abs(sig[v, 0]))
        np.testing.assert_allclose(fast[v, :4], slow[:4], atol=2e-4 * amp)
        assert fast[v, 4] == pytest.approx(slow[4], abs=0.05)          # R2*, 1/s
        assert fast[v, 5] == pytest.approx(slow[5], abs=0.01)          # ψ, Hz
        assert fast[v, 6] == pytest.approx(slow[6], rel=1e-3, abs=1e-7 * amp)
        if noise == 0.0:
            assert fast[v, 5] == pytest.approx(psi[v], abs=1e-3)
            assert fast[v, 4] == pytest.approx(r2[v], abs=1e-2)


def test_refinement_respects_bounds_and_nan():
    plan = make_plan(TE, 3.0, DEFAULT_FAT_SPECTRUM)
    sig, _, _, psi = random_voxels(4, 6, noise=0.0)
    start = psi.copy()
    start[0] += 200.0                        # far from the truth: ψ stays within ±max_jump
    start[1] = np.nan
    out = K.refine_kernel(sig, start, plan.te, plan.c, plan.decay, plan.gram, plan.r2_grid,
                          50.0, 10.0, 120.0, 30, 1e-10)
    assert abs(out[0, 5] - start[0]) <= 50.0 + 1e-9
    assert np.all(np.isnan(out[1]))
    ok = np.isfinite(out[:, 4])
    assert np.all((out[ok, 4] >= 10.0) & (out[ok, 4] <= 120.0))


def test_refinement_start_matches_reference():
    # max_iter = 0: the kernel returns its variable-projection start untouched
    plan = make_plan(TE, 3.0, DEFAULT_FAT_SPECTRUM)
    sig, _, _, psi = random_voxels(15, 7)
    start = K.refine_kernel(sig, psi, plan.te, plan.c, plan.decay, plan.gram, plan.r2_grid,
                            90.0, 0.0, 1000.0, 0, 1e-10)
    for v in range(15):
        ref = start_reference(sig[v].astype(complex), psi[v], plan, (0.0, 1000.0))
        amp = float(np.abs(sig[v, 0]))
        np.testing.assert_allclose(start[v, :4], ref[:4], atol=1e-9 * amp + 1e-12)
        assert start[v, 4] == pytest.approx(ref[4], abs=1e-6)
        assert start[v, 5] == psi[v]
