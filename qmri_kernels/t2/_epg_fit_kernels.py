"""Numba kernels of the EPG water/fat T2 fit: dictionary search, then Gauss-Newton.

Model of voxel v (echoes n < m_v, the echoes above the noise floor)::

    y_n ≈ a_w · W_n(T2_w, B1) + a_f · F_n(B1),     a_w, a_f >= 0

W from the water dictionary (bicubic in index coordinates x = (log T2 − log T2_0)/step,
y = (B1 − B1_0)/step), F the fat train at the calibrated fat T2. The amplitudes are linear
and are projected out (variable projection, Golub & Pereyra 1973, SIAM J Numer Anal
10:413) with a non-negativity active set of two variables; with a fixed fat share φ the
basis is the single column (1 − φ)W + φF.

Per voxel (``fit_voxel``):

1. an exhaustive search of a coarse subgrid of the dictionary (every ``stride_t2``-th T2
   and ``stride_b1``-th B1 atom) by the projected cost, vectorised over the atoms
   (``coarse_search``: single-precision trains, since it only picks a basin);
2. with the fat share fixed (one basis column), the vertex of the parabolas through the
   coarse costs around the winner, then Levenberg-Marquardt with the Gauss-Newton matrix
   of the full projected Jacobian (``_gauss_newton``) in double precision, each step one
   pass over the interpolation stencil in SIMD blocks of eight echoes that keeps only the
   sums the step needs (``jacobian_terms``); with the share
   free (two columns with a non-negativity active set), the atoms at every second index
   within one coarse step, then Levenberg-Marquardt with Kaufman's (1975, BIT 15:49)
   Jacobian (``_levenberg_marquardt``), as before.

With B1 fixed the search is the scalar ``_coarse_search`` along the B1 column and the
refinement runs in x alone. The slow reference is ``qmri_kernels.t2._reference`` (SciPy
``least_squares`` on the EPG itself, no dictionary); the scalar ``_coarse_search`` is the
reference of the vectorised search.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

#: Compilation options of the hot kernels: NumPy's floating-point error model (no Python
#: ZeroDivisionError branch, which blocks vectorisation; the kernels never divide by
#: zero on valid input) and fused multiply-add. No fast-math otherwise (masked data may
#: hold NaN, and ``phi`` uses NaN for "free").
_FAST = dict(cache=True, error_model="numpy", fastmath={"contract"})


@njit(**_FAST)
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


@njit(**_FAST)
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


@njit(**_FAST)
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


@njit(**_FAST)
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


@njit(**_FAST)
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



# --------------------------------------------------------------------------------------
# Gauss-Newton refinement on the variable-projection cost (share fixed)
# --------------------------------------------------------------------------------------
# rows of the interpolated trains written by ``interpolate_jacobian``
_W, _WX, _WY, _F, _FY = 0, 1, 2, 3, 4


@njit(inline="always", **_FAST)
def _t2_contract(water, i0, j, n, c0, c1, c2, c3, d0, d1, d2, d3):
    """One B1 row of the stencil contracted along T2: value and ∂/∂x."""
    v0 = water[i0, j, n]
    v1 = water[i0 + 1, j, n]
    v2 = water[i0 + 2, j, n]
    v3 = water[i0 + 3, j, n]
    return (c0 * v0 + c1 * v1 + c2 * v2 + c3 * v3, d0 * v0 + d1 * v1 + d2 * v2 + d3 * v3)


@njit(inline="always", **_FAST)
def _stencil_trains(water, fat, i0, j0, n, cw):
    """Echo n of W, ∂W/∂x, ∂W/∂y, F, ∂F/∂y at the 4 × 4 stencil of first indices (i0, j0)
    and Catmull-Rom weights ``cw`` (rows: T2 weights, their derivatives, B1 weights, their
    derivatives), each B1 row contracted along T2 first."""
    c0, c1, c2, c3 = cw[0, 0], cw[0, 1], cw[0, 2], cw[0, 3]
    d0, d1, d2, d3 = cw[1, 0], cw[1, 1], cw[1, 2], cw[1, 3]
    p0, p1, p2, p3 = cw[2, 0], cw[2, 1], cw[2, 2], cw[2, 3]
    q0, q1, q2, q3 = cw[3, 0], cw[3, 1], cw[3, 2], cw[3, 3]
    a0, a1 = _t2_contract(water, i0, j0, n, c0, c1, c2, c3, d0, d1, d2, d3)
    b0, b1 = _t2_contract(water, i0, j0 + 1, n, c0, c1, c2, c3, d0, d1, d2, d3)
    g0, g1 = _t2_contract(water, i0, j0 + 2, n, c0, c1, c2, c3, d0, d1, d2, d3)
    h0, h1 = _t2_contract(water, i0, j0 + 3, n, c0, c1, c2, c3, d0, d1, d2, d3)
    f0 = fat[j0, n]
    f1 = fat[j0 + 1, n]
    f2 = fat[j0 + 2, n]
    f3 = fat[j0 + 3, n]
    return (p0 * a0 + p1 * b0 + p2 * g0 + p3 * h0, p0 * a1 + p1 * b1 + p2 * g1 + p3 * h1,
            q0 * a0 + q1 * b0 + q2 * g0 + q3 * h0, p0 * f0 + p1 * f1 + p2 * f2 + p3 * f3,
            q0 * f0 + q1 * f1 + q2 * f2 + q3 * f3)


@njit(**_FAST)
def interpolate_jacobian(water, fat, x, y, m, ev, cw):
    """Water and fat trains at (x, y) with their first derivatives.

    ``ev`` (5, N): rows W, ∂W/∂x, ∂W/∂y, F, ∂F/∂y (echoes ``[0, m)``) — what
    :func:`interpolate` computes, with the weights computed once and each of the four B1
    rows of the 4 × 4 stencil contracted along T2 first (``_stencil_trains``); ``cw``
    (4, 4) scratch for the weights.
    """
    i0 = _cr_weights(x, water.shape[0], cw[0], cw[1])
    j0 = _cr_weights(y, water.shape[1], cw[2], cw[3])
    for n in range(m):
        w, wx, wy, f, fy = _stencil_trains(water, fat, i0, j0, n, cw)
        ev[_W, n] = w
        ev[_WX, n] = wx
        ev[_WY, n] = wy
        ev[_F, n] = f
        ev[_FY, n] = fy


@njit(**_FAST)
def interpolate_values(water, fat, x, y, m, ev, cw):
    """Rows ``_W`` and ``_F`` of :func:`interpolate_jacobian` only (no derivatives)."""
    i0 = _cr_weights(x, water.shape[0], cw[0], cw[1])
    j0 = _cr_weights(y, water.shape[1], cw[2], cw[3])
    c0, c1, c2, c3 = cw[0, 0], cw[0, 1], cw[0, 2], cw[0, 3]
    p0, p1, p2, p3 = cw[2, 0], cw[2, 1], cw[2, 2], cw[2, 3]
    for n in range(m):
        a0 = (c0 * water[i0, j0, n] + c1 * water[i0 + 1, j0, n]
              + c2 * water[i0 + 2, j0, n] + c3 * water[i0 + 3, j0, n])
        b0 = (c0 * water[i0, j0 + 1, n] + c1 * water[i0 + 1, j0 + 1, n]
              + c2 * water[i0 + 2, j0 + 1, n] + c3 * water[i0 + 3, j0 + 1, n])
        g0 = (c0 * water[i0, j0 + 2, n] + c1 * water[i0 + 1, j0 + 2, n]
              + c2 * water[i0 + 2, j0 + 2, n] + c3 * water[i0 + 3, j0 + 2, n])
        h0 = (c0 * water[i0, j0 + 3, n] + c1 * water[i0 + 1, j0 + 3, n]
              + c2 * water[i0 + 2, j0 + 3, n] + c3 * water[i0 + 3, j0 + 3, n])
        ev[_W, n] = p0 * a0 + p1 * b0 + p2 * g0 + p3 * h0
        ev[_F, n] = p0 * fat[j0, n] + p1 * fat[j0 + 1, n] + p2 * fat[j0 + 2, n] \
            + p3 * fat[j0 + 3, n]


@njit(**_FAST)
def projected_cost(yv, m, phi, ev, amp):
    """Variable-projection cost at the trains in rows ``_W``, ``_F`` of ``ev``; writes the
    non-negative amplitudes (a_w, a_f) to ``amp``."""
    ww = 0.0
    wf = 0.0
    ff = 0.0
    wy = 0.0
    fy = 0.0
    yy = 0.0
    for n in range(m):
        w = ev[_W, n]
        f = ev[_F, n]
        ww += w * w
        wf += w * f
        ff += f * f
        wy += w * yv[n]
        fy += f * yv[n]
        yy += yv[n] * yv[n]
    if math.isnan(phi):
        return _amplitudes_free(ww, wf, ff, wy, fy, yy, amp)
    return _amplitudes_fixed(ww, wf, ff, wy, fy, yy, phi, amp)


@njit(inline="always", **_FAST)
def _gradient_and_matrix(a, bb, bxr, byr, bbx, bby, bxbx, bxby, byby, gh):
    """gh[0:2] = gradient, gh[2:5] = (Gxx, Gxy, Gyy) of the projected cost (see
    ``gauss_newton_terms``) from the amplitude a = b·y / b·b and the sums b·b, b_x·r,
    b_y·r, b·b_x, b·b_y, b_x·b_x, b_x·b_y, b_y·b_y (r = y − a·b)."""
    dax = (bxr - a * bbx) / bb
    day = (byr - a * bby) / bb
    gh[0] = -2.0 * a * bxr
    gh[1] = -2.0 * a * byr
    gh[2] = 2.0 * (a * a * bxbx + 2.0 * a * dax * bbx + dax * dax * bb)
    gh[3] = 2.0 * (a * a * bxby + a * day * bbx + a * dax * bby + dax * day * bb)
    gh[4] = 2.0 * (a * a * byby + 2.0 * a * day * bby + day * day * bb)


@njit(**_FAST)
def gauss_newton_terms(yv, m, phi, ev, amp, gh):
    """Projected cost of the fixed-share basis b = (1 − φ)W + φF at the trains ``ev``,
    its gradient and Gauss-Newton matrix in (x, y).

    Writes the amplitudes to ``amp`` (a_w, a_f), gh[0:2] = ∂c/∂(x, y) of the
    variable-projection cost c = ||y − a·b||², a = b·y / b·b, and gh[2:5] = (Gxx, Gxy,
    Gyy) = 2·JᵀJ with J = ∂(a·b)/∂(x, y) the full Jacobian of the projected model
    (Golub & Pereyra 1973: ∂a/∂x_i = (∂b_i·r − a·b·∂b_i) / b·b, r the residual); all
    zero where the amplitude is 0. Returns c.
    """
    q = 1.0 - phi
    bb = 0.0
    by_ = 0.0
    yy = 0.0
    for n in range(m):
        b = q * ev[_W, n] + phi * ev[_F, n]
        bb += b * b
        by_ += b * yv[n]
        yy += yv[n] * yv[n]
    for k in range(5):
        gh[k] = 0.0
    if not (bb > 0.0 and by_ > 0.0):
        amp[0] = 0.0
        amp[1] = 0.0
        return yy
    a = by_ / bb
    amp[0] = a * q
    amp[1] = a * phi
    bxr = 0.0
    byr = 0.0
    bbx = 0.0
    bby = 0.0
    bxbx = 0.0
    bxby = 0.0
    byby = 0.0
    for n in range(m):
        b = q * ev[_W, n] + phi * ev[_F, n]
        bx = q * ev[_WX, n]
        by = q * ev[_WY, n] + phi * ev[_FY, n]
        r = yv[n] - a * b
        bxr += bx * r
        byr += by * r
        bbx += b * bx
        bby += b * by
        bxbx += bx * bx
        bxby += bx * by
        byby += by * by
    _gradient_and_matrix(a, bb, bxr, byr, bbx, bby, bxbx, bxby, byby, gh)
    return yy - a * by_


#: Compilation options of the fused evaluation (``jacobian_terms``, ``value_cost``): those
#: of ``_FAST`` plus reassociation of the sums over echoes, so that a block's sums are SIMD
#: reductions. It changes their rounding only (about 1e-16 relative).
_FAST_SUMS = dict(cache=True, error_model="numpy", fastmath={"contract", "reassoc"})
#: Echoes per block of the fused evaluation: a literal trip count, so that the block is
#: straight-line SIMD code (one AVX-512 register of float64) with no remainder loop.
_BLOCK = 8


@njit(inline="always", **_FAST_SUMS)
def _block_sums(water, fat, i0, j0, cw, yv, q, phi, g, lo, m):
    """The sums of ``gauss_newton_terms`` over the echoes n of [g, g + 8) with lo <= n < m.

    b = qW + φF, b_x = q ∂W/∂x, b_y = q ∂W/∂y + φ ∂F/∂y at the stencil of first indices
    (i0, j0) and weights ``cw`` (as ``interpolate_jacobian``). Returns (b·b, b·y, y·y,
    b_x·y, b_y·y, b·b_x, b·b_y, b_x·b_x, b_x·b_y, b_y·b_y).
    """
    bb = 0.0
    b_y = 0.0
    yy = 0.0
    x_y = 0.0
    d_y = 0.0
    b_x = 0.0
    b_d = 0.0
    x_x = 0.0
    x_d = 0.0
    d_d = 0.0
    for k in range(_BLOCK):
        n = g + k
        w, wx, wy, f, fy = _stencil_trains(water, fat, i0, j0, n, cw)
        mk = 1.0 if (n >= lo and n < m) else 0.0
        yn = mk * yv[n]
        b = mk * (q * w + phi * f)
        bx = mk * (q * wx)
        by = mk * (q * wy + phi * fy)
        bb += b * b
        b_y += b * yn
        yy += yn * yn
        x_y += bx * yn
        d_y += by * yn
        b_x += b * bx
        b_d += b * by
        x_x += bx * bx
        x_d += bx * by
        d_d += by * by
    return bb, b_y, yy, x_y, d_y, b_x, b_d, x_x, x_d, d_d


@njit(inline="always", **_FAST_SUMS)
def _echo_sums(water, fat, x, y, yv, m, phi, cw):
    """``_block_sums`` over every echo below m (at least ``_BLOCK`` echoes in the table):
    whole blocks, then one block ending at the last echo that counts only its new ones."""
    ne = water.shape[2]
    i0 = _cr_weights(x, water.shape[0], cw[0], cw[1])
    j0 = _cr_weights(y, water.shape[1], cw[2], cw[3])
    q = 1.0 - phi
    s = _block_sums(water, fat, i0, j0, cw, yv, q, phi, 0, 0, m)
    whole = (ne // _BLOCK) * _BLOCK
    for g in range(_BLOCK, whole, _BLOCK):
        t = _block_sums(water, fat, i0, j0, cw, yv, q, phi, g, g, m)
        s = (s[0] + t[0], s[1] + t[1], s[2] + t[2], s[3] + t[3], s[4] + t[4],
             s[5] + t[5], s[6] + t[6], s[7] + t[7], s[8] + t[8], s[9] + t[9])
    if whole < ne:
        t = _block_sums(water, fat, i0, j0, cw, yv, q, phi, ne - _BLOCK, whole, m)
        s = (s[0] + t[0], s[1] + t[1], s[2] + t[2], s[3] + t[3], s[4] + t[4],
             s[5] + t[5], s[6] + t[6], s[7] + t[7], s[8] + t[8], s[9] + t[9])
    return s


@njit(**_FAST_SUMS)
def jacobian_terms(water, fat, x, y, yv, m, phi, ev, cw, amp, gh):
    """``interpolate_jacobian`` then ``gauss_newton_terms``, fused: the same cost, gradient
    and Gauss-Newton matrix (to rounding) from one pass over the stencil that keeps no
    trains, in blocks of ``_BLOCK`` echoes (SIMD over the echoes; the residual terms as
    b_x·r = b_x·y − a·b·b_x). Tables of fewer echoes take the two-step path (``ev`` (5, N)
    its scratch). Writes ``amp`` and ``gh`` as ``gauss_newton_terms``; returns the cost.
    """
    if water.shape[2] < _BLOCK:
        interpolate_jacobian(water, fat, x, y, m, ev, cw)
        return gauss_newton_terms(yv, m, phi, ev, amp, gh)
    bb, b_y, yy, x_y, d_y, b_x, b_d, x_x, x_d, d_d = _echo_sums(water, fat, x, y, yv, m,
                                                                phi, cw)
    for k in range(5):
        gh[k] = 0.0
    if not (bb > 0.0 and b_y > 0.0):
        amp[0] = 0.0
        amp[1] = 0.0
        return yy
    a = b_y / bb
    amp[0] = a * (1.0 - phi)
    amp[1] = a * phi
    _gradient_and_matrix(a, bb, x_y - a * b_x, d_y - a * b_d, b_x, b_d, x_x, x_d, d_d, gh)
    return yy - a * b_y


@njit(**_FAST_SUMS)
def value_cost(water, fat, x, y, yv, m, phi, ev, cw, amp):
    """``interpolate_values`` then ``projected_cost`` with the share fixed, fused as
    ``jacobian_terms`` (the derivative sums are dropped by the compiler). Writes ``amp``;
    returns the cost."""
    if water.shape[2] < _BLOCK:
        interpolate_values(water, fat, x, y, m, ev, cw)
        return projected_cost(yv, m, phi, ev, amp)
    s = _echo_sums(water, fat, x, y, yv, m, phi, cw)
    bb = s[0]
    b_y = s[1]
    if not (bb > 0.0 and b_y > 0.0):
        amp[0] = 0.0
        amp[1] = 0.0
        return s[2]
    a = b_y / bb
    amp[0] = a * (1.0 - phi)
    amp[1] = a * phi
    return s[2] - a * b_y


# --------------------------------------------------------------------------------------
# Coarse dictionary search, vectorised over the atoms
# --------------------------------------------------------------------------------------
#: Echoes per pass of the vectorised dot products (the coarse table is zero-padded to a
#: multiple): each pass reads 8 table rows and writes the accumulator once.
_ECHO_GROUP = 8


#: Atoms of a B1 column are padded to a multiple of this (one AVX-512 register of
#: float32), so that the column loops have no scalar remainder.
_ATOM_GROUP = 16
#: Gram sum of the padding atoms: their score is then 0 with a fixed share and the
#: fat-only score with the share free, never above a real atom of the column.
_PAD_GRAM = 1e30


@njit(cache=True)
def coarse_tables(water, fat, cww, cwf, cff, stride_t2, stride_b1):
    """The coarse sub-dictionary laid out for ``coarse_search``.

    Atoms ``ci = 1, 1 + stride_t2, ...`` (T2) × ``cj = 1, 1 + stride_b1, ...`` (B1), the
    subgrid of ``_coarse_search``, numbered a = jj·n_col + ii with the n_ci T2 atoms of
    each column padded to n_col (a multiple of ``_ATOM_GROUP``) by atoms that never win.
    Returns a tuple

    - ``ci``, ``cj``: the dictionary indices;
    - ``wc`` (N', n_atoms + n_cj) float32: the water trains of the atoms, then the fat
      train of each column, echo-major (one echo's products with every train are one
      contiguous loop), zero rows up to N' = N rounded up to ``_ECHO_GROUP``; padding
      atoms zero;
    - ``gww``, ``gwf`` (N + 1, n_atoms), ``gff`` (N + 1, n_cj): prefix Gram sums over the
      first m echoes (as ``cww``, ``cwf``, ``cff``), float64;
    - the same three in float32.
    """
    nt, nb, ne = water.shape
    ci = np.arange(1, nt - 1, stride_t2)
    cj = np.arange(1, nb - 1, stride_b1)
    ni = ci.shape[0]
    nj = cj.shape[0]
    ncol = ((ni + _ATOM_GROUP - 1) // _ATOM_GROUP) * _ATOM_GROUP
    na = ncol * nj
    ne_pad = ((ne + _ECHO_GROUP - 1) // _ECHO_GROUP) * _ECHO_GROUP
    wc = np.zeros((ne_pad, na + nj), dtype=np.float32)
    gww = np.full((ne + 1, na), _PAD_GRAM)
    gwf = np.zeros((ne + 1, na))
    gff = np.empty((ne + 1, nj))
    for jj in range(nj):
        j = cj[jj]
        for n in range(ne):
            wc[n, na + jj] = fat[j, n]
        for m in range(ne + 1):
            gff[m, jj] = cff[j, m]
        for ii in range(ni):
            i = ci[ii]
            a = jj * ncol + ii
            for n in range(ne):
                wc[n, a] = water[i, j, n]
            for m in range(ne + 1):
                gww[m, a] = cww[i, j, m]
                gwf[m, a] = cwf[i, j, m]
    return (ci, cj, wc, gww, gwf, gff, gww.astype(np.float32), gwf.astype(np.float32),
            gff.astype(np.float32))


@njit(**_FAST)
def _dot_all_atoms(wc, y32, acc):
    """acc[a] = Σ_n wc[n, a]·y32[n], echoes in groups of eight (one store per group)."""
    na = wc.shape[1]
    for g in range(0, wc.shape[0], _ECHO_GROUP):
        w0 = wc[g]
        w1 = wc[g + 1]
        w2 = wc[g + 2]
        w3 = wc[g + 3]
        w4 = wc[g + 4]
        w5 = wc[g + 5]
        w6 = wc[g + 6]
        w7 = wc[g + 7]
        y0 = y32[g]
        y1 = y32[g + 1]
        y2 = y32[g + 2]
        y3 = y32[g + 3]
        y4 = y32[g + 4]
        y5 = y32[g + 5]
        y6 = y32[g + 6]
        y7 = y32[g + 7]
        if g == 0:
            for a in range(na):
                acc[a] = ((w0[a] * y0 + w1[a] * y1 + w2[a] * y2 + w3[a] * y3)
                          + (w4[a] * y4 + w5[a] * y5 + w6[a] * y6 + w7[a] * y7))
        else:
            for a in range(na):
                acc[a] += ((w0[a] * y0 + w1[a] * y1 + w2[a] * y2 + w3[a] * y3)
                           + (w4[a] * y4 + w5[a] * y5 + w6[a] * y6 + w7[a] * y7))


@njit(inline="always", **_FAST)
def coarse_search(y32, m, phi, coarse, acc, score):
    """Best coarse atom: the index a (T2 ``ci[a % n_col]``, B1 ``cj[a // n_col]``, see
    ``coarse_tables``) of the largest projected signal energy ||P y||², i.e. the lowest
    cost ||y||² − ||P y||²; the first of equal ones.

    ``y32`` (N',) float32: the echoes, zero from echo ``m`` on (so that the dot products
    run over the first m echoes); ``phi``: the fixed fat share or NaN (free); ``coarse``:
    from ``coarse_tables``; ``acc`` (n_atoms + n_cj,) and ``score`` (n_atoms,) float32
    receive the dot products with the trains and the scores. The dot products, and each B1
    column's scores, are SIMD loops over the atoms: with the share fixed in single
    precision, free (2 × 2 normal equations, ill-conditioned where the water and fat
    trains meet) in double precision, stored in single. Scores are >= 0, so their IEEE
    bit patterns order as integers: a column's maximum is an integer reduction, which
    vectorises without fast-math; only the first column holding the largest maximum is
    scanned, once, for the (first) atom that holds it. Inlined into its caller: passing the coarse tables
    once per voxel across a call cost about a sixth of the fixed-share fit.
    """
    ci, cj, wc, gww, gwf, gff, gww32, gwf32, gff32 = coarse
    nj = cj.shape[0]
    na = gww.shape[1]
    ncol = na // nj
    _dot_all_atoms(wc, y32, acc)
    bits = score.view(np.int32)
    fixed = not math.isnan(phi)
    q = np.float32(1.0 - phi)
    p32 = np.float32(phi)
    q2 = q * q
    cross = np.float32(2.0) * q * p32
    zero = np.float32(0.0)
    gw32 = gww32[m]
    gx32 = gwf32[m]
    gw = gww[m]
    gx = gwf[m]
    top = np.int32(-1)
    best_col = 0
    for jj in range(nj):
        fy = np.float64(acc[na + jj])
        base = jj * ncol
        if fixed:
            pf = np.float32(phi * fy)
            cf = p32 * p32 * gff32[m, jj]
            for k in range(ncol):
                p = q * acc[base + k] + pf
                c = q2 * gw32[base + k] + cross * gx32[base + k] + cf
                s = p * p / c
                score[base + k] = s if p > zero else zero
        else:
            ff = gff[m, jj]
            sf = fy * fy / ff if (fy > 0.0 and ff > 0.0) else 0.0
            for k in range(ncol):
                wy = np.float64(acc[base + k])
                ww = gw[base + k]
                wf = gx[base + k]
                det = ww * ff - wf * wf
                aw = ff * wy - wf * fy
                af = ww * fy - wf * wy
                both = (aw * wy + af * fy) / det
                sw = wy * wy / ww if wy > 0.0 else 0.0
                single = sw if sw > sf else sf
                ok = (det > 1e-12 * ww * ff) & (aw >= 0.0) & (af >= 0.0) & (both >= 0.0)
                score[base + k] = np.float32(both if ok else single)
        col = np.int32(-1)
        for k in range(ncol):
            col = max(col, bits[base + k])
        if col > top:
            top = col
            best_col = jj
    base = best_col * ncol
    for k in range(ncol):
        if bits[base + k] == top:
            return base + k
    return base


@njit(**_FAST)
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


@njit(**_FAST)
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


@njit(inline="always", **_FAST)
def _levenberg_marquardt(yv, m, phi, x, y, b1_known, water, fat, max_iter, lm, cxy, amp,
                         amp2, out):
    """Levenberg-Marquardt on (x, y) from the start (x, y) with Kaufman's (1975, BIT 15:49)
    Jacobian of the projected residual, non-negative amplitudes by an active set (the
    refinement of the free fat share); writes ``out`` as ``fit_voxel``. ``lm`` (13, N)
    and ``cxy`` (4, 4) are scratch."""
    nt = water.shape[0]
    nb = water.shape[1]
    wv = lm[0]
    dwx = lm[1]
    dwy = lm[2]
    fv = lm[3]
    dfy = lm[4]
    wv2 = lm[5]
    dwx2 = lm[6]
    dwy2 = lm[7]
    fv2 = lm[8]
    dfy2 = lm[9]
    vx = lm[10]
    vy = lm[11]
    bas = lm[12]
    cx = cxy[0]
    dcx = cxy[1]
    cy = cxy[2]
    dcy = cxy[3]
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



# --------------------------------------------------------------------------------------
# The fit of one voxel and of all voxels
# --------------------------------------------------------------------------------------
#: The refinement stops when its step is below this, in grid units (1e-3 of a 1 % T2
#: step: 1e-5 relative in T2, 1e-5 in B1).
_STEP_TOL = 1e-3
#: A nearly undamped Gauss-Newton step shorter than this (grid units) is the last: it is
#: taken with a cost-only evaluation (no derivatives) and kept if it lowers the cost. With
#: the small residuals of muscle echo trains the step converges about quadratically (the
#: noise-free tests recover T2 to 1e-5).
_LAST_STEP = 0.05
#: Initial and smallest Marquardt damping of the Gauss-Newton steps.
_LAMBDA_0 = 1e-6
#: Largest step (grid units) per iteration: a few coarse strides, so that a step along a
#: flat valley cannot leap across the table.
_MAX_STEP = 24.0


@njit(cache=True)
def _vertex(sm, s0, sp):
    """Offset in [-0.5, 0.5] of the vertex of the parabola through (-1, sm), (0, s0),
    (1, sp), s0 the largest."""
    den = 2.0 * s0 - sm - sp
    if not den > 0.0:
        return 0.0
    off = 0.5 * (sp - sm) / den
    return min(max(off, -0.5), 0.5)


@njit(inline="always", **_FAST)
def _gauss_newton(yv, m, phi, x, y, b1_known, water, fat, max_iter, ev, cw, amp, amp2, gh,
                  gh2, out):
    """Levenberg-Marquardt on the fixed-share projected cost from (x, y) with the
    Gauss-Newton matrix of the full projected Jacobian (``gauss_newton_terms``, evaluated
    fused with the interpolation by ``jacobian_terms``; ``value_cost`` for a cost-only
    step; ``ev`` their scratch for tables under ``_BLOCK`` echoes); writes ``out`` as
    ``fit_voxel``.

    Each step solves (G + λ·diag G)·δ = −g (Marquardt 1963), λ divided by 3 after an
    accepted step and multiplied by 4 after a rejected one. Steps are capped at
    ``_MAX_STEP`` grid units and clipped to the table interior; at a bound the step pushes
    against, the other coordinate moves alone (a projected step). A nearly undamped step
    shorter than ``_LAST_STEP`` is the last: taken with a cost-only evaluation and kept if
    it lowers the cost (the small-residual Gauss-Newton step converges about
    quadratically). The fit also stops below ``_STEP_TOL``, after ``max_iter``
    iterations, or when no damped step lowers the cost.
    """
    nt = water.shape[0]
    nb = water.shape[1]
    cost = jacobian_terms(water, fat, x, y, yv, m, phi, ev, cw, amp, gh)
    lam = _LAMBDA_0
    it = 0
    while it < max_iter:
        if amp[0] <= 0.0 and amp[1] <= 0.0:
            break
        it += 1
        gx = gh[0]
        gy = gh[1]
        accepted = False
        last = False
        for _ in range(16):
            axx = gh[2] * (1.0 + lam) + 1e-300
            axy = gh[3]
            ayy = gh[4] * (1.0 + lam) + 1e-300
            if b1_known:
                dx = -gx / axx
                dy = 0.0
            else:
                det = axx * ayy - axy * axy
                if not det > 0.0:
                    lam *= 4.0
                    continue
                dx = -(ayy * gx - axy * gy) / det
                dy = -(axx * gy - axy * gx) / det
                # projected step at a bound of the table that the step pushes against
                if (y <= 1.0 and dy < 0.0) or (y >= nb - 2.0 and dy > 0.0):
                    dx = -gx / axx
                    dy = 0.0
                elif (x <= 1.0 and dx < 0.0) or (x >= nt - 2.0 and dx > 0.0):
                    dx = 0.0
                    dy = -gy / ayy
            dx = min(max(dx, -_MAX_STEP), _MAX_STEP)
            dy = min(max(dy, -_MAX_STEP), _MAX_STEP)
            xn = min(max(x + dx, 1.0), nt - 2.0)
            yn = min(max(y + dy, 1.0), nb - 2.0)
            step = abs(xn - x) + abs(yn - y)
            if step < _STEP_TOL:
                last = True
                break
            if lam <= _LAMBDA_0 and step < _LAST_STEP:
                # the final step: the cost there, no derivatives
                c2 = value_cost(water, fat, xn, yn, yv, m, phi, ev, cw, amp2)
                if c2 < cost:
                    x = xn
                    y = yn
                    cost = c2
                    amp[0] = amp2[0]
                    amp[1] = amp2[1]
                    last = True
                    break
                lam *= 4.0
                continue
            c2 = jacobian_terms(water, fat, xn, yn, yv, m, phi, ev, cw, amp2, gh2)
            if c2 < cost:
                x = xn
                y = yn
                cost = c2
                amp, amp2 = amp2, amp
                gh, gh2 = gh2, gh
                lam = max(lam / 3.0, _LAMBDA_0)
                accepted = True
                break
            lam *= 4.0
        if last or not accepted:
            break
    out[0] = x
    out[1] = y
    out[2] = amp[0]
    out[3] = amp[1]
    out[4] = cost
    out[5] = it


@njit(inline="always", **_FAST)
def fit_voxel(yv, y32, m, phi, y_fixed, water, fat, cww, cwf, cff, strides, max_iter,
              coarse_free, coarse_fixed, acc, score, ev, cw, lm, amp, amp2, gh, gh2, out):
    """Fit one voxel; ``out`` = [x, y, a_w, a_f, cost, iterations].

    ``yv`` (N,) float64 and ``y32`` (N',) float32 (zero from echo ``m`` on) copies of its
    echoes; ``phi``: fixed fat share or NaN (free); ``y_fixed``: B1 in index units or NaN
    (free); ``strides``: the coarse strides (T2, B1) with the share free, then with it
    fixed; ``coarse_free``, ``coarse_fixed``: from ``coarse_tables`` at those strides;
    the rest is scratch (``acc``, ``score`` of ``coarse_search``, sized for the larger
    table; ``ev``, ``cw``, ``gh``, ``gh2`` of ``_gauss_newton``; ``lm`` (13, N),
    ``cw[:4]`` of ``_levenberg_marquardt``).

    Start: with B1 given, the scalar ``_coarse_search`` along its column; else the
    vectorised ``coarse_search``, then with the share fixed the vertex of the parabolas
    through the coarse scores around the winner (``_vertex``), with the share free the
    atoms at every second index within one coarse step (``_grid_search``). Refinement:
    ``_gauss_newton`` with the share fixed (one basis column), ``_levenberg_marquardt``
    with it free (two columns with a non-negativity active set).
    """
    nt = water.shape[0]
    nb = water.shape[1]
    free = math.isnan(phi)
    b1_known = not math.isnan(y_fixed)
    if free:
        stride_t2 = strides[0]
        stride_b1 = strides[1]
        coarse = coarse_free
    else:
        stride_t2 = strides[2]
        stride_b1 = strides[3]
        coarse = coarse_fixed
    if b1_known:
        y_fixed = min(max(y_fixed, 1.0), nb - 2.0)
        j_fixed = int(math.floor(y_fixed + 0.5))
        bi, bj = _coarse_search(yv, m, phi, water, fat, cww, cwf, cff, stride_t2,
                                stride_b1, j_fixed)
        x = float(bi)
        y = y_fixed
    else:
        ci = coarse[0]
        cj = coarse[1]
        ncol = coarse[3].shape[1] // cj.shape[0]
        a = coarse_search(y32, m, phi, coarse, acc, score)
        ii = a % ncol
        jj = a // ncol
        bi = ci[ii]
        bj = cj[jj]
        x = float(bi)
        y = float(bj)
        if free:
            i_lo = max(bi - stride_t2 + 1, 1)
            i_hi = min(bi + stride_t2, nt - 1)
            j_lo = max(bj - stride_b1 + 1, 1)
            j_hi = min(bj + stride_b1, nb - 1)
            bi, bj = _grid_search(yv, m, phi, water, fat, cww, cwf, cff, i_lo, i_hi, 2, j_lo,
                                  j_hi, 2)
            x = float(bi)
            y = float(bj)
        else:
            if 0 < ii < ci.shape[0] - 1:
                x += stride_t2 * _vertex(score[a - 1], score[a], score[a + 1])
            if 0 < jj < cj.shape[0] - 1:
                y += stride_b1 * _vertex(score[a - ncol], score[a], score[a + ncol])
    if free:
        _levenberg_marquardt(yv, m, phi, x, y, b1_known, water, fat, max_iter, lm, cw, amp,
                             amp2, out)
    else:
        _gauss_newton(yv, m, phi, x, y, b1_known, water, fat, max_iter, ev, cw, amp, amp2,
                      gh, gh2, out)


#: Voxels per parallel work item: amortises the scratch allocations.
_CHUNK = 128


@njit(cache=True, parallel=True)
def fit_kernel(data, m, phi, y_fixed, water, fat, cww, cwf, cff, strides, max_iter):
    """Fit every voxel: ``data`` (V, N) float32, ``m`` (V,) echoes used, ``phi`` (V,) fixed
    fat share or NaN (free), ``y_fixed`` (V,) B1 in index units or NaN (free);
    ``strides``: the coarse search's (T2, B1) strides with the share free, then with it
    fixed (four ints). Returns (V, 6): x, y, a_w, a_f, cost, iterations."""
    nv = data.shape[0]
    nn = data.shape[1]
    out = np.empty((nv, 6))
    coarse_free = coarse_tables(water, fat, cww, cwf, cff, strides[0], strides[1])
    coarse_fixed = coarse_tables(water, fat, cww, cwf, cff, strides[2], strides[3])
    n_atoms = max(coarse_free[3].shape[1], coarse_fixed[3].shape[1])
    n_acc = max(coarse_free[2].shape[1], coarse_fixed[2].shape[1])
    n_pad = coarse_free[2].shape[0]
    n_chunks = (nv + _CHUNK - 1) // _CHUNK
    for ch in prange(n_chunks):
        yv = np.empty(nn)
        y32 = np.zeros(n_pad, dtype=np.float32)
        acc = np.empty(n_acc, dtype=np.float32)
        score = np.empty(n_atoms, dtype=np.float32)
        ev = np.empty((5, nn))
        cw = np.empty((4, 4))
        lm = np.empty((13, nn))
        amp = np.empty(2)
        amp2 = np.empty(2)
        gh = np.empty(5)
        gh2 = np.empty(5)
        for v in range(ch * _CHUNK, min(nv, (ch + 1) * _CHUNK)):
            mv = m[v]
            for n in range(nn):
                yv[n] = data[v, n]
                y32[n] = data[v, n] if n < mv else 0.0
            fit_voxel(yv, y32, mv, phi[v], y_fixed[v], water, fat, cww, cwf, cff, strides,
                      max_iter, coarse_free, coarse_fixed, acc, score, ev, cw, lm, amp,
                      amp2, gh, gh2, out[v])
    return out
