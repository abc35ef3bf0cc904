"""Numba kernels of the extended-phase-graph (EPG) CPMG echo train.

Private: the public, validating wrappers are in :mod:`qmri_kernels.t2.epg`. The slow
reference the tests compare these kernels with is a brute-force isochromat Bloch simulation
(``tests/t2/test_epg.py``) and a loop-free NumPy EPG (:func:`cpmg_reference`).

State convention (Weigel 2015, JMRI 41:266, eqs. 15-27): configuration states
F+_k, F-_k (= conj F_{-k}) and Z_k for k = 0..K. A 90° excitation about y puts the
magnetisation along x (F+_0 = F-_0 = 1); refocusing pulses about x (phase 0) are parallel to
it (the CPMG condition), so with Ẑ = -i Z every state stays real and the rotation becomes the
real matrix of Hennig (1988, J Magn Reson 78:397)::

    [F+']   [cos²(α/2)   sin²(α/2)   sin α ] [F+]
    [F-'] = [sin²(α/2)   cos²(α/2)  -sin α ] [F-]
    [Ẑ' ]   [-½ sin α    ½ sin α     cos α ] [Ẑ ]

T1 recovery of Z_0 feeds the quadrature (CP, along y) channel of the complex EPG, which is
decoupled from this real system; it is neglected here as in Hennig 1988, Lebel & Wilman
2010 (MRM 64:1005) and Prasloski 2012 (MRM 67:1803). Its size is a few 1e-4 of M0 at
ESP = 7 ms, T1 = 1.4 s, below the noise of any clinical MESE (the tests quantify it).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _relax_shift(fp, fm, z, e2, e1, kmax):
    """Relax for one half echo spacing, then dephase every state by one unit of k."""
    for k in range(kmax + 1):
        fp[k] *= e2
        fm[k] *= e2
        z[k] *= e1
    for k in range(kmax + 1, 0, -1):
        fp[k] = fp[k - 1]
    fp[0] = fm[1]
    for k in range(kmax + 1):
        fm[k] = fm[k + 1]
    fm[0] = fp[0]
    return kmax + 1


@njit(cache=True)
def cpmg_echoes(t2, t1, tau, alpha, n_echoes, fp, fm, z, out, scale):
    """Echo amplitudes of one isochromat ensemble; writes ``scale * F+_0`` into ``out``.

    Parameters
    ----------
    t2, t1 : float
        Relaxation times (s); ``t1`` may be ``inf``.
    tau : float
        Half the echo spacing (s).
    alpha : float
        Refocusing flip angle (rad).
    n_echoes : int
        Number of echoes.
    fp, fm, z : (>= 2 * n_echoes + 2,) float64 arrays
        Work space (overwritten).
    out : (n_echoes,) float64 array
        Output row (overwritten).
    scale : float
        Transverse magnetisation right after excitation (M0 · sin(excitation flip)).
    """
    nk = fp.shape[0]
    for k in range(nk):
        fp[k] = 0.0
        fm[k] = 0.0
        z[k] = 0.0
    fp[0] = 1.0
    fm[0] = 1.0
    e2 = math.exp(-tau / t2)
    e1 = math.exp(-tau / t1)
    half = 0.5 * alpha
    c2 = math.cos(half) ** 2
    s2 = math.sin(half) ** 2
    sa = math.sin(alpha)
    ca = math.cos(alpha)
    kmax = 0
    for n in range(n_echoes):
        kmax = _relax_shift(fp, fm, z, e2, e1, kmax)
        for k in range(kmax + 1):
            a = fp[k]
            b = fm[k]
            c = z[k]
            fp[k] = c2 * a + s2 * b + sa * c
            fm[k] = s2 * a + c2 * b - sa * c
            z[k] = -0.5 * sa * a + 0.5 * sa * b + ca * c
        kmax = _relax_shift(fp, fm, z, e2, e1, kmax)
        out[n] = scale * fp[0]
        # Prune: a state at |k| moves at most 2 steps towards k = 0 per echo period, so
        # states above 2 * (echoes left) + 1 can no longer reach an echo.
        limit = 2 * (n_echoes - 1 - n) + 1
        if kmax > limit:
            for k in range(limit + 1, kmax + 2):
                fp[k] = 0.0
                fm[k] = 0.0
                z[k] = 0.0
            kmax = limit


@njit(cache=True, parallel=True)
def cpmg_kernel(t2, t1, b1, tau, alpha0, n_echoes):
    """Hard-pulse CPMG echoes for flattened voxels: ``out[v] = echoes(t2[v], t1[v], b1[v])``.

    ``t2, t1, b1`` are contiguous float64 arrays of one length V; returns (V, n_echoes).
    """
    nv = t2.shape[0]
    out = np.empty((nv, n_echoes))
    nk = 2 * n_echoes + 2
    for v in prange(nv):
        fp = np.empty(nk)
        fm = np.empty(nk)
        z = np.empty(nk)
        cpmg_echoes(t2[v], t1[v], tau, b1[v] * alpha0, n_echoes, fp, fm, z, out[v], 1.0)
    return out


@njit(cache=True, parallel=True)
def cpmg_profile_kernel(t2, t1, b1, tau, n_echoes, exc_angles, ref_angles, weights):
    """Slice-profile CPMG echoes: a weighted sum over sub-slices of the hard-pulse train.

    Sub-slice j has excitation flip ``b1 * exc_angles[j]``, refocusing flip
    ``b1 * ref_angles[j]`` and weight ``weights[j]`` (its thickness in slice units).
    Returns (V, n_echoes).
    """
    nv = t2.shape[0]
    out = np.zeros((nv, n_echoes))
    nk = 2 * n_echoes + 2
    for v in prange(nv):
        fp = np.empty(nk)
        fm = np.empty(nk)
        z = np.empty(nk)
        row = np.empty(n_echoes)
        _profile_voxel(t2[v], t1[v], b1[v], tau, n_echoes, exc_angles, ref_angles, weights,
                       fp, fm, z, row, out[v])
    return out


@njit(cache=True)
def _profile_voxel(t2, t1, b1, tau, n_echoes, exc_angles, ref_angles, weights, fp, fm, z,
                   row, out):
    """Add one voxel's sub-slice echo trains into ``out`` (n_echoes,); scratch fp, fm, z, row."""
    for j in range(exc_angles.shape[0]):
        scale = weights[j] * math.sin(b1 * exc_angles[j])
        cpmg_echoes(t2, t1, tau, b1 * ref_angles[j], n_echoes, fp, fm, z, row, scale)
        for n in range(n_echoes):
            out[n] += row[n]


@njit(cache=True)
def cpmg_kernel_serial(t2, t1, b1, tau, alpha0, n_echoes):
    """Serial twin of :func:`cpmg_kernel` for a handful of voxels (no thread start-up)."""
    nv = t2.shape[0]
    out = np.empty((nv, n_echoes))
    nk = 2 * n_echoes + 2
    fp = np.empty(nk)
    fm = np.empty(nk)
    z = np.empty(nk)
    for v in range(nv):
        cpmg_echoes(t2[v], t1[v], tau, b1[v] * alpha0, n_echoes, fp, fm, z, out[v], 1.0)
    return out


@njit(cache=True)
def cpmg_profile_kernel_serial(t2, t1, b1, tau, n_echoes, exc_angles, ref_angles, weights):
    """Serial twin of :func:`cpmg_profile_kernel`."""
    nv = t2.shape[0]
    out = np.zeros((nv, n_echoes))
    nk = 2 * n_echoes + 2
    fp = np.empty(nk)
    fm = np.empty(nk)
    z = np.empty(nk)
    row = np.empty(n_echoes)
    for v in range(nv):
        _profile_voxel(t2[v], t1[v], b1[v], tau, n_echoes, exc_angles, ref_angles, weights,
                       fp, fm, z, row, out[v])
    return out


#: Below this many voxels the serial kernels are used (thread start-up dominates).
SERIAL_BELOW: int = 256


def cpmg_reference(t2: float, t1: float, tau: float, alpha: float, n_echoes: int,
                   scale: float = 1.0) -> np.ndarray:
    """Slow, unpruned NumPy EPG of one voxel (the same algebra as :func:`cpmg_echoes`)."""
    nk = 2 * n_echoes + 2
    state = np.zeros((3, nk))
    state[0, 0] = state[1, 0] = 1.0
    rot = np.array([[np.cos(alpha / 2) ** 2, np.sin(alpha / 2) ** 2, np.sin(alpha)],
                    [np.sin(alpha / 2) ** 2, np.cos(alpha / 2) ** 2, -np.sin(alpha)],
                    [-0.5 * np.sin(alpha), 0.5 * np.sin(alpha), np.cos(alpha)]])
    relax = np.diag([np.exp(-tau / t2), np.exp(-tau / t2), np.exp(-tau / t1)])

    def relax_shift(s):
        s = relax @ s
        fp = np.concatenate([[s[1, 1]], s[0, :-1]])
        fm = np.concatenate([s[1, 1:], [0.0]])
        fm[0] = fp[0]
        return np.stack([fp, fm, s[2]])

    out = np.empty(n_echoes)
    for n in range(n_echoes):
        state = relax_shift(state)
        state = rot @ state
        state = relax_shift(state)
        out[n] = scale * state[0, 0]
    return out
