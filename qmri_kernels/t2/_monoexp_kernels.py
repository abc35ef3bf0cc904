"""Numba kernel of the mono-exponential T2 fit (slow reference: SciPy, in ``_reference``).

Per voxel: a log-linear fit weighted by y² (the first-order variance of log y) starts a
Levenberg-Marquardt fit of s(t) = S0 · exp(−R2 · t) in the magnitude domain, with R2
bounded to ``[r2_min, r2_max]``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _cost(y, te, first, m, s0, r2):
    c = 0.0
    for n in range(first, m):
        r = y[n] - s0 * math.exp(-r2 * te[n])
        c += r * r
    return c


@njit(cache=True)
def _best_s0(y, te, first, m, r2):
    num = 0.0
    den = 0.0
    for n in range(first, m):
        e = math.exp(-r2 * te[n])
        num += y[n] * e
        den += e * e
    return max(num / den, 0.0) if den > 0.0 else 0.0


@njit(cache=True)
def fit_voxel(y, te, first, m, r2_min, r2_max, max_iter, out):
    """Fit one voxel on echoes [first, m); ``out`` = [R2, S0, cost, iterations]."""
    # Weighted log-linear start.
    sw = 0.0
    st = 0.0
    sl = 0.0
    stt = 0.0
    stl = 0.0
    for n in range(first, m):
        if y[n] > 0.0:
            w = y[n] * y[n]
            lg = math.log(y[n])
            sw += w
            st += w * te[n]
            sl += w * lg
            stt += w * te[n] * te[n]
            stl += w * te[n] * lg
    det = sw * stt - st * st
    r2 = 1.0 / 0.05
    if det > 0.0 and sw > 0.0:
        r2 = -(sw * stl - st * sl) / det
    r2 = min(max(r2, r2_min), r2_max)
    s0 = _best_s0(y, te, first, m, r2)
    cost = _cost(y, te, first, m, s0, r2)
    lam = 1e-3
    it = 0
    while it < max_iter:
        it += 1
        a11 = 0.0
        a12 = 0.0
        a22 = 0.0
        g1 = 0.0
        g2 = 0.0
        for n in range(first, m):
            e = math.exp(-r2 * te[n])
            j1 = e
            j2 = -s0 * te[n] * e
            r = y[n] - s0 * e
            a11 += j1 * j1
            a12 += j1 * j2
            a22 += j2 * j2
            g1 += j1 * r
            g2 += j2 * r
        accepted = False
        rel = 0.0
        for _ in range(12):
            b11 = a11 * (1.0 + lam) + 1e-300
            b22 = a22 * (1.0 + lam) + 1e-300
            d = b11 * b22 - a12 * a12
            if d <= 0.0:
                lam *= 4.0
                continue
            ds0 = (b22 * g1 - a12 * g2) / d
            dr2 = (b11 * g2 - a12 * g1) / d
            r2n = min(max(r2 + dr2, r2_min), r2_max)
            s0n = max(s0 + ds0, 0.0)
            cn = _cost(y, te, first, m, s0n, r2n)
            if cn < cost:
                rel = abs(r2n - r2) / r2
                s0 = s0n
                r2 = r2n
                cost = cn
                lam = max(lam / 3.0, 1e-9)
                accepted = True
                break
            lam *= 4.0
        if not accepted or rel < 1e-9:
            break
    out[0] = r2
    out[1] = s0
    out[2] = cost
    out[3] = it


@njit(cache=True, parallel=True)
def fit_kernel(data, te, first, m, r2_min, r2_max, max_iter):
    """All voxels: ``data`` (V, N) float32, ``m`` (V,) end echo. Returns (V, 4)."""
    nv = data.shape[0]
    nn = data.shape[1]
    out = np.empty((nv, 4))
    for v in prange(nv):
        y = np.empty(nn)
        for n in range(nn):
            y[n] = data[v, n]
        fit_voxel(y, te, first, m[v], r2_min, r2_max, max_iter, out[v])
    return out
