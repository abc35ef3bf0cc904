"""Throughput of the fat-water fit against the per-voxel SciPy reference, in one run.

Used by ``benchmarks/fatwater_fit.py`` and the chapter's benchmark figure. Wall-clock
times on a shared machine vary; the ratio to the reference, measured in the same run on
the same data, is the number to compare.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from ._checks import check_complex_signal, check_mask
from ._fit import FatWaterModel

__all__ = ["Throughput", "measure_throughput"]


@dataclass(frozen=True)
class Throughput:
    """Timings of one benchmark run (seconds; rates in masked voxels per second)."""

    n_voxels: int
    fit_seconds: float
    candidates_seconds: float
    fieldmap_seconds: float
    refine_seconds: float
    reference_voxels: int
    reference_seconds: float

    @property
    def voxels_per_second(self) -> float:
        """Masked voxels per second of the full fit (field-map step and PDFF map
        included)."""
        return self.n_voxels / self.fit_seconds

    @property
    def reference_voxels_per_second(self) -> float:
        """Voxels per second of the per-voxel SciPy reference."""
        return self.reference_voxels / self.reference_seconds

    @property
    def ratio(self) -> float:
        """How many times faster than the SciPy reference."""
        return self.voxels_per_second / self.reference_voxels_per_second

    def as_dict(self) -> dict:
        """All fields plus the derived rates, for tables and JSON.

        Returns
        -------
        dict
            The dataclass fields (voxel counts; times in s) and ``voxels_per_second``,
            ``reference_voxels_per_second`` (voxels/s) and ``ratio`` (dimensionless).
        """
        d = asdict(self)
        d.update(voxels_per_second=self.voxels_per_second,
                 reference_voxels_per_second=self.reference_voxels_per_second,
                 ratio=self.ratio)
        return d


def measure_throughput(model: FatWaterModel, signal, mask=None, *, n_reference: int = 200,
                       repeats: int = 3, rng=0) -> Throughput:
    """Time ``model.fit(signal, mask)`` with its PDFF map, and the SciPy reference on a
    random voxel sample.

    The fit and its PDFF map (``fit.pdff``: the map a study reads, and what other tools
    compute inside their fit) are timed ``repeats`` times after a warm-up run (Numba
    compilation excluded); the fastest run counts, and its stages (grid search, region
    growing, refinement) are timed in a separate pass. The reference
    (:func:`~qmri_kernels.fatwater._reference.fit_voxel_reference`: NumPy grid search and
    ``scipy.optimize.least_squares`` per voxel) fits ``n_reference`` voxels drawn from the
    mask with ``rng``.

    Parameters
    ----------
    model : FatWaterModel
        The model to time (its ``fit`` is called ``repeats`` + 2 times).
    signal : complex array-like, shape (..., n_echoes)
        Complex echoes, signal units.
    mask : bool array-like, shape signal.shape[:-1], optional
        Voxels to fit; None: all.
    n_reference : int
        Voxels fitted by the reference.
    repeats : int
        Timed runs of the fast fit.
    rng : int or numpy.random.Generator
        Seed or generator of the reference's voxel sample.

    Returns
    -------
    Throughput
        Wall times in s (best fast fit with its PDFF map, its three stages, the
        reference) and voxel counts; rates in voxels/s via its properties.

    Raises
    ------
    TypeError
        If ``signal`` is real (the fit needs the phase) or ``mask`` is not boolean or
        numeric.
    ValueError
        If the last axis of ``signal`` is not the model's echo count, ``mask`` has
        another spatial shape or selects no voxel, or ``n_reference`` or ``repeats`` is
        below 1.
    """
    arr = check_complex_signal(signal, model.n_echoes)
    m = check_mask(mask, arr.shape[:-1])
    if n_reference < 1 or repeats < 1:
        raise ValueError(f"n_reference and repeats must be at least 1, got {n_reference} and "
                         f"{repeats}")
    n_vox = int(m.sum())
    if n_vox == 0:
        raise ValueError("mask selects no voxel")
    from ._reference import fit_voxel_reference        # SciPy, only when benchmarking

    # the fit is timed on the mask as given (a NIfTI mask in Fortran order is copied to
    # C order inside the fit, as in a study's own call)
    given = m if mask is None else mask
    model.fit(arr, given)                               # warm-up: compile, page in
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.fit(arr, given).pdff
        best = min(best, time.perf_counter() - t0)
    # stages, on the same voxels
    plan = model._plan
    sig = np.ascontiguousarray(arr[m], dtype=np.complex64)
    stages: dict[str, float] = {}
    model._fit_voxels(sig, m, timings=stages)
    pick = np.random.default_rng(rng).choice(n_vox, size=min(n_reference, n_vox),
                                             replace=False)
    t4 = time.perf_counter()
    for v in pick:
        fit_voxel_reference(sig[v], plan, model.max_jump_hz, model.r2star_bounds)
    t5 = time.perf_counter()
    return Throughput(n_voxels=n_vox, fit_seconds=best,
                      candidates_seconds=stages["candidates"],
                      fieldmap_seconds=stages["fieldmap"], refine_seconds=stages["refine"],
                      reference_voxels=int(pick.size), reference_seconds=t5 - t4)
