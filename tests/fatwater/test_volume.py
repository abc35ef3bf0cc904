"""Block-parallel masked extraction and scatter equal the NumPy ``arr[m]`` / ``out[m] = v``."""

import numpy as np
import pytest

from qmri_kernels.fatwater import FatWaterModel, signal
from qmri_kernels.fatwater._volume import _BLOCK, MaskedVolume

SHAPES = [(), (7,), (5, 9), (3, 4, 5), (2 * _BLOCK + 17,), (40, 30, 9)]


def _case(shape, dtype, seed, fraction=0.6):
    rng = np.random.default_rng(seed)
    sig = (rng.normal(size=shape + (6,)) + 1j * rng.normal(size=shape + (6,))).astype(dtype)
    mask = rng.random(shape) < fraction
    return sig, mask


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128, np.clongdouble])
def test_gather_equals_numpy(shape, dtype):
    sig, mask = _case(shape, dtype, seed=len(shape) + 10 * np.dtype(dtype).itemsize)
    got = MaskedVolume(mask).gather(sig)
    want = np.ascontiguousarray(sig[mask], dtype=np.complex64)
    assert got.dtype == np.complex64 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)


def test_gather_non_contiguous_and_edge_masks():
    sig, _ = _case((12, 10, 4), np.complex128, seed=3)
    view = sig[::2, :, ::-1]                          # strided, negative stride
    for mask in (np.zeros(view.shape[:-1], bool), np.ones(view.shape[:-1], bool),
                 np.random.default_rng(4).random(view.shape[:-1]) < 0.3):
        got = MaskedVolume(mask).gather(view)
        np.testing.assert_array_equal(got, view[mask].astype(np.complex64))
        assert got.shape == (int(mask.sum()), 6)


@pytest.mark.parametrize("shape", SHAPES)
def test_scatter_equals_numpy(shape):
    rng = np.random.default_rng(len(shape))
    mask = rng.random(shape) < 0.4
    n = int(mask.sum())
    params = rng.normal(size=(n, 7))
    psi = rng.normal(size=n)
    how = rng.integers(1, 8, size=n).astype(np.int8)
    vol = MaskedVolume(mask)
    got = (vol.scatter(params, np.nan), vol.scatter(psi, np.nan), vol.scatter(how, 0))
    want_p = np.full(shape + (7,), np.nan)
    want_s = np.full(shape, np.nan)
    want_h = np.zeros(shape, dtype=np.int8)
    want_p[mask] = params
    want_s[mask] = psi
    want_h[mask] = how
    for g, w in zip(got, (want_p, want_s, want_h)):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)


def test_scatter_rejects_values_of_another_voxel_count():
    vol = MaskedVolume(np.array([[True, False], [True, True]]))
    with pytest.raises(ValueError, match=r"shape \(3,\) or \(3, K\).*got \(4, 7\)"):
        vol.scatter(np.zeros((4, 7)), np.nan)


def test_fit_maps_are_nan_outside_the_mask_with_numpy_layout():
    te = 1.2e-3 + 1.5e-3 * np.arange(6)
    rng = np.random.default_rng(7)
    w = rng.uniform(0.2, 1.0, size=(6, 5, 2))
    f = rng.uniform(0.0, 0.5, size=(6, 5, 2))
    s = signal(w, f, 40.0, rng.uniform(-30, 30, size=(6, 5, 2)), te)
    mask = rng.random((6, 5, 2)) < 0.7
    fit = FatWaterModel(te).fit(s, mask)
    p = fit.model_params
    assert p.shape == (6, 5, 2, 7) and p.dtype == np.float64 and not p.flags.writeable
    assert np.all(np.isnan(p[~mask])) and np.all(np.isfinite(p[mask]))
    assert np.all(np.isnan(fit.fieldmap_initial[~mask]))
    assert fit.fieldmap_source.dtype == np.int8
    assert np.all(fit.fieldmap_source[~mask] == 0) and np.all(fit.fieldmap_source[mask] > 0)
