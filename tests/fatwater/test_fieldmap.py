"""The region-growing field map: kernel against the reference, swaps, wraps and islands."""

import numpy as np
import pytest
from scipy import ndimage

from qmri_kernels.fatwater import FatWaterModel
from qmri_kernels.fatwater._fieldmap import (find_candidates, percentile_in_order,
                                             region_growing_fieldmap)
from qmri_kernels.fatwater._plan import make_plan
from qmri_kernels.fatwater._queue import growth_order
from qmri_kernels.fatwater._reference import region_growing_reference
from qmri_kernels.physics import DEFAULT_FAT_SPECTRUM, FatSpectrum

from ._volumes import CORTEX, legs_volume, voxel_coordinates

SINGLE_PEAK = FatSpectrum([1.3], [1.0], name="single-peak")


def test_region_growing_matches_reference_on_a_small_volume():
    vol = legs_volume((36, 36, 2), snr=25.0, rng=11)
    mask = ndimage.binary_dilation(vol["body"], iterations=2)       # some background too
    mask[0:3, 0:3, :] = True                                       # an island of noise
    plan = make_plan(vol["echo_times"], 3.0, DEFAULT_FAT_SPECTRUM)
    sig = np.ascontiguousarray(vol["signal"][mask])
    coords, _ = voxel_coordinates(mask)
    cands = find_candidates(sig, plan)
    fast = region_growing_fieldmap(sig, mask, plan, cands, reliability=0.1,
                                   min_component=10)
    quality = np.sqrt(cands.energy / sig.shape[1])
    reliable = quality >= 0.1 * np.percentile(quality, 99.0)
    psi, cost, how = region_growing_reference(
        sig, coords, cands.psi, cands.cost, cands.n, quality, reliable,
        np.ones(len(sig), bool), plan, max_jump=90.0, min_component=10)
    np.testing.assert_array_equal(fast.how, how)
    np.testing.assert_allclose(fast.psi, psi, rtol=0, atol=1e-9)
    np.testing.assert_allclose(fast.cost, cost, rtol=1e-8, atol=1e-12)
    assert set(np.unique(how)) >= {1, 3}                 # grown, seeded and filled voxels
    assert np.any(how >= 4)


def _swaps(fit, vol, exclude_cortex=True):
    err = np.abs(fit.pdff - vol["pdff"])
    sel = vol["body"] & ((vol["labels"] != CORTEX) if exclude_cortex else True)
    return int(np.sum(err[sel] > 0.30))


def test_single_peak_model_swaps_voxelwise_but_not_with_region_growing():
    # the single-peak fat model makes fat and water aliases nearly indistinguishable per
    # voxel; only the smooth field decides
    vol = legs_volume((96, 96, 2), snr=60.0, rng=2)
    kw = dict(fat_spectrum=SINGLE_PEAK)
    grown = FatWaterModel(vol["echo_times"], **kw).fit(vol["signal"], vol["body"])
    alone = FatWaterModel(vol["echo_times"], fieldmap_method="voxelwise", **kw).fit(
        vol["signal"], vol["body"])
    assert _swaps(grown, vol) == 0
    assert _swaps(alone, vol) > 20


def test_field_map_is_unwrapped_beyond_half_a_period():
    # B0 spanning ±450 Hz exceeds ±1/(2ΔTE) = ±333 Hz: the voxel-wise map aliases by one
    # period, the grown map follows the truth
    vol = legs_volume((96, 96, 2), snr=60.0, b0_span_hz=450.0, rng=4)
    tissue = vol["body"] & (vol["labels"] != CORTEX)
    grown = FatWaterModel(vol["echo_times"]).fit(vol["signal"], vol["body"])
    alone = FatWaterModel(vol["echo_times"], fieldmap_method="voxelwise").fit(
        vol["signal"], vol["body"])
    period = 1 / 1.5e-3
    err_grown = grown.fieldmap - vol["fieldmap"]
    # one constant offset of whole periods at most (the seed's choice), no local jumps
    offset = period * np.round(np.median(err_grown[tissue]) / period)
    assert np.percentile(np.abs(err_grown - offset)[tissue], 99.9) < 15.0
    assert np.max(np.abs(alone.fieldmap[tissue])) <= period / 2 + 90.0
    assert np.max(np.abs(vol["fieldmap"][tissue])) > period / 2
    assert _swaps(grown, vol) == 0


def test_marrow_behind_dark_cortex_follows_the_surrounding_field():
    # marrow (pure fat) is cut off from the muscle by cortex of 5 % proton density; the
    # growth carries the field across the dark ring instead of deciding the marrow alone
    vol = legs_volume((128, 128, 2), snr=60.0, rng=2)
    fit = FatWaterModel(vol["echo_times"], fat_spectrum=SINGLE_PEAK).fit(vol["signal"],
                                                                         vol["body"])
    marrow = vol["labels"] == 3
    assert np.all(np.abs(fit.fieldmap - vol["fieldmap"])[marrow] < 30.0)
    assert np.all(np.abs(fit.pdff - vol["pdff"])[marrow] < 0.1)


def test_without_mask_the_background_does_not_break_the_legs():
    vol = legs_volume((96, 96, 2), snr=60.0, rng=5)
    fit = FatWaterModel(vol["echo_times"]).fit(vol["signal"])
    tissue = vol["body"] & (vol["labels"] != CORTEX)
    assert np.all(np.abs(fit.fieldmap - vol["fieldmap"])[tissue] < 40.0)
    assert _swaps(fit, vol) == 0
    assert np.all(np.isfinite(fit.pdff))                # every voxel fitted


def test_a_bright_outlier_does_not_seed_the_growth():
    vol = legs_volume((64, 64, 1), snr=60.0, rng=9)
    sig = vol["signal"].copy()
    i, j = np.argwhere(vol["labels"][..., 0] == 4)[0]              # a muscle voxel
    rng = np.random.default_rng(0)
    sig[i, j, 0] = 40 * np.exp(1j * rng.uniform(-np.pi, np.pi, 6))  # a spike, no model fits
    fit = FatWaterModel(vol["echo_times"]).fit(sig, vol["body"])
    seeds = np.argwhere(fit.fieldmap_source == 3)
    assert [i, j, 0] not in seeds.tolist()
    tissue = vol["body"] & (vol["labels"] != CORTEX)
    tissue[i, j, 0] = False
    assert np.all(np.abs(fit.pdff - vol["pdff"])[tissue] < 0.3)


def test_clear_evidence_overrules_a_wrong_bridge_across_a_dark_gap():
    # two tissue blocks joined by a dark band in which the field steps by +230 Hz: carried
    # across the band the field lands on the right block's alias; regrown on its own the
    # right block fits far better, and that evidence replaces the bridged map
    from qmri_kernels.fatwater import signal

    te = 1.5e-3 * np.arange(1, 7)
    nx, ny = 40, 24
    pd = np.full((nx, ny, 1), 0.8)
    pd[18:22] = 0.01                                           # the dark band
    ff = np.full((nx, ny, 1), 0.08)
    ff[:, :3] = ff[:, -3:] = 0.9                               # fat along two edges
    psi = np.where(np.arange(nx)[:, None, None] < 20, 20.0, 250.0) + 0.0 * pd
    s = signal(pd * (1 - ff), pd * ff, 40.0, psi, te)
    rng = np.random.default_rng(1)
    s = s + 0.01 * (rng.standard_normal(s.shape) + 1j * rng.standard_normal(s.shape))
    fit = FatWaterModel(te).fit(s)
    tissue = pd > 0.5
    assert np.all(np.abs(fit.pdff - ff)[tissue] < 0.05)
    assert np.all(np.abs(fit.fieldmap - psi)[tissue] < 5.0)


def test_region_growing_rejects_a_mask_of_another_voxel_count():
    vol = legs_volume((24, 24, 2), snr=25.0, rng=2)
    mask = vol["body"]
    plan = make_plan(vol["echo_times"], 3.0, DEFAULT_FAT_SPECTRUM)
    sig = np.ascontiguousarray(vol["signal"][mask])
    cands = find_candidates(sig, plan)
    grown = mask.copy()
    grown[0, 0, 0] = not grown[0, 0, 0]
    with pytest.raises(ValueError, match=r"mask selects \d+ voxels but sig has \d+ rows"):
        region_growing_fieldmap(sig, grown, plan, cands)


@pytest.mark.parametrize("n_values, n_unusable",
                         [(1, 0), (2, 3), (3, 0), (1000, 40), (191_166, 500)])
def test_percentile_in_order_is_numpys_bit_for_bit(n_values, n_unusable):
    rng = np.random.default_rng(n_values)
    usable = np.round(rng.gamma(2.0, 50.0, n_values), 1)           # ties from rounding
    values = np.concatenate([usable, np.full(n_unusable, -1.0)])
    values = values[rng.permutation(values.size)]
    _, order = growth_order(values)
    for q in (0.0, 1.0, 50.0, 75.5, 99.0, 99.9, 100.0):
        assert percentile_in_order(values, order, n_values, q) == np.percentile(usable, q)
