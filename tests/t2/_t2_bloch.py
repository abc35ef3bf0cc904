"""Brute-force Bloch simulations: the slow references of the EPG tests (no EPG code here)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation


def bloch_isochromat_cpmg(t2, t1, echo_spacing, n_echoes, flip, excitation=np.pi / 2,
                          n_iso=400):
    """CPMG train of ``n_iso`` isochromats; complex mean of M_x + i M_y at each echo.

    The isochromats' precession over half an echo spacing (the crusher / readout
    dephasing between a pulse and its echo) is spread uniformly over 2π. Every isochromat
    is rotated by explicit 3×3 rotation matrices: excitation about y, refocusing about x
    (CPMG), free precession about z; between pulses transverse magnetisation decays with T2
    and longitudinal magnetisation relaxes with T1 towards M0 = 1 (recovery included).
    """
    phi = 2 * np.pi * np.arange(n_iso) / n_iso
    m = np.zeros((n_iso, 3))
    m[:, 2] = 1.0
    m = m @ Rotation.from_rotvec([0.0, excitation, 0.0]).as_matrix().T
    refocus = Rotation.from_rotvec([flip, 0.0, 0.0]).as_matrix()
    c, s = np.cos(phi), np.sin(phi)
    e2, e1 = np.exp(-echo_spacing / 2 / t2), np.exp(-echo_spacing / 2 / t1)

    def precess_relax(m):
        mx = c * m[:, 0] - s * m[:, 1]
        my = s * m[:, 0] + c * m[:, 1]
        return np.stack([mx * e2, my * e2, m[:, 2] * e1 + (1 - e1)], axis=1)

    echoes = np.empty(n_echoes, dtype=complex)
    for n in range(n_echoes):
        m = precess_relax(m)
        m = m @ refocus.T
        m = precess_relax(m)
        echoes[n] = np.mean(m[:, 0] + 1j * m[:, 1])
    return echoes


def sinc_pulse_flip(flip, positions, time_bandwidth, window="hann", n_samples=400,
                    width=1.0):
    """Flip angle across the slice of a windowed-sinc pulse by rotating a vector.

    The pulse is cut into ``n_samples`` hard pulses about x with the slice-select gradient
    as a rotation about z; the flip at a position is arccos(M_z) after the pulse.
    """
    t = (np.arange(n_samples) + 0.5) / n_samples - 0.5
    env = np.sinc(time_bandwidth * t)
    if window == "hann":
        env = env * (0.5 + 0.5 * np.cos(2 * np.pi * t))
    elif window == "hamming":
        env = env * (0.54 + 0.46 * np.cos(2 * np.pi * t))
    steps = flip * env / env.sum()
    out = []
    for x in np.asarray(positions, float) / width:
        m = np.array([0.0, 0.0, 1.0])
        gz = 2 * np.pi * time_bandwidth * x / n_samples
        for b in steps:
            m = Rotation.from_rotvec([b, 0.0, gz]).apply(m)
        out.append(np.arccos(np.clip(m[2], -1, 1)))
    return np.array(out)


def bloch_slice_profile_cpmg(t2s, t1, echo_spacing, n_echoes, b1s, time_bandwidth=2.0,
                             window="hann", refocusing_width=1.0, n_positions=40,
                             extent=2.0):
    """Slice-integrated CPMG magnitudes, one train per (t2, b1) pair: (len(t2s), n_echoes).

    Positions uniformly over ``extent`` slice thicknesses; each with the excitation and
    refocusing flips of :func:`sinc_pulse_flip` scaled by ``b1``; the magnitude of the
    summed complex echoes times the position spacing.
    """
    z = (np.arange(n_positions) + 0.5) / n_positions * extent - extent / 2
    exc = sinc_pulse_flip(np.pi / 2, z, time_bandwidth, window)
    ref = sinc_pulse_flip(np.pi, z, time_bandwidth, window, width=refocusing_width)
    out = []
    for t2, b1 in zip(np.atleast_1d(t2s), np.atleast_1d(b1s)):
        total = np.zeros(n_echoes, dtype=complex)
        for e, r in zip(exc, ref):
            total += bloch_isochromat_cpmg(t2, t1, echo_spacing, n_echoes, b1 * r,
                                           excitation=b1 * e, n_iso=64)
        out.append(np.abs(total) * extent / n_positions)
    return np.array(out)
