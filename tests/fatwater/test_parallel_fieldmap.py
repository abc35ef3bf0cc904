"""The parallel field-map step: thread-count independence and its helper kernels.

The growths of different components and of different starts run on the Numba threads;
the result must not depend on how many there are. The helpers (neighbour table, seed
score, connected components, work bins) are compared with the NumPy/SciPy computations
they replace.
"""

import numba
import numpy as np
import pytest
from scipy import ndimage

from qmri_kernels.fatwater import FatWaterModel
from qmri_kernels.fatwater import _kernels as K
from qmri_kernels.fatwater._fieldmap import find_candidates, region_growing_fieldmap
from qmri_kernels.fatwater._plan import make_plan
from qmri_kernels.physics import DEFAULT_FAT_SPECTRUM

from ._volumes import legs_volume, voxel_coordinates

# growth neighbourhood: 8 in plane, 2 through plane
STRUCTURE = np.zeros((3, 3, 3), dtype=bool)
STRUCTURE[:, :, 1] = True
STRUCTURE[1, 1, :] = True


def _with_threads(n, fn, *args, **kwargs):
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        return fn(*args, **kwargs)
    finally:
        numba.set_num_threads(previous)


@pytest.fixture(scope="module")
def volume():
    """Two legs plus detached islands of noise: several pieces of every size."""
    vol = legs_volume((64, 64, 3), snr=30.0, rng=5)
    mask = ndimage.binary_dilation(vol["body"], iterations=1)
    mask[0:3, 0:3, :] = True
    mask[60:63, 2:4, 1] = True
    mask[30:32, 60:63, 0] = True
    return vol, mask


def test_field_map_does_not_depend_on_the_thread_count(volume):
    vol, mask = volume
    plan = make_plan(vol["echo_times"], 3.0, DEFAULT_FAT_SPECTRUM)
    sig = np.ascontiguousarray(vol["signal"][mask])
    cands = find_candidates(sig, plan)
    kw = dict(reliability=0.1, min_component=10)
    one = _with_threads(1, region_growing_fieldmap, sig, mask, plan, cands, **kw)
    two = _with_threads(2, region_growing_fieldmap, sig, mask, plan, cands, **kw)
    np.testing.assert_array_equal(one.how, two.how)
    np.testing.assert_array_equal(one.psi, two.psi)
    np.testing.assert_array_equal(one.cost, two.cost)
    assert set(np.unique(one.how)) >= {1, 3, 6}          # grown, seeded, island seeds


def test_whole_fit_does_not_depend_on_the_thread_count(volume):
    vol, mask = volume
    model = FatWaterModel(vol["echo_times"])
    one = _with_threads(1, model.fit, vol["signal"], mask)
    two = _with_threads(2, model.fit, vol["signal"], mask)
    np.testing.assert_array_equal(one.model_params, two.model_params)


@pytest.mark.parametrize("shape", [(7, 5, 3), (9, 4), (11,), (1, 1, 1)])
def test_mask_neighbours_of_lines_planes_and_single_voxels(shape):
    mask = np.random.default_rng(0).random(shape) > 0.4
    coords, shape3 = voxel_coordinates(mask)
    nbr = K.mask_neighbours(mask.reshape(-1), *shape3)
    np.testing.assert_array_equal(nbr, _neighbours_numpy(coords, shape3))


def _neighbours_numpy(coords, shape3):
    vox_of = np.full(shape3, -1)
    vox_of[tuple(coords.T)] = np.arange(len(coords))
    padded = np.pad(vox_of, 1, constant_values=-1)
    cols = []
    for di, dj, dk in zip(K._NB_DI, K._NB_DJ, K._NB_DK):
        cols.append(padded[coords[:, 0] + 1 + di, coords[:, 1] + 1 + dj, coords[:, 2] + 1 + dk])
    return np.stack(cols, axis=1)


def test_neighbour_table_seed_score_and_components_match_scipy(volume):
    _, mask = volume
    coords, shape3 = voxel_coordinates(mask)
    nbr = K.mask_neighbours(mask.reshape(-1), *shape3)
    np.testing.assert_array_equal(nbr, _neighbours_numpy(coords, shape3))

    rng = np.random.default_rng(1)
    quality = rng.uniform(-0.2, 1.0, len(coords))       # negative: non-finite voxels
    vol = np.zeros(shape3)
    vol[tuple(coords.T)] = np.maximum(quality, 0.0)
    low = ndimage.minimum_filter(vol, size=(3, 3, 1), mode="constant", cval=0.0)
    np.testing.assert_array_equal(K.seed_score_kernel(quality, nbr), low[tuple(coords.T)])

    select = quality > 0.3
    ptr, vox, lab = K.label_components(select, nbr, 1)
    sel_vol = np.zeros(shape3, bool)
    sel_vol[tuple(coords[select].T)] = True
    ref, n_ref = ndimage.label(sel_vol, structure=STRUCTURE)
    ref_lab = np.where(select, ref[tuple(coords.T)], 0)
    np.testing.assert_array_equal(lab, ref_lab)          # same numbering (raster order)
    sizes = np.diff(ptr)
    assert len(sizes) == n_ref and np.all(np.diff(sizes) <= 0)     # largest first
    for k in range(len(sizes)):
        members = vox[ptr[k]:ptr[k + 1]]
        assert np.all(np.diff(members) > 0)               # ascending within a component
        assert len(np.unique(lab[members])) == 1
    ptr5, vox5, _ = K.label_components(select, nbr, 5)
    assert np.all(np.diff(ptr5) >= 5) and len(ptr5) - 1 == np.sum(sizes >= 5)
    # two selections labelled at once: each as on its own
    other = quality > -0.1
    pair = K.label_components_pair(other, 1, select, 5, nbr)
    for got, want in zip(pair, K.label_components(other, nbr, 1) + (ptr5, vox5, lab)):
        np.testing.assert_array_equal(got, want)


def test_balanced_bins_hold_every_item_once():
    rng = np.random.default_rng(2)
    work = np.where(rng.random(40) < 0.2, 0.0, rng.integers(1, 500, 40).astype(float))
    for n_bins in (1, 2, 3):
        ptr, items = K._balanced_bins(work, n_bins)
        assert sorted(items.tolist()) == np.flatnonzero(work > 0).tolist()
        loads = [work[items[ptr[b]:ptr[b + 1]]].sum() for b in range(n_bins)]
        # greedy largest-first: no bin exceeds the mean by more than the largest item
        assert max(loads) <= work.sum() / n_bins + work.max()
