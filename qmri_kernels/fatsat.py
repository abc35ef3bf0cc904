"""Chemical-shift-selective (CHESS) fat saturation and the fat signal it leaves.

The paper's T2 map is a multi-echo spin echo with CHESS fat saturation (Haase et al. 1985,
Phys Med Biol 30:341). A CHESS pulse saturates a band of frequencies centred on the
methylene peak; fat peaks near water (olefinic 5.3 ppm, glycerol 4.2 ppm) escape it, and
where B0 is off resonance the band slides off the fat peaks, so the saturation weakens.
The residual fat signal biases a mono-exponential water T2 upwards; the EPG water/fat fit
(Marty et al. 2016, NMR Biomed 29:431) models it as a second component whose share this
module predicts from a Dixon PDFF and field map.

The spectral profile is modelled as a Gaussian band of full width at half maximum
``bandwidth_hz`` and peak efficiency ``efficiency`` (the fraction of longitudinal
magnetisation nulled at the band centre; real CHESS reaches about 0.9–0.98 because of T1
recovery before excitation and B1 variation, e.g. Bley et al. 2010, JMRI 31:4).
"""

from __future__ import annotations

import numpy as np

from .physics import (DEFAULT_FAT_SPECTRUM, GAMMA_BAR_HZ_PER_T, T1_FAT_3T, T1_MUSCLE_3T,
                      FatSpectrum, WATER_PPM)

__all__ = ["CHESS_CENTRE_PPM", "CHESS_BANDWIDTH_HZ", "CHESS_EFFICIENCY",
           "chess_saturation", "residual_fat_weight", "mese_fat_share"]

#: Centre of the CHESS band, ppm (the methylene peak, 1.3 ppm).
CHESS_CENTRE_PPM: float = 1.3
#: Full width at half maximum of the CHESS band at 3 T, Hz.
CHESS_BANDWIDTH_HZ: float = 300.0
#: Fraction of magnetisation saturated at the band centre.
CHESS_EFFICIENCY: float = 0.95


def chess_saturation(offset_hz, field_strength: float = 3.0,
                     bandwidth_hz: float = CHESS_BANDWIDTH_HZ,
                     efficiency: float = CHESS_EFFICIENCY,
                     centre_ppm: float = CHESS_CENTRE_PPM) -> np.ndarray:
    """Fraction of magnetisation saturated at a frequency ``offset_hz`` from water.

    Parameters
    ----------
    offset_hz : array-like
        Resonance frequency relative to water on resonance, Hz (a fat peak's offset plus
        the local field map).
    field_strength : float
        B0, T.
    bandwidth_hz : float
        Full width at half maximum of the Gaussian saturation band, Hz.
    efficiency : float
        Fraction saturated at the band centre.
    centre_ppm : float
        Chemical shift of the band centre, ppm (1.3: methylene).

    Returns
    -------
    ndarray, same shape as ``offset_hz``, values in [0, efficiency].
        Saturated fraction (0: untouched, ``efficiency`` at the band centre).
    """
    centre = GAMMA_BAR_HZ_PER_T * field_strength * (centre_ppm - WATER_PPM) * 1e-6
    x = (np.asarray(offset_hz, dtype=float) - centre) / bandwidth_hz
    return efficiency * np.exp(-4.0 * np.log(2.0) * x ** 2)


def residual_fat_weight(fieldmap_hz, field_strength: float = 3.0,
                        fat_spectrum: FatSpectrum = DEFAULT_FAT_SPECTRUM,
                        bandwidth_hz: float = CHESS_BANDWIDTH_HZ,
                        efficiency: float = CHESS_EFFICIENCY) -> np.ndarray:
    """Fraction of the fat signal that survives CHESS at a local off-resonance.

    Σ_p a_p · (1 − saturation(f_p + ψ)), with the peaks of ``fat_spectrum``.

    Parameters
    ----------
    fieldmap_hz : array-like, shape (...)
        Local off-resonance ψ, Hz.
    field_strength : float
        B0, T.
    fat_spectrum : FatSpectrum
        Fat peaks (ppm) and relative amplitudes.
    bandwidth_hz : float
        FWHM of the CHESS band, Hz.
    efficiency : float
        Fraction of magnetisation saturated at the band centre.

    Returns
    -------
    ndarray, shape (...), in [0, 1]. About 0.17 on resonance with the defaults.
        Fraction of the fat signal left after saturation (NaN where ``fieldmap_hz`` is
        NaN).
    """
    psi = np.asarray(fieldmap_hz, dtype=float)[..., None]
    f = fat_spectrum.frequencies_hz(field_strength)
    sat = chess_saturation(f + psi, field_strength, bandwidth_hz, efficiency)
    return (1.0 - sat) @ fat_spectrum.amplitudes


def mese_fat_share(pdff, fieldmap_hz, repetition_time: float, field_strength: float = 3.0,
                   water_t1: float = T1_MUSCLE_3T, fat_t1: float = T1_FAT_3T,
                   fat_spectrum: FatSpectrum = DEFAULT_FAT_SPECTRUM,
                   bandwidth_hz: float = CHESS_BANDWIDTH_HZ,
                   efficiency: float = CHESS_EFFICIENCY) -> np.ndarray:
    """Fat share of the echo-train amplitude in a CHESS fat-saturated multi-echo spin echo.

    The EPG water/fat model writes the signal as A_w·E(T2w, B1) + A_f·E(T2f, B1) with both
    decay curves normalised; this returns A_f / (A_w + A_f) with
    A_w ∝ (1 − PDFF)(1 − exp(−TR/T1w)) and
    A_f ∝ PDFF · (1 − exp(−TR/T1f)) · :func:`residual_fat_weight`.
    It is not PDFF: with the defaults a 10 % PDFF voxel on resonance gives about 3 %.

    Parameters
    ----------
    pdff : array-like, shape (...)
        Proton-density fat fraction in [0, 1] (e.g. from the Dixon fit, resampled).
    fieldmap_hz : array-like, shape (...)
        Off-resonance during the T2 scan, Hz (the Dixon field map is a fair estimate).
    repetition_time : float
        TR of the spin-echo train, s (1.046 s in Wang 2023).
    field_strength : float
        B0, T.
    water_t1, fat_t1 : float
        T1 of muscle water and of fat, s (saturation recovery over TR).
    fat_spectrum : FatSpectrum
        Fat peaks saturated by the CHESS pulse.
    bandwidth_hz : float
        FWHM of the CHESS band, Hz.
    efficiency : float
        Fraction of magnetisation saturated at the band centre.

    Returns
    -------
    ndarray, shape broadcast(pdff, fieldmap_hz), in [0, 1]
        Fat fraction of the echo-train amplitude. Where ``pdff`` or ``fieldmap_hz`` is
        NaN the result is 0, not NaN: mask such voxels yourself.

    Raises
    ------
    ValueError
        If a finite ``pdff`` lies outside [0, 1] or ``repetition_time`` is not positive.
    """
    ff = np.asarray(pdff, dtype=float)
    if np.any(ff[np.isfinite(ff)] < 0) or np.any(ff[np.isfinite(ff)] > 1):
        raise ValueError("pdff must lie in [0, 1]")
    if repetition_time <= 0:
        raise ValueError(f"repetition_time must be positive, got {repetition_time}")
    sw = 1.0 - np.exp(-repetition_time / water_t1)
    sf = 1.0 - np.exp(-repetition_time / fat_t1)
    aw = (1.0 - ff) * sw
    af = ff * sf * residual_fat_weight(fieldmap_hz, field_strength, fat_spectrum,
                                       bandwidth_hz, efficiency)
    total = aw + af
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, af / np.where(total > 0, total, 1.0), 0.0)
