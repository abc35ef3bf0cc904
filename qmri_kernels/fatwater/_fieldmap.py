"""Spatially regularised field-map estimate: quality-guided region growing.

A voxel on its own has two or more minima of the fat-water cost in ψ — the true field map
and fat/water aliases about ±200 Hz away at 3 T with ΔTE = 1.5 ms — and with B0 spanning
±200 Hz over the field of view the lowest one is not always the true one. The field map
is smooth, so it is grown from voxel to voxel (Yu H, Reeder SB, Shimakawa A, Brittain JH,
Pelc NJ. Field map estimation with a region growing scheme for iterative 3-point water-fat
decomposition. Magn Reson Med 2005;54:1032-1039), visiting bright voxels first as in
quality-guided phase unwrapping (Ghiglia & Pritt 1998, Two-dimensional phase unwrapping,
Wiley, ch. 4): each voxel takes the cost minimum nearest to the mean field of its already
grown neighbours. The candidate minima come from a variable-projection grid search
(Hernando D, Haldar JP, Sutton BP, Ma J, Kellman P, Liang ZP. Joint estimation of water/fat
images and field inhomogeneity map. Magn Reson Med 2008;59:571-580).

Steps:

1. Candidates: local minima in ψ of min over an R2* grid of the VARPRO residual, per voxel.
2. Growth over each connected piece of the domain (the mask; 8 neighbours in plane, 2
   through plane) from its brightest voxel with bright neighbours, once from each of that
   voxel's ``n_tries`` lowest minima; the start whose grown map has the smaller summed
   residual wins (each voxel's residual relative to its signal energy, so that one
   artefact cannot outvote a region). Dark voxels (RMS signal below ``reliability`` × its
   99th percentile: cortical bone, air, background) are visited last and only carry the
   prediction across — so that the field reaches marrow inside the cortex continuously. A
   swap of a whole piece is not a smooth alternative where it holds both water- and
   fat-dominant tissue (the aliases of the two lie on opposite sides of the true field),
   and in pure fat the multi-peak spectrum makes the swapped fit worse: the summed
   residual tells.
3. Each connected set of bright voxels (≥ ``min_component``) that shares its piece of the
   domain with other bright voxels is grown again on its own; its map is replaced only
   if that fits with a summed residual below
   :data:`DEFAULT_ACCEPT_RATIO` times the carried-over one (a wrong bridge across a dark
   gap is overruled by clear evidence, continuity decides otherwise).
4. Dark voxels and small bright sets are filled again from their grown neighbours;
   islands never reached start from their own lowest minimum.

The neighbourhood weights favour the plane: slices are 6 mm thick, 9 mm apart, against
1.6 mm pixels, so through-plane neighbours count a quarter.

Parallel: each growth (one component from one start) reads and writes only its own
component, so steps 2-4 run the growths of all components and starts on the Numba threads
(balanced by voxel count) and choose between them afterwards in the serial order; the
result does not depend on the number of threads (tests compare it with the serial
reference bit for bit). A volume of two legs has at least two components and every
component two starts, which keeps two threads busy.

Queue: every growth visits voxels in the same total order (quality, then index), so the
voxels are ranked once per fit and each growth's queue is a 64-ary bit tree over those
ranks (``_queue``): a push or pop touches one word per level (3 levels up to 262,144
voxels) instead of sifting through a binary heap of the growth front.

Pruning (branch and bound): a start wins its component only if its summed residual ends
below a bound known before it is grown — the summed residual of the component's earlier
start, or ``accept_ratio`` times the carried-over sum in step 3 — and the running sum
only grows, so a growth is abandoned as soon as its running sum passes that bound (with a
margin far above rounding). The losing start, typically the fat-water alias of the seed,
is then grown over part of its component instead of all of it; the choice, and so the
field map, is the same as without pruning (the tests compare both).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from . import _kernels as K
from ._plan import Plan
from ._queue import growth_order

#: Largest jump (Hz) of a voxel's field from its neighbours' prediction for a cost minimum
#: to be accepted; aliases lie ≥ ~200 Hz away at 3 T and ΔTE = 1.5 ms.
DEFAULT_MAX_JUMP_HZ: float = 90.0

#: A reliable component reached across dark voxels keeps the field carried over from its
#: neighbours unless growing it on its own fits with a summed residual below this fraction
#: of the carried-over one: continuity is the prior, a clear misfit overrides it. A swap
#: raises the residual many-fold with the multi-peak spectrum (the aliases fit badly); a
#: spectrum that cannot tell (single peak) leaves the two sums equal and continuity wins.
DEFAULT_ACCEPT_RATIO: float = 0.75


@dataclass(frozen=True)
class Candidates:
    """Per-voxel cost minima of the VARPRO grid search (see ``candidates_kernel``)."""

    psi: np.ndarray
    cost: np.ndarray
    r2_index: np.ndarray
    n: np.ndarray
    energy: np.ndarray


@dataclass(frozen=True)
class FieldMapEstimate:
    """Initial field map (Hz), its VARPRO cost and how each voxel got it.

    ``how``: 1 grown from a cost minimum, 2 grown by prediction, 3 component seed,
    4 filled from a minimum, 5 filled by prediction, 6 island seed, 7 voxel-wise minimum,
    0 no estimate (non-finite signal).
    """

    psi: np.ndarray
    cost: np.ndarray
    how: np.ndarray


def find_candidates(sig: np.ndarray, plan: Plan, n_keep: int = 4) -> Candidates:
    """Run the VARPRO grid search on (V, N) complex64 voxels.

    The grid is screened in float32 and every minimum evaluated in float64
    (``candidates_mixed_kernel``): the result equals the float64 search
    (``candidates_kernel``) bit for bit.
    """
    out = K.candidates_mixed_kernel(sig, plan.phasors_re, plan.phasors_im, plan.psi_grid,
                                    plan.periodic, plan.decay, plan.gram, plan.c, n_keep)
    return Candidates(*out)


def voxelwise_fieldmap(cands: Candidates) -> FieldMapEstimate:
    """Each voxel's lowest-cost minimum: no spatial information (the swap-prone baseline)."""
    psi = cands.psi[:, 0].copy()
    cost = np.where(cands.n > 0, cands.cost[:, 0], np.nan)
    how = np.where(cands.n > 0, 7, 0).astype(np.int8)
    return FieldMapEstimate(psi, cost, how)


def region_growing_fieldmap(sig: np.ndarray, mask: np.ndarray, plan: Plan, cands: Candidates,
                            *, reliability: float = 0.1,
                            min_component: int = 50, max_jump: float = DEFAULT_MAX_JUMP_HZ,
                            n_tries: int = 2, accept_ratio: float = DEFAULT_ACCEPT_RATIO,
                            prune: bool = True) -> FieldMapEstimate:
    """Grow a smooth field map over the voxels ``sig`` of a mask.

    Parameters
    ----------
    sig : (V, N) complex64
        Signals of the voxels (C-contiguous), in the C order of the mask's ``True`` voxels
        (``signal[mask]``).
    mask : bool ndarray with 0 to 3 axes (x, y, z), V voxels ``True``
        Where the voxels lie; neighbours are taken in the volume of its shape.
    plan : Plan
    cands : Candidates
        Output of :func:`find_candidates` for ``sig``.
    reliability : float
        Fraction of the 99th percentile of the RMS signal below which a voxel does not
        seed or carry the growth of its component.
    min_component : int
        Smallest reliable component (voxels) that decides its own start.
    max_jump : float
        See :data:`DEFAULT_MAX_JUMP_HZ`.
    n_tries : int
        Starts tried per component.
    accept_ratio : float
        See :data:`DEFAULT_ACCEPT_RATIO`.
    prune : bool
        Abandon growths that can no longer win (see the module notes); the result is the
        same either way, only the time differs.

    Returns
    -------
    FieldMapEstimate

    Raises
    ------
    ValueError
        If ``mask`` does not select as many voxels as ``sig`` has rows.
    """
    n_vox, n_echo = sig.shape
    quality = K.quality_kernel(cands.n, cands.energy, n_echo)
    finite = quality >= 0.0
    n_finite = int(np.count_nonzero(finite))
    if n_finite == 0:
        return FieldMapEstimate(np.full(n_vox, np.nan), np.full(n_vox, np.nan),
                                np.zeros(n_vox, np.int8))
    rank, order = growth_order(quality)
    threshold = reliability * percentile_in_order(quality, order, n_finite, 99.0)
    reliable = finite & (quality >= threshold) & (quality > 0)

    shape3 = tuple(int(n) for n in mask.shape) + (1,) * (3 - mask.ndim)
    flat = np.ascontiguousarray(mask, dtype=np.bool_).reshape(-1)
    nbr = K.mask_neighbours(flat, *shape3)
    if nbr.shape[0] != n_vox:
        raise ValueError(f"mask selects {nbr.shape[0]} voxels but sig has {n_vox} rows: sig "
                         f"must hold one signal per True voxel of mask (signal[mask])")
    psi = np.full(n_vox, np.nan)
    cost = np.full(n_vox, np.nan)
    how = np.zeros(n_vox, dtype=np.int8)
    args = (plan.period, float(max_jump), sig, plan.te, plan.c, plan.decay, plan.gram)
    tables = (nbr, cands.psi, cands.cost, cands.n, quality, rank, order)
    seed_score = K.seed_score_kernel(quality, nbr)

    # A: every connected piece of the domain, bridging dark voxels by prediction (its
    # pieces, and the bright components of B, labelled at once)
    ptr_a, vox_a, lab_a, ptr, vox, _ = K.label_components_pair(finite, 1, reliable,
                                                               int(min_component), nbr)
    scratch = K.growth_scratch(numba.get_num_threads(), n_vox, int(n_tries))
    K.grow_components_kernel(*tables, seed_score, reliable, ptr_a, vox_a,
                             np.zeros(ptr_a.size - 1, dtype=np.bool_), int(n_tries), 1.0,
                             *args, psi, cost, how, scratch, bool(prune))
    # B: each bright component may restart on its own if that fits clearly better; one
    # that holds all the bright voxels of its piece of A compared its starts there already
    bright_in_a = np.bincount(lab_a[reliable], minlength=lab_a.max() + 1)
    sizes = np.diff(ptr)
    skip = bright_in_a[lab_a[vox[ptr[:-1]]]] == sizes if sizes.size else np.zeros(0, bool)
    K.grow_components_kernel(*tables, seed_score, np.ones(n_vox, dtype=np.bool_), ptr, vox,
                             np.ascontiguousarray(skip, dtype=np.bool_), int(n_tries),
                             float(accept_ratio), *args, psi, cost, how, scratch,
                             bool(prune))
    # C: dark voxels and small reliable components again from their grown neighbours
    redo = ~reliable
    in_big = np.zeros(n_vox, dtype=bool)
    in_big[vox] = True
    redo |= ~in_big
    psi[redo] = np.nan
    cost[redo] = np.nan
    how[redo] = 0
    psi, cost, how = K.fill_kernel(*tables, finite, psi, cost, how, *args, ptr_a, vox_a,
                                   scratch)
    return FieldMapEstimate(psi, cost, how)


def percentile_in_order(values: np.ndarray, order: np.ndarray, n: int, q: float) -> float:
    """``np.percentile(values[order[:n]], q)`` (linear method) of values already in order.

    The growth order sorts the qualities descending, the usable ones (≥ 0) first, so
    their percentile needs no second sort: the two order statistics around the virtual
    index (n − 1)·q/100 are read off ``order``, and interpolated with NumPy's arithmetic
    (``numpy.lib._function_base_impl._lerp``), so the value is NumPy's bit for bit
    (Hyndman RJ, Fan Y. Sample quantiles in statistical packages. Am Stat
    1996;50:361-365, definition 7).

    Parameters
    ----------
    values : (V,) float64
        Values, e.g. the voxel qualities.
    order : (V,) int64
        Indices of ``values`` in descending order of value (``growth_order``).
    n : int
        How many leading entries of ``order`` to take (1 ≤ n ≤ V).
    q : float
        Percentile, 0–100.

    Returns
    -------
    float
        The percentile, in the units of ``values``.
    """
    h = (n - 1) * (q / 100)
    if h >= n - 1:
        return float(values[order[0]])
    lo = math.floor(h)
    a = float(values[order[n - 1 - lo]])           # ascending rank lo
    b = float(values[order[n - 2 - lo]])           # ascending rank lo + 1
    t = h - lo
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t
