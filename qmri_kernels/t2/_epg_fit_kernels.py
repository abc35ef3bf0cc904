"""Numba kernels of the EPG water/fat T2 fit: dictionary search, then variable projection.

Model of voxel v (echoes n < m_v, the echoes above the noise floor)::

    y_n ≈ a_w · W_n(T2_w, B1) + a_f · F_n(B1),     a_w, a_f >= 0

W from the water dictionary (bicubic in index coordinates x = (log T2 − log T2_0)/step,
y = (B1 − B1_0)/step), F the fat train at the calibrated fat T2. The amplitudes are linear
and are projected out (variable projection, Golub & Pereyra 1973, SIAM J Numer Anal
10:413) with a non-negativity active set of two variables; with a fixed fat share φ the
basis is the single column (1 − φ)W + φF. The search is exhaustive over a coarse subgrid,
then Levenberg-Marquardt on (x, y) with Kaufman's (1975, BIT 15:49) Jacobian of the
projected residual. The slow reference is ``qmri_kernels.t2._reference`` (SciPy
``least_squares`` on the EPG itself, no dictionary).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _cr_weights(x, n, w, dw):
    """Catmull-Rom weights at index coordinate ``x`` (clamped to [1, n-2]); first index."""
    if x < 1.0:
        x = 1.0
    if x > n - 2.0:
        x = n - 2.0
    ix = int(math.floor(x))
    if ix > n - 3:
        ix = n - 3
    t = x - ix
    t2 = t * t
    t3 = t2 * t
    w[0] = 0.5 * (-t3 + 2.0 * t2 - t)
    w[1] = 0.5 * (3.0 * t3 - 5.0 * t2 + 2.0)
    w[2] = 0.5 * (-3.0 * t3 + 4.0 * t2 + t)
    w[3] = 0.5 * (t3 - t2)
    dw[0] = 0.5 * (-3.0 * t2 + 4.0 * t - 1.0)
    dw[1] = 0.5 * (9.0 * t2 - 10.0 * t)
    dw[2] = 0.5 * (-9.0 * t2 + 8.0 * t + 1.0)
    dw[3] = 0.5 * (3.0 * t2 - 2.0 * t)
    return ix - 1


@njit(cache=True)
def interpolate(water, fat, x, y, m, wv, dwx, dwy, fv, dfy, cx, dcx, cy, dcy):
    """Water train and its x/y derivatives, fat train and its y derivative at (x, y)."""
    i0 = _cr_weights(x, water.shape[0], cx, dcx)
    j0 = _cr_weights(y, water.shape[1], cy, dcy)
    for n in range(m):
        wv[n] = 0.0
        dwx[n] = 0.0
        dwy[n] = 0.0
        fv[n] = 0.0
        dfy[n] = 0.0
    for a in range(4):
        for b in range(4):
            c = cx[a] * cy[b]
            c_x = dcx[a] * cy[b]
            c_y = cx[a] * dcy[b]
            for n in range(m):
                v = water[i0 + a, j0 + b, n]
                wv[n] += c * v
                dwx[n] += c_x * v
                dwy[n] += c_y * v
    for b in range(4):
        for n in range(m):
            v = fat[j0 + b, n]
            fv[n] += cy[b] * v
            dfy[n] += dcy[b] * v


@njit(cache=True)
def _amplitudes_free(ww, wf, ff, wy, fy, yy, amp):
    """Non-negative least-squares amplitudes of [W, F]; writes amp[0:2], returns the cost."""
    det = ww * ff - wf * wf
    if det > 1e-12 * ww * ff and ww > 0.0 and ff > 0.0:
        aw = (ff * wy - wf * fy) / det
        af = (ww * fy - wf * wy) / det
        if aw >= 0.0 and af >= 0.0:
            amp[0] = aw
            amp[1] = af
            return yy - aw * wy - af * fy
    best = yy
    amp[0] = 0.0
    amp[1] = 0.0
    if ww > 0.0 and wy > 0.0:
        c = yy - wy * wy / ww
        if c < best:
            best = c
            amp[0] = wy / ww
            amp[1] = 0.0
    if ff > 0.0 and fy > 0.0:
        c = yy - fy * fy / ff
        if c < best:
            best = c
            amp[0] = 0.0
            amp[1] = fy / ff
    return best


@njit(cache=True)
def _amplitudes_fixed(ww, wf, ff, wy, fy, yy, phi, amp):
    """Amplitude of the single basis (1-φ)W + φF (>= 0); writes amp[0:2], returns cost."""
    q = 1.0 - phi
    cc = q * q * ww + 2.0 * q * phi * wf + phi * phi * ff
    cy = q * wy + phi * fy
    if cc > 0.0 and cy > 0.0:
        a = cy / cc
        amp[0] = a * q
        amp[1] = a * phi
        return yy - a * cy
    amp[0] = 0.0
    amp[1] = 0.0
    return yy


@njit(cache=True)
def _cost_at(yv, m, phi, wv, fv, amp):
    ww = 0.0
    wf = 0.0
    ff = 0.0
    wy = 0.0
    fy = 0.0
    yy = 0.0
    for n in range(m):
        ww += wv[n] * wv[n]
        wf += wv[n] * fv[n]
        ff += fv[n] * fv[n]
        wy += wv[n] * yv[n]
        fy += fv[n] * yv[n]
        yy += yv[n] * yv[n]
    if math.isnan(phi):
        return _amplitudes_free(ww, wf, ff, wy, fy, yy, amp)
    return _amplitudes_fixed(ww, wf, ff, wy, fy, yy, phi, amp)


@njit(cache=True)
def _project_out(v, m, b1v, b2v, use1, use2):
    """Remove from ``v`` its least-squares projection on the active basis columns."""
    if use1 and use2:
        g11 = 0.0
        g12 = 0.0
        g22 = 0.0
        r1 = 0.0
        r2 = 0.0
        for n in range(m):
            g11 += b1v[n] * b1v[n]
            g12 += b1v[n] * b2v[n]
            g22 += b2v[n] * b2v[n]
            r1 += b1v[n] * v[n]
            r2 += b2v[n] * v[n]
        det = g11 * g22 - g12 * g12
        if det <= 1e-12 * g11 * g22:
            return
        c1 = (g22 * r1 - g12 * r2) / det
        c2 = (g11 * r2 - g12 * r1) / det
        for n in range(m):
            v[n] -= c1 * b1v[n] + c2 * b2v[n]
    elif use1 or use2:
        g = 0.0
        r = 0.0
        for n in range(m):
            b = b1v[n] if use1 else b2v[n]
            g += b * b
            r += b * v[n]
        if g <= 0.0:
            return
        c = r / g
        for n in range(m):
            b = b1v[n] if use1 else b2v[n]
            v[n] -= c * b


@njit(cache=True)
def _grid_search(yv, m, phi, water, fat, cww, cwf, cff, i_lo, i_hi, i_step, j_lo, j_hi,
                 j_step):
    """Best (i, j) over the dictionary atoms i_lo:i_hi:i_step × j_lo:j_hi:j_step."""
    yy = 0.0
    for n in range(m):
        yy += yv[n] * yv[n]
    amp = np.empty(2)
    best = np.inf
    bi = i_lo
    bj = j_lo
    for j in range(j_lo, j_hi, j_step):
        fy = 0.0
        for n in range(m):
            fy += fat[j, n] * yv[n]
        ff = cff[j, m]
        for i in range(i_lo, i_hi, i_step):
            wy = 0.0
            for n in range(m):
                wy += water[i, j, n] * yv[n]
            ww = cww[i, j, m]
            wf = cwf[i, j, m]
            if math.isnan(phi):
                c = _amplitudes_free(ww, wf, ff, wy, fy, yy, amp)
            else:
                c = _amplitudes_fixed(ww, wf, ff, wy, fy, yy, phi, amp)
            if c < best:
                best = c
                bi = i
                bj = j
    return bi, bj


@njit(cache=True)
def _coarse_search(yv, m, phi, water, fat, cww, cwf, cff, stride_t2, stride_b1, j_fixed):
    """Best atom by a coarse-to-fine search of the dictionary by the projected cost.

    First every ``stride_t2``-th T2 and ``stride_b1``-th B1 atom, then every second atom
    within one coarse step around the winner. ``j_fixed >= 0`` fixes the B1 column.
    """
    nt = water.shape[0]
    nb = water.shape[1]
    if j_fixed >= 0:
        j_lo, j_hi, j_st = j_fixed, j_fixed + 1, 1
    else:
        j_lo, j_hi, j_st = 1, nb - 1, stride_b1
    bi, bj = _grid_search(yv, m, phi, water, fat, cww, cwf, cff, 1, nt - 1, stride_t2,
                          j_lo, j_hi, j_st)
    i_lo = max(bi - stride_t2 + 1, 1)
    i_hi = min(bi + stride_t2, nt - 1)
    if j_fixed < 0:
        j_lo = max(bj - stride_b1 + 1, 1)
        j_hi = min(bj + stride_b1, nb - 1)
        j_st = 2
    return _grid_search(yv, m, phi, water, fat, cww, cwf, cff, i_lo, i_hi, 2, j_lo, j_hi,
                        j_st)


@njit(cache=True)
def fit_voxel(yv, m, phi, y_fixed, water, fat, cww, cwf, cff, stride_t2, stride_b1,
              max_iter, out):
    """Fit one voxel; ``out`` = [x, y, a_w, a_f, cost, iterations].

    ``phi``: fixed fat share or NaN (free); ``y_fixed``: B1 in index units or NaN (free).
    """
    nt = water.shape[0]
    nb = water.shape[1]
    n_ech = water.shape[2]
    b1_known = not math.isnan(y_fixed)
    j_fixed = -1
    if b1_known:
        y_fixed = min(max(y_fixed, 1.0), nb - 2.0)
        j_fixed = int(math.floor(y_fixed + 0.5))
    bi, bj = _coarse_search(yv, m, phi, water, fat, cww, cwf, cff, stride_t2, stride_b1,
                            j_fixed)
    x = float(bi)
    y = y_fixed if b1_known else float(bj)
    wv = np.empty(n_ech)
    dwx = np.empty(n_ech)
    dwy = np.empty(n_ech)
    fv = np.empty(n_ech)
    dfy = np.empty(n_ech)
    wv2 = np.empty(n_ech)
    dwx2 = np.empty(n_ech)
    dwy2 = np.empty(n_ech)
    fv2 = np.empty(n_ech)
    dfy2 = np.empty(n_ech)
    vx = np.empty(n_ech)
    vy = np.empty(n_ech)
    bas = np.empty(n_ech)
    cx = np.empty(4)
    dcx = np.empty(4)
    cy = np.empty(4)
    dcy = np.empty(4)
    amp = np.empty(2)
    amp2 = np.empty(2)
    interpolate(water, fat, x, y, m, wv, dwx, dwy, fv, dfy, cx, dcx, cy, dcy)
    cost = _cost_at(yv, m, phi, wv, fv, amp)
    lam = 1e-3
    it = 0
    fixed = not math.isnan(phi)
    while it < max_iter:
        it += 1
        aw = amp[0]
        af = amp[1]
        if aw <= 0.0 and af <= 0.0:
            break
        for n in range(m):
            vx[n] = aw * dwx[n]
            vy[n] = aw * dwy[n] + af * dfy[n]
        if fixed:
            for n in range(m):
                bas[n] = (1.0 - phi) * wv[n] + phi * fv[n]
            _project_out(vx, m, bas, bas, True, False)
            _project_out(vy, m, bas, bas, True, False)
        else:
            _project_out(vx, m, wv, fv, aw > 0.0, af > 0.0)
            _project_out(vy, m, wv, fv, aw > 0.0, af > 0.0)
        jxx = 0.0
        jxy = 0.0
        jyy = 0.0
        gx = 0.0
        gy = 0.0
        for n in range(m):
            r = yv[n] - aw * wv[n] - af * fv[n]
            jxx += vx[n] * vx[n]
            jxy += vx[n] * vy[n]
            jyy += vy[n] * vy[n]
            gx += vx[n] * r
            gy += vy[n] * r
        accepted = False
        step = 0.0
        for _ in range(12):
            axx = jxx * (1.0 + lam) + 1e-12
            ayy = jyy * (1.0 + lam) + 1e-12
            if b1_known:
                dx = gx / axx
                dy = 0.0
            else:
                det = axx * ayy - jxy * jxy
                if det <= 0.0:
                    lam *= 4.0
                    continue
                dx = (ayy * gx - jxy * gy) / det
                dy = (axx * gy - jxy * gx) / det
            xn = min(max(x + dx, 1.0), nt - 2.0)
            yn = min(max(y + dy, 1.0), nb - 2.0)
            interpolate(water, fat, xn, yn, m, wv2, dwx2, dwy2, fv2, dfy2, cx, dcx, cy, dcy)
            c2 = _cost_at(yv, m, phi, wv2, fv2, amp2)
            if c2 < cost:
                step = abs(xn - x) + abs(yn - y)
                x = xn
                y = yn
                cost = c2
                amp[0] = amp2[0]
                amp[1] = amp2[1]
                wv, wv2 = wv2, wv
                dwx, dwx2 = dwx2, dwx
                dwy, dwy2 = dwy2, dwy
                fv, fv2 = fv2, fv
                dfy, dfy2 = dfy2, dfy
                lam = max(lam / 3.0, 1e-9)
                accepted = True
                break
            lam *= 4.0
        if not accepted or step < 1e-3:
            break
    out[0] = x
    out[1] = y
    out[2] = amp[0]
    out[3] = amp[1]
    out[4] = cost
    out[5] = it


@njit(cache=True, parallel=True)
def fit_kernel(data, m, phi, y_fixed, water, fat, cww, cwf, cff, stride_t2, stride_b1,
               max_iter):
    """Fit every voxel: ``data`` (V, N) float32, ``m`` (V,) echoes used, ``phi`` (V,) fixed
    fat share or NaN (free), ``y_fixed`` (V,) B1 in index units or NaN (free).
    Returns (V, 6): x, y, a_w, a_f, cost, iterations."""
    nv = data.shape[0]
    nn = data.shape[1]
    out = np.empty((nv, 6))
    for v in prange(nv):
        yv = np.empty(nn)
        for n in range(nn):
            yv[n] = data[v, n]
        fit_voxel(yv, m[v], phi[v], y_fixed[v], water, fat, cww, cwf, cff, stride_t2,
                  stride_b1, max_iter, out[v])
    return out
