"""The multi-peak fat-water signal model of a multi-echo gradient echo."""

from __future__ import annotations

import numpy as np

from ..physics import DEFAULT_FAT_SPECTRUM, FatSpectrum


def fat_phasor(echo_times, field_strength: float = 3.0,
               fat_spectrum: FatSpectrum = DEFAULT_FAT_SPECTRUM) -> np.ndarray:
    """Complex fat basis c_n = Σ_p a_p exp(i 2π f_p t_n), shape (n_echoes,).

    Yu et al. 2008 (MRM 60:1122), eq. 2; peaks of ``fat_spectrum`` at ``field_strength`` T.

    Parameters
    ----------
    echo_times : (n_echoes,) array-like
        Echo times in s.
    field_strength : float
        B0 in tesla.
    fat_spectrum : FatSpectrum
        Peak shifts (ppm) and relative amplitudes (summing to 1).

    Returns
    -------
    (n_echoes,) ndarray of complex128
        Fat signal of unit amplitude at each echo time relative to water on resonance
        (1 at t = 0; no R2* or field-map factor).

    Examples
    --------
    >>> complex(fat_phasor([0.0])[0])
    (1+0j)
    """
    te = np.asarray(echo_times, dtype=float)
    f = fat_spectrum.frequencies_hz(field_strength)
    return np.exp(2j * np.pi * te[:, None] * f[None, :]) @ fat_spectrum.amplitudes


def signal(water, fat, r2star, fieldmap, echo_times, field_strength: float = 3.0,
           fat_spectrum: FatSpectrum = DEFAULT_FAT_SPECTRUM) -> np.ndarray:
    """Complex multi-echo gradient-echo signal of water and multi-peak fat.

    s(t) = (W + F · Σ_p a_p exp(i2π f_p t)) · exp(i2π ψ t) · exp(−R2* t),
    f_p = γ̄ · B0 · (ppm_p − 4.7) · 1e−6, with a single R2* shared by water and fat
    (Yu et al. 2008, MRM 60:1122; Reeder et al. 2004, MRM 51:35). DESIGN.md §5.

    Parameters
    ----------
    water, fat : array-like, shape (...)
        Water and fat amplitudes (real or complex; a complex value carries the initial
        phase common to both in real scanners).
    r2star : array-like, shape (...)
        Common R2* in 1/s.
    fieldmap : array-like, shape (...)
        Off-resonance ψ in Hz.
    echo_times : (n_echoes,) array-like
        Echo times in s.
    field_strength : float
        B0 in tesla.
    fat_spectrum : FatSpectrum
        Peaks and relative amplitudes.

    Returns
    -------
    ndarray, complex128, shape (..., n_echoes)
        Signal in the units of ``water`` and ``fat``; the spatial shape is
        ``water``, ``fat``, ``r2star`` and ``fieldmap`` broadcast together.

    Raises
    ------
    ValueError
        If ``echo_times`` is not 1-D (or the amplitude and map shapes do not broadcast).

    Examples
    --------
    >>> import numpy as np
    >>> s = signal(1.0, 0.0, 0.0, 0.0, [0.0015, 0.003])
    >>> bool(np.allclose(s, 1.0))
    True
    """
    te = np.asarray(echo_times, dtype=float)
    if te.ndim != 1:
        raise ValueError(f"echo_times must be 1-D, got shape {te.shape}")
    w = np.asarray(water)[..., None]
    f = np.asarray(fat)[..., None]
    r2 = np.asarray(r2star, dtype=float)[..., None]
    psi = np.asarray(fieldmap, dtype=float)[..., None]
    c = fat_phasor(te, field_strength, fat_spectrum)
    return (w + f * c) * np.exp((2j * np.pi * psi - r2) * te)
