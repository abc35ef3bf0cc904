"""Slice profiles of windowed-sinc RF pulses: flip angle as a function of position.

Two ways to get the flip angle across the slice:

- ``"bloch"``: the pulse is simulated with the hard-pulse approximation in Cayley-Klein
  (spinor) form (Pauly et al. 1991, IEEE TMI 10:53), and the effective flip angle at each
  position is θ(z) = 2 arcsin|β(z)|. For a symmetric refocusing pulse with crushers the
  refocused fraction is |β|² = sin²(θ/2) (Hennig 1988), so this is exact for the EPG;
  for excitation |M_xy| = 2|αβ| = sin θ after rephasing.
- ``"fourier"``: the small-tip approximation, θ(z) ∝ |FT of the RF envelope| scaled to the
  nominal flip at the centre (as MyoQMRI's ``calcSliceprof_fft``; inaccurate for 180°
  pulses, provided for comparison).

Positions are in units of the excitation slice thickness; the RF bandwidth
``time_bandwidth / duration`` maps onto ``width`` slice thicknesses.

At a relative transmit field B1 the flip profile is either the nominal one scaled,
b1 · θ(z) (``b1_scaling="flip"``, as Lebel & Wilman 2010, MRM 64:1005, and MyoQMRI), or
that of the scaled pulse (``"pulse"``): :func:`flip_profile_table` simulates the pulse at
a grid of B1 values and :func:`cpmg_pulse_profile_kernel` interpolates it per voxel. The
Bloch equations are not linear in the RF amplitude, so near 180° the two differ (at B1 0.8
a 180° Hann-windowed sinc of TBW 2 flips 105° a third of a slice off centre; the scaled
profile says 89°).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._epg_kernels import cpmg_echoes

_WINDOWS = ("hann", "hamming", "none")
_METHODS = ("bloch", "fourier", "ideal")
_B1_SCALINGS = ("flip", "pulse")
_N_RF_SAMPLES = 512
#: B1 grid of :func:`flip_profile_table` (0 to 2 in steps of 0.005).
PULSE_B1_STEP: float = 0.005
PULSE_B1_MAX: float = 2.0


def rf_envelope(time_bandwidth: float, window: str, n_samples: int = _N_RF_SAMPLES):
    """Windowed-sinc envelope on ``n_samples`` points over the pulse duration.

    Returns the normalised times t ∈ (-1/2, 1/2) (units of the duration) and the envelope
    sinc(TBW · t) · w(t), w the Hann (0.5 + 0.5 cos 2πt) or Hamming (0.54 + 0.46 cos 2πt)
    window, or 1.
    """
    t = (np.arange(n_samples) + 0.5) / n_samples - 0.5
    env = np.sinc(time_bandwidth * t)
    if window == "hann":
        env = env * (0.5 + 0.5 * np.cos(2 * np.pi * t))
    elif window == "hamming":
        env = env * (0.54 + 0.46 * np.cos(2 * np.pi * t))
    return t, env


def flip_profile(flip_angle: float, positions: np.ndarray, time_bandwidth: float,
                 window: str, method: str, width: float = 1.0) -> np.ndarray:
    """Flip angle (rad) at ``positions`` (slice thicknesses) for a windowed-sinc pulse.

    Parameters
    ----------
    flip_angle : float
        Nominal flip angle at the slice centre (rad).
    positions : (S,) ndarray
        Positions through the slice in units of the excitation slice thickness.
    time_bandwidth : float
        Time-bandwidth product of the sinc (number of zero crossings ≈ TBW).
    window : {"hann", "hamming", "none"}
        Apodisation window.
    method : {"bloch", "fourier", "ideal"}
        How the profile is computed (module docstring); ``"ideal"`` is a rectangle of
        ``width`` slice thicknesses.
    width : float
        This pulse's slice thickness relative to the excitation slice.

    Returns
    -------
    (S,) ndarray
        Flip angle in rad, non-negative.
    """
    x = np.asarray(positions, dtype=np.float64) / width
    if method == "ideal":
        return np.where(np.abs(x) < 0.5, flip_angle, 0.0)
    t, env = rf_envelope(time_bandwidth, window)
    area = env.sum()
    # Frequency offset at x (in units of the bandwidth) → phase per RF sample.
    if method == "fourier":
        phase = np.exp(-2j * np.pi * time_bandwidth * np.outer(x, t))
        prof = np.abs(phase @ env) / area
        return flip_angle * prof
    # Bloch: compose the hard-pulse rotations (RF about x, gradient about z) per position.
    n = env.size
    bx = flip_angle * env / area                       # rotation angle of each RF sample
    gz = 2 * np.pi * time_bandwidth * x / n            # precession per sample at x
    a = np.ones(x.shape, dtype=np.complex128)
    b = np.zeros(x.shape, dtype=np.complex128)
    for j in range(n):
        phi = np.sqrt(bx[j] ** 2 + gz ** 2)
        safe = np.where(phi > 0, phi, 1.0)
        nx = np.where(phi > 0, bx[j] / safe, 0.0)
        nz = np.where(phi > 0, gz / safe, 0.0)
        sh = np.sin(phi / 2)
        aj = np.cos(phi / 2) - 1j * nz * sh
        bj = -1j * nx * sh
        a, b = aj * a - np.conj(bj) * b, bj * a + np.conj(aj) * b
    return 2 * np.arcsin(np.clip(np.abs(b), 0.0, 1.0))


def flip_profile_table(flip_angle: float, positions: np.ndarray, time_bandwidth: float,
                       window: str, width: float = 1.0) -> np.ndarray:
    """Bloch flip angle (rad) of the pulse scaled by each B1 of a grid, at each position.

    The hard-pulse Cayley-Klein simulation of :func:`flip_profile` (``method="bloch"``),
    vectorised over the B1 grid 0, 0.005, ..., 2 (:data:`PULSE_B1_STEP`,
    :data:`PULSE_B1_MAX`).

    Parameters
    ----------
    flip_angle : float
        Nominal flip angle at the slice centre at B1 = 1, rad.
    positions : (S,) ndarray
        Positions in excitation slice thicknesses.
    time_bandwidth, window, width
        As in :func:`flip_profile`.

    Returns
    -------
    (NB, S) ndarray
        ``out[i, j]``: flip angle at position j of the pulse scaled by B1 = i · 0.005.
    """
    b1 = np.arange(0.0, PULSE_B1_MAX + 1e-9, PULSE_B1_STEP)
    x = np.asarray(positions, dtype=np.float64) / width
    _, env = rf_envelope(time_bandwidth, window)
    n = env.size
    bx = (flip_angle * env / env.sum())[:, None, None] * b1[None, :, None]
    gz = (2 * np.pi * time_bandwidth * x / n)[None, :]
    a = np.ones((b1.size, x.size), dtype=np.complex128)
    b = np.zeros((b1.size, x.size), dtype=np.complex128)
    for j in range(n):
        phi = np.sqrt(bx[j] ** 2 + gz ** 2)
        safe = np.where(phi > 0, phi, 1.0)
        nx = np.where(phi > 0, bx[j] / safe, 0.0)
        nz = np.where(phi > 0, gz / safe, 0.0)
        sh = np.sin(phi / 2)
        aj = np.cos(phi / 2) - 1j * nz * sh
        bj = -1j * nx * sh
        a, b = aj * a - np.conj(bj) * b, bj * a + np.conj(aj) * b
    return 2 * np.arcsin(np.clip(np.abs(b), 0.0, 1.0))


@njit(cache=True)
def _pulse_profile_voxel(t2, t1, b1, tau, n_echoes, exc_tab, ref_tab, b1_step, weights,
                         fp, fm, z, row, out):
    """One voxel: flips interpolated from the tables at its B1, sub-slice trains summed."""
    nb = exc_tab.shape[0]
    x = min(max(b1 / b1_step, 0.0), nb - 1.0)
    i = min(int(math.floor(x)), nb - 2)
    f = x - i
    for j in range(exc_tab.shape[1]):
        exc = (1.0 - f) * exc_tab[i, j] + f * exc_tab[i + 1, j]
        ref = (1.0 - f) * ref_tab[i, j] + f * ref_tab[i + 1, j]
        cpmg_echoes(t2, t1, tau, ref, n_echoes, fp, fm, z, row, weights[j] * math.sin(exc))
        for n in range(n_echoes):
            out[n] += row[n]


@njit(cache=True, parallel=True)
def cpmg_pulse_profile_kernel(t2, t1, b1, tau, n_echoes, exc_tab, ref_tab, b1_step, weights):
    """Slice-profile CPMG echoes with the flip profiles of the scaled pulses.

    ``exc_tab``, ``ref_tab`` (NB, S) are :func:`flip_profile_table` at B1 = i · ``b1_step``
    (already scaled: no further B1 factor); each voxel's flips are interpolated linearly at
    its B1. Returns (V, n_echoes).
    """
    nv = t2.shape[0]
    out = np.zeros((nv, n_echoes))
    nk = 2 * n_echoes + 2
    for v in prange(nv):
        fp = np.empty(nk)
        fm = np.empty(nk)
        z = np.empty(nk)
        row = np.empty(n_echoes)
        _pulse_profile_voxel(t2[v], t1[v], b1[v], tau, n_echoes, exc_tab, ref_tab, b1_step,
                             weights, fp, fm, z, row, out[v])
    return out


def subslice_grid(n_subslices: int, extent: float) -> tuple[np.ndarray, np.ndarray]:
    """Mid-points and weights of ``n_subslices`` equal sub-slices over ``extent`` slices.

    Weights are the sub-slice thickness in slice units, so a uniform profile of one slice
    thickness integrates to 1.
    """
    edges = np.linspace(-extent / 2, extent / 2, n_subslices + 1)
    mid = 0.5 * (edges[1:] + edges[:-1])
    return mid, np.full(n_subslices, extent / n_subslices)


def fold_symmetric(positions: np.ndarray, weights: np.ndarray):
    """Keep z >= 0 and double the weights of z > 0 (profiles of symmetric pulses are even)."""
    keep = positions >= 0
    w = np.where(positions[keep] > 0, 2.0, 1.0) * weights[keep]
    return positions[keep], w


def check_choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    """Raise ValueError naming ``name`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value
