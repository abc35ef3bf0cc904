"""Fat in the fat-saturated spin echo: the PDFF → fat-share relation and fat T2 calibration.

The EPG fit's ``fat_fraction`` is the fat *signal share* a_f / (a_w + a_f) of this
sequence. With CHESS fat saturation, T1 saturation at the repetition time and the
off-resonance dependence of the saturation band it is much smaller than the Dixon PDFF
(about 3 % for a 10 % PDFF voxel on resonance). The relation lives in
:mod:`qmri_kernels.fatsat` — the phantom simulates with the same function — and is
re-exported here with the protocol's defaults.
"""

from __future__ import annotations

import numpy as np

from ..fatsat import CHESS_BANDWIDTH_HZ, CHESS_EFFICIENCY, mese_fat_share
from ..physics import T1_FAT_3T, T1_MUSCLE_3T
from ._validate import as_count, as_float_array
from .epg_model import EPGT2Model

__all__ = ["residual_fat_share", "calibrate_fat_t2", "FatT2Calibration"]


def residual_fat_share(pdff, fieldmap_hz=0.0, repetition_time: float = 1.046, *,
                       field_strength: float = 3.0, water_t1: float = T1_MUSCLE_3T,
                       fat_t1: float = T1_FAT_3T, fatsat_efficiency: float = CHESS_EFFICIENCY,
                       fatsat_bandwidth_hz: float = CHESS_BANDWIDTH_HZ) -> np.ndarray:
    """Fat signal share of a CHESS fat-saturated multi-echo spin echo from the PDFF.

    A_w ∝ (1 − PDFF)(1 − e^{−TR/T1w}), A_f ∝ PDFF (1 − e^{−TR/T1f}) · w(ψ), where w is the
    fraction of the multi-peak fat signal outside the CHESS band at the local
    off-resonance ψ (Haase et al. 1985, Phys Med Biol 30:341; Gaussian band of
    ``fatsat_bandwidth_hz`` FWHM and peak ``fatsat_efficiency``); returns A_f/(A_w + A_f).
    It is :func:`qmri_kernels.fatsat.mese_fat_share` with this protocol's defaults
    (TR 1.046 s, Wang et al. 2023), the relation the phantom simulates with.

    Parameters
    ----------
    pdff : array-like, shape (...)
        Proton-density fat fraction in [0, 1] (Dixon, resampled onto the spin-echo grid).
    fieldmap_hz : array-like, shape (...)
        Off-resonance in Hz during the spin echo (the Dixon field map is a fair estimate).
    repetition_time : float
        TR in s.
    field_strength, water_t1, fat_t1, fatsat_efficiency, fatsat_bandwidth_hz
        T, s, s, fraction, Hz.

    Returns
    -------
    ndarray, shape (...), in [0, 1]; NaN where ``pdff`` is NaN.
        Fat share (fraction). A NaN ``fieldmap_hz`` gives 0, not NaN: pass only voxels
        with a field-map value (as :func:`~qmri_kernels.t2.water_t2_subject` does).

    Raises
    ------
    ValueError
        If a ``pdff`` value lies outside [0, 1] or is ±inf, or ``repetition_time`` is not
        positive.

    Examples
    --------
    >>> round(float(residual_fat_share(0.10)), 3)
    0.034
    """
    ff = as_float_array(np.nan_to_num(np.asarray(pdff, float), nan=0.0), "pdff")
    if (ff < 0).any() or (ff > 1).any():
        raise ValueError("pdff must lie in [0, 1] (a fraction, not percent)")
    share = mese_fat_share(ff, fieldmap_hz, repetition_time, field_strength, water_t1,
                           fat_t1, bandwidth_hz=fatsat_bandwidth_hz,
                           efficiency=fatsat_efficiency)
    return np.where(np.isnan(np.asarray(pdff, float)), np.nan, share)


class FatT2Calibration:
    """Result of :func:`calibrate_fat_t2`: the chosen fat T2 and the cost curve.

    Attributes
    ----------
    fat_t2 : float
        Calibrated fat T2, s.
    candidates : (K,) ndarray
        Fat T2 values tried, s.
    cost : (K,) ndarray
        Sum of squared residuals of the water/fat fit over the calibration voxels.
    n_voxels : int
    """

    def __init__(self, fat_t2: float, candidates: np.ndarray, cost: np.ndarray,
                 n_voxels: int) -> None:
        self.fat_t2 = fat_t2
        self.candidates = candidates
        self.cost = cost
        self.n_voxels = n_voxels

    def __repr__(self) -> str:
        return f"FatT2Calibration(fat_t2={self.fat_t2 * 1e3:.1f} ms, n_voxels={self.n_voxels})"


def calibrate_fat_t2(model: EPGT2Model, magnitude, mask, fat_fraction=None, *,
                     candidates=None, water_t2_range: tuple[float, float] = (0.025, 0.050),
                     max_voxels: int = 20000, rng=0) -> FatT2Calibration:
    """Fat T2 that best explains the echo trains of fat-rich voxels (e.g. subcutaneous fat).

    For each candidate fat T2 the water/fat EPG model is fitted to the voxels of ``mask``
    (water T2, B1 and the amplitudes free, or the fat share fixed by ``fat_fraction``);
    the candidate with the least total squared residual wins, refined by a parabola
    through it and its neighbours (the per-subject calibration of Marty et al. 2016,
    NMR Biomed 29:431, in subcutaneous fat). Behind fat saturation subcutaneous fat keeps
    only ~20 % more fat than water signal, and with the fat share free the water T2 trades
    off against the fat T2: fix the share from the PDFF when it is known (chapter 4
    measures both against the phantom).

    Parameters
    ----------
    model : EPGT2Model
        Acquisition; its own ``fat_t2`` is ignored.
    magnitude : array-like, shape (..., n_echoes)
        Echo magnitudes, signal units.
    mask : array-like of bool, shape (...)
        Fat-rich voxels (e.g. Dixon PDFF > 0.8 eroded away from muscle).
    fat_fraction : array-like, shape (...), optional
        Known fat signal share (:func:`residual_fat_share`) to fix during calibration.
    candidates : array-like, optional
        Fat T2 values in s (default 60-300 ms in 8 % steps).
    water_t2_range : (float, float)
        Bounds of the water T2 (s) of the minor water component during calibration. The
        default 25-50 ms (connective tissue and skin water) removes the water-T2 / fat-T2
        trade-off; with 10-250 ms the phantom's fat T2 came out ~10 ms short.
    max_voxels : int
        Random subset size (seeded by ``rng``) to bound the cost.
    rng : int or numpy.random.Generator
        Seed or generator of the voxel subset.

    Returns
    -------
    FatT2Calibration
        ``fat_t2`` (s; the parabola-refined minimum, or the best candidate at an end of
        the range), the candidates (s, sorted) and their summed squared residuals.

    Raises
    ------
    ValueError
        If ``mask`` does not match the spatial shape of ``magnitude`` or selects no voxel,
        ``max_voxels`` is below 1, or ``candidates`` is not 1-D with at least 3 positive
        values.
    """
    m = np.asarray(mask, dtype=bool)
    mag = np.asarray(magnitude)
    if m.shape != mag.shape[:-1]:
        raise ValueError(f"mask has shape {m.shape} but magnitude has spatial shape "
                         f"{mag.shape[:-1]}")
    idx = np.flatnonzero(m)
    if idx.size == 0:
        raise ValueError("mask selects no voxels for the fat T2 calibration")
    gen = np.random.default_rng(rng)
    n_max = as_count(max_voxels, "max_voxels", 1)
    if idx.size > n_max:
        idx = np.sort(gen.choice(idx, n_max, replace=False))
    data = mag.reshape(-1, mag.shape[-1])[idx]
    ff = None
    if fat_fraction is not None:
        ff = np.broadcast_to(np.asarray(fat_fraction, float), m.shape).reshape(-1)[idx]
    cand = (np.exp(np.arange(np.log(0.06), np.log(0.31), 0.08)) if candidates is None
            else as_float_array(candidates, "candidates", positive=True))
    if cand.ndim != 1 or cand.size < 3:
        raise ValueError("candidates must be a 1-D array of at least 3 fat T2 values (s)")
    cand = np.sort(cand)
    base = model.with_fat_t2(float(cand[0]), t2_range=water_t2_range)
    cost = np.array([np.sum(base.with_fat_t2(float(c)).fit(data, fat_fraction=ff).residual
                            ** 2 * model.n_echoes) for c in cand])
    k = int(np.argmin(cost))
    best = float(cand[k])
    if 0 < k < cand.size - 1:
        x = np.log(cand[k - 1:k + 2])
        a, b, _ = np.polyfit(x, cost[k - 1:k + 2], 2)
        if a > 0:
            best = float(np.exp(np.clip(-b / (2 * a), x[0], x[2])))
    return FatT2Calibration(best, cand, cost, int(idx.size))
