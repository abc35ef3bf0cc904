"""The fat-water model and its fit (dipy's Model/Fit pattern)."""

from __future__ import annotations

import time
from typing import Literal

import numpy as np

from ..physics import DEFAULT_FAT_SPECTRUM, FatSpectrum
from . import _kernels as K
from ._checks import (check_complex_signal, check_echo_times, check_fat_spectrum,
                      check_field_strength, check_mask)
from ._fieldmap import (DEFAULT_MAX_JUMP_HZ, FieldMapEstimate, find_candidates,
                        region_growing_fieldmap, voxelwise_fieldmap)
from ._maps import pdff_kernel
from ._model import signal as _forward
from ._plan import DEFAULT_R2STAR_GRID, make_plan
from ._volume import MaskedVolume

__all__ = ["FatWaterModel", "FatWaterFit", "proton_density_fat_fraction"]

#: Names of the packed parameters of a :class:`FatWaterFit`, in order.
PARAMETER_NAMES: tuple[str, ...] = ("water_real", "water_imag", "fat_real", "fat_imag",
                                    "r2star", "fieldmap", "residual")

_FIELDMAP_METHODS = ("region-growing", "voxelwise")

#: Levenberg–Marquardt stops when an accepted step lowered the residual by less than this
#: fraction, or when the next step would (its Gauss–Newton decrease is at most 2gᵀx). The
#: step left out then moves the parameters by less than √(2·tol·N), 3.5e-4 of their
#: noise standard deviations with N = 6 echoes (the residual ≈ N σ², and a step's decrease
#: is its length squared in units of the noise-limited precision, times σ²).
LM_TOLERANCE: float = 1e-8


def proton_density_fat_fraction(water, fat, noise_bias_correction: bool = True) -> np.ndarray:
    """Proton-density fat fraction from complex water and fat amplitudes.

    With ``noise_bias_correction`` (the default), magnitude discrimination (Liu CY,
    McKenzie CA, Yu H, Brittain JH, Reeder SB. Fat quantification with IDEAL gradient echo
    imaging: correction of bias from T1 and noise. Magn Reson Med 2007;58:354-364): where
    water dominates, PDFF = 1 − |W| / |W + F|; where fat dominates, PDFF = |F| / |W + F|.
    The small component's magnitude |F| (or |W|) is Rician-biased upwards by noise, so
    |F| / (|W| + |F|) reads a few percent where there is no fat; the dominant magnitude and
    the complex sum are high-SNR and unbiased, so the estimate stays unbiased near 0 and
    1. It is therefore *not* clipped: in noise it falls a little below 0 or above 1, which
    keeps region-of-interest means unbiased. Without the correction, |F| / (|W| + |F|).

    Parameters
    ----------
    water, fat : array-like, complex, shape (...)
        Water and fat amplitudes at t = 0 (the fit's ``water_complex``, ``fat_complex``).
    noise_bias_correction : bool
        Use magnitude discrimination (True) or the plain magnitude ratio (False).

    Returns
    -------
    ndarray, float64, shape (...)
        Fat fraction (fraction, not percent); NaN where |W| + |F| = 0 or inputs are NaN.

    Examples
    --------
    >>> round(float(proton_density_fat_fraction(0.8 + 0j, 0.2 + 0j)), 12)
    0.2
    """
    w = np.asarray(water)
    f = np.asarray(fat)
    aw = np.abs(w)
    af = np.abs(f)
    with np.errstate(invalid="ignore", divide="ignore"):
        naive = af / (aw + af)
        if not noise_bias_correction:
            return np.asarray(naive, dtype=np.float64)
        total = np.abs(w + f)
        out = np.where(aw >= af, 1.0 - aw / total, af / total)
        out = np.where(total > 0, out, np.nan)
    return np.asarray(out, dtype=np.float64)


class FatWaterModel:
    """Multi-echo gradient-echo fat-water model: water, fat, PDFF, R2* and B0 field map.

    Signal model (DESIGN.md §5): s(t) = (W + F·Σ_p a_p e^{i2πf_p t})·e^{i2πψt}·e^{−R2* t}
    with complex W, F, one R2* shared by water and fat, and ψ the off-resonance in Hz —
    the multi-peak IDEAL model (Reeder SB et al. Multicoil Dixon chemical species
    separation with an iterative least-squares estimation method. Magn Reson Med
    2004;51:35-45; Yu H, Shimakawa A, McKenzie CA, Brodsky E, Brittain JH, Reeder SB.
    Multiecho water-fat separation and simultaneous R2* estimation with multifrequency fat
    spectrum modeling. Magn Reson Med 2008;60:1122-1134; the IDEAL-IQ model).

    :meth:`fit` runs three steps:

    1. **Variable projection** grid search (Hernando D et al. Magn Reson Med
       2008;59:571-580): W and F are linear, so for each (ψ, R2*) on a grid they are
       projected out in closed form and the residual ||s||² − ||P_A s||² kept; the local
       minima in ψ of each voxel are its candidate field maps.
    2. **Spatial field-map step** (``fieldmap_method="region-growing"``): quality-guided
       region growing (Yu H et al. Magn Reson Med 2005;54:1032-1039) picks, voxel by
       voxel, the candidate consistent with the smooth field of its neighbours, and decides
       each connected region's start by the summed residual — see
       :func:`~qmri_kernels.fatwater._fieldmap.region_growing_fieldmap`. Used when the
       signal has 2 or 3 spatial axes; 0- or 1-D inputs (lists of voxels) are fitted voxel
       by voxel. ``"voxelwise"`` takes each voxel's lowest minimum — the swap-prone
       baseline shown in the book.
    3. **Per-voxel nonlinear refinement**: Levenberg–Marquardt on (W, F, R2*, ψ) from the
       chosen minimum, ψ kept within ``max_jump_hz`` of it and R2* within
       ``r2star_bounds``.

    PDFF uses magnitude discrimination (Liu 2007); see :func:`proton_density_fat_fraction`.

    Parameters
    ----------
    echo_times : (n_echoes,) array-like
        Echo times in s, strictly increasing, at least 3.
    field_strength : float
        B0 in tesla.
    fat_spectrum : FatSpectrum
        Fat peaks and relative amplitudes; default the six-peak spectrum of Hamilton 2011
        (:data:`qmri_kernels.physics.DEFAULT_FAT_SPECTRUM`).
    fieldmap_method : {"region-growing", "voxelwise"}
        Field-map initialisation (step 2).
    reliability : float
        Voxels whose RMS signal is below this fraction of the 99th percentile do not carry
        the region growing (they are filled from their neighbours afterwards).
    r2star_bounds : (2,) tuple of float
        Bounds of R2* in 1/s.
    max_jump_hz : float
        Largest departure of ψ from its neighbours' prediction, and of the refined ψ from
        its start, in Hz.
    max_iter : int
        Largest number of Levenberg–Marquardt iterations per voxel. Tissue voxels converge
        in 3–5 from the variable-projection start; the cap bounds the time spent fitting
        noise (background voxels when no mask is given).

    Raises
    ------
    ValueError
        If ``echo_times`` are not strictly increasing, fewer than 3, not in seconds, or
        cannot separate water from fat; if another argument is out of range.
    TypeError
        If ``fat_spectrum`` is not a FatSpectrum.

    Examples
    --------
    >>> import numpy as np
    >>> from qmri_kernels.fatwater import FatWaterModel, signal
    >>> te = 1.5e-3 * np.arange(1, 7)
    >>> s = signal(np.array([0.9, 0.2]), np.array([0.1, 0.8]), 40.0, 25.0, te)
    >>> fit = FatWaterModel(te).fit(s)
    >>> np.round(fit.pdff, 3).tolist(), np.round(fit.fieldmap, 1).tolist()
    ([0.1, 0.8], [25.0, 25.0])
    """

    def __init__(self, echo_times, field_strength: float = 3.0,
                 fat_spectrum: FatSpectrum = DEFAULT_FAT_SPECTRUM, *,
                 fieldmap_method: Literal["region-growing", "voxelwise"] = "region-growing",
                 reliability: float = 0.1, r2star_bounds: tuple[float, float] = (0.0, 1000.0),
                 max_jump_hz: float = DEFAULT_MAX_JUMP_HZ, max_iter: int = 12) -> None:
        self.echo_times = check_echo_times(echo_times)
        self.field_strength = check_field_strength(field_strength)
        self.fat_spectrum = check_fat_spectrum(fat_spectrum)
        if fieldmap_method not in _FIELDMAP_METHODS:
            raise ValueError(f"fieldmap_method must be one of {_FIELDMAP_METHODS}, got "
                             f"{fieldmap_method!r}")
        self.fieldmap_method = fieldmap_method
        reliability = float(reliability)
        if not 0.0 <= reliability < 1.0:
            raise ValueError(f"reliability must be in [0, 1), got {reliability}")
        self.reliability = reliability
        lo, hi = (float(b) for b in r2star_bounds)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"r2star_bounds must be finite (low, high) in 1/s with low < high, "
                             f"got {r2star_bounds}")
        self.r2star_bounds = (lo, hi)
        self.max_jump_hz = float(max_jump_hz)
        if not self.max_jump_hz > 0:
            raise ValueError(f"max_jump_hz must be positive, got {max_jump_hz}")
        self.max_iter = int(max_iter)
        if self.max_iter < 1:
            raise ValueError(f"max_iter must be at least 1, got {max_iter}")
        r2_grid = np.clip(np.asarray(DEFAULT_R2STAR_GRID), lo, hi)
        self._plan = make_plan(self.echo_times, self.field_strength, self.fat_spectrum,
                               r2_grid=np.unique(r2_grid))

    @property
    def n_echoes(self) -> int:
        """Number of echoes."""
        return int(self.echo_times.size)

    def __repr__(self) -> str:
        te_ms = ", ".join(f"{t * 1e3:g}" for t in self.echo_times)
        return (f"FatWaterModel(echo_times_ms=[{te_ms}], field_strength={self.field_strength:g}, "
                f"fat_spectrum={self.fat_spectrum.name!r}, "
                f"fieldmap_method={self.fieldmap_method!r})")

    def fit(self, signal, mask=None) -> "FatWaterFit":
        """Fit every voxel of ``signal`` inside ``mask``.

        Parameters
        ----------
        signal : array-like, complex, shape (..., n_echoes)
            Complex multi-echo signal with at most 3 spatial axes (x, y, z) — build it from
            magnitude+phase or real+imaginary images with
            :func:`~qmri_kernels.fatwater.combine_complex`.
        mask : array-like of bool, shape signal.shape[:-1], optional
            Voxels to fit (default all). The region growing runs inside the mask, so a
            body mask keeps it out of the background noise.

        Returns
        -------
        FatWaterFit
            Maps of shape ``signal.shape[:-1]``, NaN outside the mask.

        Raises
        ------
        TypeError
            If ``signal`` is real (magnitude only).
        ValueError
            If ``signal``'s last axis is not ``n_echoes`` long, it has more than 3 spatial
            axes, or ``mask`` has another shape.
        """
        arr = check_complex_signal(signal, self.n_echoes)
        spatial = arr.shape[:-1]
        if len(spatial) > 3:
            raise ValueError(f"signal must have at most 3 spatial axes (x, y, z) before the "
                             f"echo axis, got shape {arr.shape}")
        m = check_mask(mask, spatial)
        # extraction and scatter run block-parallel (equal to arr[m] and out[m] = ...)
        vol = MaskedVolume(m)
        sig = vol.gather(arr)
        out, init = self._fit_voxels(sig, m)
        return FatWaterFit(self, vol, out, init)

    def _fit_voxels(self, sig: np.ndarray, mask: np.ndarray, timings: dict | None = None
                    ) -> tuple[np.ndarray, FieldMapEstimate]:
        """Fit the masked voxels ``sig`` (voxels, echoes); ``timings`` (if given) receives
        the seconds of each stage: ``candidates``, ``fieldmap``, ``refine``."""
        plan = self._plan
        if sig.shape[0] == 0:
            empty = np.empty(0)
            return (np.empty((0, len(PARAMETER_NAMES))),
                    FieldMapEstimate(empty, empty, np.empty(0, np.int8)))
        t0 = time.perf_counter()
        cands = find_candidates(sig, plan)
        t1 = time.perf_counter()
        if self.fieldmap_method == "region-growing" and mask.ndim >= 2:
            init = region_growing_fieldmap(sig, mask, plan, cands,
                                           reliability=self.reliability,
                                           max_jump=self.max_jump_hz)
        else:
            init = voxelwise_fieldmap(cands)
        t2 = time.perf_counter()
        lo, hi = self.r2star_bounds
        out = K.refine_kernel(sig, init.psi, plan.te, plan.c, plan.decay, plan.gram,
                              plan.r2_grid, self.max_jump_hz, lo, hi, self.max_iter,
                              LM_TOLERANCE)
        if timings is not None:
            timings.update(candidates=t1 - t0, fieldmap=t2 - t1,
                           refine=time.perf_counter() - t2)
        return out, init


class FatWaterFit:
    """Result of :meth:`FatWaterModel.fit`: maps of shape ``signal.shape[:-1]``.

    The parameters are kept packed in :attr:`model_params`, shape (..., 7), in the order
    of ``PARAMETER_NAMES`` (Re W, Im W, Re F, Im F, R2* in 1/s, field map in Hz, RMS
    residual); the maps are views computed from it. NaN outside the mask. The PDFF map
    is computed on first use, and the field-map step's diagnostics
    (:attr:`fieldmap_initial`, :attr:`fieldmap_source`) on every use, from the values of
    the masked voxels.
    """

    def __init__(self, model: FatWaterModel, volume: MaskedVolume, voxels: np.ndarray,
                 initial: FieldMapEstimate) -> None:
        self.model = model
        self._volume = volume
        self._voxels = voxels                       # (V, 7) packed, the masked voxels
        self._params = volume.scatter(voxels, np.nan)
        self._initial = initial                     # per masked voxel; volumes on demand
        self._pdff = None

    @property
    def model_params(self) -> np.ndarray:
        """Packed parameters, shape (..., 7) (a read-only view)."""
        v = self._params.view()
        v.setflags(write=False)
        return v

    @property
    def shape(self) -> tuple[int, ...]:
        """Spatial shape of the maps."""
        return self._params.shape[:-1]

    @property
    def water_complex(self) -> np.ndarray:
        """Complex water amplitude W at t = 0, same units as the signal."""
        return self._params[..., 0] + 1j * self._params[..., 1]

    @property
    def fat_complex(self) -> np.ndarray:
        """Complex fat amplitude F at t = 0, same units as the signal."""
        return self._params[..., 2] + 1j * self._params[..., 3]

    @property
    def water(self) -> np.ndarray:
        """Water signal |W| (magnitude image), same units as the signal."""
        return np.abs(self.water_complex)

    @property
    def fat(self) -> np.ndarray:
        """Fat signal |F| (magnitude image), same units as the signal."""
        return np.abs(self.fat_complex)

    @property
    def pdff(self) -> np.ndarray:
        """Proton-density fat fraction (fraction; magnitude discrimination, Liu 2007).

        Unbiased near 0 and 1 and therefore not clipped: noise puts some voxels slightly
        below 0 or above 1. See :func:`proton_density_fat_fraction`.
        """
        if self._pdff is None:
            # proton_density_fat_fraction's arithmetic in one parallel pass over the
            # masked voxels (NaN outside, as the array form gives for NaN parameters)
            self._pdff = self._volume.scatter(pdff_kernel(self._voxels), np.nan)
            self._pdff.setflags(write=False)
        return self._pdff

    @property
    def r2star(self) -> np.ndarray:
        """R2* in 1/s."""
        return self._params[..., 4].copy()

    @property
    def fieldmap(self) -> np.ndarray:
        """B0 off-resonance ψ in Hz."""
        return self._params[..., 5].copy()

    @property
    def residual(self) -> np.ndarray:
        """RMS over echoes of the complex fit residual |s − ŝ|, same units as the signal."""
        return self._params[..., 6].copy()

    @property
    def fieldmap_initial(self) -> np.ndarray:
        """Field map (Hz) chosen by the field-map step, before the per-voxel refinement."""
        return self._volume.scatter(self._initial.psi, np.nan)

    @property
    def fieldmap_source(self) -> np.ndarray:
        """How each voxel's initial field map was chosen (int8 code, shape ``shape``).

        1 grown from a cost minimum, 2 grown by neighbour prediction, 3 seed of a
        region, 4 filled from a minimum, 5 filled by prediction, 6 island seed, 7
        voxel-wise lowest minimum, 0 none (outside the mask or non-finite signal).
        """
        return self._volume.scatter(self._initial.how, 0)

    def predict(self, echo_times=None) -> np.ndarray:
        """Model signal at ``echo_times`` (s; default the model's), shape (..., n_echoes).

        Parameters
        ----------
        echo_times : (n_echoes,) array-like, optional
            Echo times in s at which to evaluate the fitted model; None: the model's own.

        Returns
        -------
        ndarray of complex128, shape (..., n_echoes)
            :func:`~qmri_kernels.fatwater.signal` of the fitted W, F, R2* and field map,
            in signal units; NaN outside the fitted mask.
        """
        te = self.model.echo_times if echo_times is None else np.asarray(echo_times, float)
        return _forward(self.water_complex, self.fat_complex, self.r2star, self.fieldmap, te,
                        self.model.field_strength, self.model.fat_spectrum)
