"""The fast EPG fit kernels against their slow references.

- the vectorised coarse dictionary search against the scalar one;
- the gradient and Gauss-Newton matrix of the refinement against finite differences;
- the hoisted stencil against the original interpolation;
- the fused evaluation (interpolation and Gauss-Newton sums in one pass, SIMD blocks of
  eight echoes) against the two-step one, for echo counts around and over a block;
- the whole kernel against the SciPy reference (fixed share, B1 fixed, fewer echoes) and
  against an exhaustive search of the whole dictionary.
"""

from __future__ import annotations

import numpy as np
import pytest

from qmri_kernels.t2 import EPGT2Model
from qmri_kernels.t2 import _epg_fit_kernels as K
from qmri_kernels.t2._reference import fit_epg_voxel
from qmri_kernels.t2.epg_model import _STRIDES

ESP, N = 0.007, 8
#: The coarse strides (T2, B1) the model uses with the share free and fixed.
STRIDES_FREE, STRIDES_FIXED = _STRIDES[:2], _STRIDES[2:]


def _rician(y, sigma, rng):
    noise = rng.normal(0.0, sigma, y.shape + (2,))
    return np.abs(y + noise[..., 0] + 1j * noise[..., 1]).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    return EPGT2Model(ESP, N)


@pytest.fixture(scope="module")
def voxels(model):
    """400 noisy voxels over muscle-like and odd parameters (seeded)."""
    rng = np.random.default_rng(20)
    n = 400
    t2 = np.exp(rng.uniform(np.log(0.015), np.log(0.2), n))
    b1 = rng.uniform(0.45, 1.25, n)
    ff = rng.uniform(0.0, 0.6, n)
    y = _rician(model.signal(t2, b1, ff, 800.0), 8.0, rng)
    return y, ff


def _scalar_coarse(yv, m, phi, tables, strides):
    water, fat, cww, cwf, cff = tables
    return K._grid_search(yv, m, phi, water, fat, cww, cwf, cff, 1, water.shape[0] - 1,
                          strides[0], 1, water.shape[1] - 1, strides[1])


def _atom_cost(yv, m, phi, tables, i, j):
    water, fat, cww, cwf, cff = tables
    amp = np.empty(2)
    wy = float(water[i, j, :m] @ yv[:m])
    fy = float(fat[j, :m] @ yv[:m])
    yy = float(yv[:m] @ yv[:m])
    if np.isnan(phi):
        return K._amplitudes_free(cww[i, j, m], cwf[i, j, m], cff[j, m], wy, fy, yy, amp)
    return K._amplitudes_fixed(cww[i, j, m], cwf[i, j, m], cff[j, m], wy, fy, yy, phi, amp)


@pytest.mark.parametrize("fixed", [True, False])
def test_vectorised_coarse_search_matches_scalar_search(model, voxels, fixed):
    tables = model._tables()
    strides = STRIDES_FIXED if fixed else STRIDES_FREE
    coarse = K.coarse_tables(*tables, *strides)
    ci, cj = coarse[0], coarse[1]
    ncol = coarse[3].shape[1] // cj.size
    acc = np.empty(coarse[2].shape[1], np.float32)
    score = np.empty(coarse[3].shape[1], np.float32)
    y, ff = voxels
    rng = np.random.default_rng(3)
    same = 0
    for v in range(y.shape[0]):
        m = int(rng.choice([N, N, 5]))            # some voxels use fewer echoes
        phi = ff[v] if fixed else np.nan
        yv = y[v].astype(float)
        y32 = np.zeros(coarse[2].shape[0], np.float32)
        y32[:m] = y[v, :m]
        a = K.coarse_search(y32, m, phi, coarse, acc, score)
        i, j = ci[a % ncol], cj[a // ncol]
        si, sj = _scalar_coarse(yv, m, phi, tables, strides)
        c_vec = _atom_cost(yv, m, phi, tables, i, j)
        c_ref = _atom_cost(yv, m, phi, tables, si, sj)
        # the same atom, or one whose cost differs by single-precision rounding only
        assert c_vec <= c_ref + 1e-5 * float(yv[:m] @ yv[:m])
        same += (i, j) == (si, sj)
    # free, the cost is nearly flat along the water-T2/fat valley: near-ties in single
    # precision may pick a neighbour of equal cost (checked above)
    assert same >= (0.98 if fixed else 0.85) * y.shape[0]


def _terms(model, yv, phi, x, y):
    water, fat, *_ = model._tables()
    ev = np.empty((5, N))
    cw = np.empty((4, 4))
    amp = np.empty(2)
    gh = np.empty(5)
    K.interpolate_jacobian(water, fat, x, y, N, ev, cw)
    cost = K.gauss_newton_terms(yv, N, phi, ev, amp, gh)
    model_train = (amp[0] + amp[1]) * ((1 - phi) * ev[0] + phi * ev[3])
    return cost, gh.copy(), model_train


def test_gradient_and_gauss_newton_matrix_match_finite_differences(model, voxels):
    g = model._grid
    y, ff = voxels
    rng = np.random.default_rng(5)
    h = 1e-4
    for v in rng.choice(y.shape[0], 25, replace=False):
        yv = y[v].astype(float)
        x0 = rng.uniform(20.0, g.n_t2 - 20.0)
        y0 = rng.uniform(5.0, g.n_b1 - 5.0)
        cost, gh, _ = _terms(model, yv, ff[v], x0, y0)
        cxp, _, mxp = _terms(model, yv, ff[v], x0 + h, y0)
        cxm, _, mxm = _terms(model, yv, ff[v], x0 - h, y0)
        cyp, _, myp = _terms(model, yv, ff[v], x0, y0 + h)
        cym, _, mym = _terms(model, yv, ff[v], x0, y0 - h)
        grad = np.array([(cxp - cxm) / (2 * h), (cyp - cym) / (2 * h)])
        np.testing.assert_allclose(gh[:2], grad, rtol=1e-4, atol=1e-6 * np.abs(grad).max())
        # 2·JᵀJ of the projected model a(x, y)·b(x, y), amplitude re-projected at each point
        jac = np.stack([(mxp - mxm) / (2 * h), (myp - mym) / (2 * h)], axis=1)
        gn = 2 * jac.T @ jac
        np.testing.assert_allclose(gh[2:5], [gn[0, 0], gn[0, 1], gn[1, 1]], rtol=1e-4,
                                   atol=1e-6 * np.abs(gn).max())


def test_hoisted_stencil_matches_original_interpolation(model):
    water, fat, *_ = model._tables()
    g = model._grid
    rng = np.random.default_rng(8)
    old = [np.empty(N) for _ in range(5)] + [np.empty(4) for _ in range(4)]
    ev = np.empty((5, N))
    cw = np.empty((4, 4))
    for x, y in zip(rng.uniform(0.0, g.n_t2, 40), rng.uniform(0.0, g.n_b1, 40)):
        K.interpolate(water, fat, x, y, N, *old)
        K.interpolate_jacobian(water, fat, x, y, N, ev, cw)
        for row in range(5):
            np.testing.assert_allclose(ev[row], old[row], rtol=1e-12, atol=1e-15)
        vals = np.empty((5, N))
        K.interpolate_values(water, fat, x, y, N, vals, cw)
        np.testing.assert_allclose(vals[[0, 3]], ev[[0, 3]], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("n_echoes", [3, 8, 11, 16, 17])
def test_fused_evaluation_matches_two_step_evaluation(n_echoes):
    """``jacobian_terms`` / ``value_cost`` equal interpolation + ``gauss_newton_terms`` /
    ``projected_cost`` to rounding, for every count of echoes used (incl. a partial block,
    echoes after m ignored, a table under one block)."""
    model = EPGT2Model(ESP, n_echoes)
    water, fat, *_ = model._tables()
    g = model._grid
    rng = np.random.default_rng(40 + n_echoes)
    ev = np.empty((5, n_echoes))
    cw = np.empty((4, 4))
    amp, amp2, gh, gh2 = np.empty(2), np.empty(2), np.empty(5), np.empty(5)
    for _ in range(40):
        y = _rician(model.signal(rng.uniform(0.02, 0.15), rng.uniform(0.5, 1.2),
                                 rng.uniform(0.0, 0.5), 800.0), 8.0, rng)
        yv = y.astype(float)
        phi = rng.uniform(0.0, 0.6)
        m = int(rng.integers(2, n_echoes + 1))
        x0, y0 = rng.uniform(0.0, g.n_t2), rng.uniform(0.0, g.n_b1)
        K.interpolate_jacobian(water, fat, x0, y0, m, ev, cw)
        c_ref = K.gauss_newton_terms(yv, m, phi, ev, amp, gh)
        c = K.jacobian_terms(water, fat, x0, y0, yv, m, phi, ev, cw, amp2, gh2)
        scale = float(yv[:m] @ yv[:m])
        assert abs(c - c_ref) <= 1e-12 * scale
        np.testing.assert_allclose(amp2, amp, rtol=1e-10, atol=1e-12 * amp.max())
        np.testing.assert_allclose(gh2, gh, rtol=1e-7, atol=1e-10 * np.abs(gh).max())
        K.interpolate_values(water, fat, x0, y0, m, ev, cw)
        c_ref = K.projected_cost(yv, m, phi, ev, amp)
        assert abs(K.value_cost(water, fat, x0, y0, yv, m, phi, ev, cw, amp2) - c_ref) \
            <= 1e-12 * scale
        np.testing.assert_allclose(amp2, amp, rtol=1e-10, atol=1e-12 * amp.max())


@pytest.mark.parametrize("case", ["fixed share", "fixed share and B1"])
def test_kernel_matches_scipy_reference(model, case):
    rng = np.random.default_rng(31)
    v = 5
    t2 = rng.uniform(0.025, 0.08, v)
    b1 = rng.uniform(0.6, 1.1, v)
    ff = rng.uniform(0.0, 0.3, v)
    y = _rician(model.signal(t2, b1, ff, 700.0), 5.0, rng)
    b1_given = b1 + 0.02 if case == "fixed share and B1" else None
    fit = model.fit(y, fat_fraction=ff, b1=b1_given)
    cost = fit.residual ** 2 * N
    for i in range(v):
        ref = fit_epg_voxel(model, y[i], ff[i], None if b1_given is None else b1_given[i],
                            starts_t2=(0.03, 0.07), starts_b1=(0.7, 1.0))
        assert cost[i] <= ref["cost"] * (1 + 1e-4) + 1e-6
        assert abs(fit.water_t2[i] - ref["water_t2"]) < 1e-4 + 0.01 * ref["water_t2"]


def test_fewer_echoes_equal_a_shorter_train(model, voxels):
    """A voxel fitted on its first m echoes equals the fit of an m-echo acquisition."""
    y, ff = voxels
    m = 6
    short = EPGT2Model(ESP, m)
    tables = model._tables()
    tables_short = short._tables()
    sel = np.arange(60)
    nan = np.full(sel.size, np.nan)
    for phi in (ff[sel], nan):
        full = K.fit_kernel(y[sel], np.full(sel.size, m), phi, nan, *tables, _STRIDES, 30)
        part = K.fit_kernel(np.ascontiguousarray(y[sel, :m]), np.full(sel.size, m), phi,
                            nan, *tables_short, _STRIDES, 30)
        np.testing.assert_allclose(full[:, :5], part[:, :5], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("fixed", [True, False])
def test_kernel_reaches_the_minimum_of_an_exhaustive_search(model, voxels, fixed):
    """Coarse strides + refinement against every atom of the dictionary + refinement."""
    y, ff = voxels
    sel = np.arange(0, y.shape[0], 4)
    n = sel.size
    phi = ff[sel] if fixed else np.full(n, np.nan)
    nan = np.full(n, np.nan)
    m = np.full(n, N)
    tables = model._tables()
    fast = K.fit_kernel(y[sel], m, phi, nan, *tables, _STRIDES, 30)
    full = K.fit_kernel(y[sel], m, phi, nan, *tables, (1, 1, 1, 1), 100)
    rel = (fast[:, 4] - full[:, 4]) / np.maximum(full[:, 4], 1e-12)
    if fixed:
        # the same minimum (to 1e-5 of the cost; Gauss-Newton creeps along the flattest
        # valleys) in >= 97 % of voxels
        assert np.mean(rel > 1e-5) <= 0.03
    else:
        # Levenberg-Marquardt stops within ~1e-3 of the cost along flat valleys and at the
        # table bounds, from either start
        assert np.mean(rel > 1e-3) <= 0.03
        assert np.all(rel > -1e-2)


def test_degenerate_voxels(model):
    """Zero and constant signals, a share of 1 and NaN shares: finite or NaN, no crash."""
    y = np.zeros((4, N), np.float32)
    y[1] = 100.0
    y[2] = model.signal(0.04, 0.9, 0.2, 500.0)
    y[3] = model.signal(0.04, 0.9, 0.2, 500.0)
    fit = model.fit(y, fat_fraction=np.array([0.1, 0.1, 1.0, np.nan]))
    assert np.isnan(fit.water_t2[0])
    assert np.isfinite(fit.water_t2[1])
    assert np.isfinite(fit.s0[2])
    assert abs(fit.water_t2[3] - 0.04) < 1e-5
