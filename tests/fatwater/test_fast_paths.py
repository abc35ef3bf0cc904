"""The fit's shortcuts give the results of the plain computations they replace.

Pruned region growing against unpruned growth (the same field map, bit for bit), the
closed-form Levenberg–Marquardt step against a dense solve of the 6 × 6 system, and the
exponential recurrences of the refinement for a first echo at a multiple of the spacing.
"""

import numba
import numpy as np
import pytest
from scipy import ndimage

from qmri_kernels.fatwater import signal
from qmri_kernels.fatwater import _kernels as K
from qmri_kernels.fatwater._fieldmap import find_candidates, region_growing_fieldmap
from qmri_kernels.fatwater._plan import make_plan
from qmri_kernels.fatwater._reference import refine_reference
from qmri_kernels.physics import DEFAULT_FAT_SPECTRUM, FatSpectrum

from ._volumes import legs_volume

SINGLE_PEAK = FatSpectrum([1.3], [1.0], name="single-peak")


def _grown(vol, mask, spectrum, prune, threads):
    plan = make_plan(vol["echo_times"], 3.0, spectrum)
    sig = np.ascontiguousarray(vol["signal"][mask])
    cands = find_candidates(sig, plan)
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return region_growing_fieldmap(sig, mask, plan, cands, min_component=10,
                                       prune=prune)
    finally:
        numba.set_num_threads(previous)


@pytest.mark.parametrize("seed, snr, spectrum, dilate", [
    (3, 30.0, DEFAULT_FAT_SPECTRUM, 0), (7, 12.0, DEFAULT_FAT_SPECTRUM, 2),
    (2, 60.0, SINGLE_PEAK, 1)])
def test_pruned_growth_gives_the_unpruned_field_map(seed, snr, spectrum, dilate):
    vol = legs_volume((48, 48, 3), snr=snr, rng=seed, fat_spectrum=spectrum)
    mask = vol["body"]
    if dilate:
        mask = ndimage.binary_dilation(mask, iterations=dilate)     # dark rims and noise
    mask[0:3, 0:3, :] = True                                        # an island
    full = _grown(vol, mask, spectrum, prune=False, threads=1)
    for threads in (1, 2):
        fast = _grown(vol, mask, spectrum, prune=True, threads=threads)
        np.testing.assert_array_equal(fast.how, full.how)
        np.testing.assert_array_equal(fast.psi, full.psi)
        np.testing.assert_array_equal(fast.cost, full.cost)


def test_prune_limit_covers_rounding_and_negative_residuals():
    # a start whose final sum ends just below the bound must never be pruned, whatever the
    # order of its running sum and however small or negative (by rounding) its terms
    rng = np.random.default_rng(0)
    for scale in (1e-3, 1e-12, 0.0):
        x = rng.uniform(0, scale, 100_000)
        x[::7] = -1e-15 * rng.uniform(0, 1, x[::7].size)
        final = float(np.sum(x))
        for bound in (final, np.nextafter(final, np.inf), final * (1 + 1e-12) + 1e-300):
            limit = K._prune_limit(bound, x.size)
            for _ in range(3):
                running = np.cumsum(x[rng.permutation(x.size)])
                assert not np.any(running > limit)
    assert K._prune_limit(np.inf, 10) == np.inf


def _dense_step(s_dd, s_ee, s_mm, s_de, s_dm, s_em, g_w, g_f, g_r2, g_psi, lam):
    """The damped 6 × 6 normal equations written out, solved densely."""
    w2 = 2 * np.pi
    h = np.zeros((6, 6))
    h[0, 0] = h[1, 1] = s_dd
    h[2, 2] = h[3, 3] = s_ee
    h[4, 4] = s_mm
    h[5, 5] = w2 * w2 * s_mm
    h[0, 2], h[0, 3], h[1, 2], h[1, 3] = s_de.real, -s_de.imag, s_de.imag, s_de.real
    h[0, 4], h[0, 5], h[1, 4], h[1, 5] = -s_dm.real, -w2 * s_dm.imag, -s_dm.imag, w2 * s_dm.real
    h[2, 4], h[2, 5], h[3, 4], h[3, 5] = -s_em.real, -w2 * s_em.imag, -s_em.imag, w2 * s_em.real
    h = np.triu(h) + np.triu(h, 1).T
    a = h + np.diag(np.diag(h) * lam + 1e-30)
    g = np.array([g_w.real, g_w.imag, g_f.real, g_f.imag, g_r2, g_psi])
    return a, np.linalg.solve(a, g)


@pytest.mark.parametrize("lam", [0.0, 1e-3, 10.0])
def test_closed_form_lm_step_matches_a_dense_solve(lam):
    rng = np.random.default_rng(1)
    te = 1.5e-3 * np.arange(1, 7)
    c = make_plan(te, 3.0, DEFAULT_FAT_SPECTRUM).c
    for _ in range(50):
        psi, r2 = rng.uniform(-300, 300), rng.uniform(0, 200)
        w, f = rng.standard_normal(2) + 1j * rng.standard_normal(2)
        d = np.exp((2j * np.pi * psi - r2) * te)
        e = c * d
        tm = te * (w + f * c) * d
        res = 0.05 * (rng.standard_normal(6) + 1j * rng.standard_normal(6))
        sums = (np.vdot(d, d).real, np.vdot(e, e).real, np.vdot(tm, tm).real,
                np.vdot(d, e), np.vdot(d, tm), np.vdot(e, tm))
        g_w, g_f, s_mr = np.vdot(d, res), np.vdot(e, res), np.vdot(tm, res)
        args = sums + (g_w, g_f, -s_mr.real, 2 * np.pi * s_mr.imag)
        step = np.empty(6)
        assert K._solve_lm(*args, lam, step)
        a, dense = _dense_step(*args, lam)
        np.testing.assert_allclose(step, dense, rtol=1e-7,
                                   atol=1e-9 * np.max(np.abs(dense)))


def test_closed_form_lm_step_rejects_a_singular_system():
    step = np.zeros(6)
    zero = 0.0 + 0.0j
    # fat and water columns identical (|s_de|² = s_dd·s_ee): not positive definite
    assert not K._solve_lm(1.0, 1.0, 1.0, 1.0 + 0j, zero, zero, zero, zero, 0.0, 0.0, 0.0,
                           step)


@pytest.mark.parametrize("te, n", [
    (1.5e-3 * np.arange(1, 7), 1), (1.5e-3 * np.arange(2, 8), 2),
    (1.2e-3 + 1.5e-3 * np.arange(6), 0), (np.array([1.2, 2.9, 4.1, 6.0]) * 1e-3, 0)])
def test_first_echo_steps(te, n):
    assert K._first_echo_steps(te, K._uniform_spacing(te)) == n


@pytest.mark.parametrize("te", [1.5e-3 * np.arange(2, 8), 1.2e-3 + 1.5e-3 * np.arange(6)],
                         ids=["first-echo-2-spacings", "offset-first-echo"])
def test_refinement_recurrences_match_scipy(te):
    plan = make_plan(te, 3.0, DEFAULT_FAT_SPECTRUM)
    rng = np.random.default_rng(8)
    n = 15
    ff = rng.uniform(0, 1, n)
    amp = rng.uniform(0.3, 1.5, n) * np.exp(1j * rng.uniform(-np.pi, np.pi, n))
    r2 = rng.uniform(20, 200, n)
    psi = rng.uniform(-250, 250, n)
    s = signal(amp * (1 - ff), amp * ff, r2, psi, te)
    s = s + 0.02 * (rng.standard_normal(s.shape) + 1j * rng.standard_normal(s.shape))
    sig = np.ascontiguousarray(s, dtype=np.complex64)
    start = psi + rng.uniform(-10, 10, n)
    fast = K.refine_kernel(sig, start, plan.te, plan.c, plan.decay, plan.gram, plan.r2_grid,
                           90.0, 0.0, 1000.0, 50, 1e-14)
    interior = np.flatnonzero(fast[:, 4] > 1.0)     # the two solvers differ on a bound
    assert interior.size >= 12
    for v in interior:
        slow = refine_reference(sig[v], start[v], plan, 90.0, (0.0, 1000.0))
        scale = float(np.abs(sig[v, 0]))
        np.testing.assert_allclose(fast[v, :4], slow[:4], atol=2e-4 * scale)
        assert fast[v, 4] == pytest.approx(slow[4], abs=0.05)
        assert fast[v, 5] == pytest.approx(slow[5], abs=0.01)


