"""The float32-screened grid search returns the float64 search's candidates bit for bit."""

import numpy as np
import pytest

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


@pytest.mark.parametrize("te", [UNIFORM, NON_UNIFORM], ids=["uniform", "non-uniform"])
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
