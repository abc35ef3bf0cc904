"""Numba kernels of the fat-water fit: variable-projection grid search, region growing of the
field map and per-voxel Levenberg–Marquardt refinement.

Inputs are C-contiguous ``(voxels, echoes)`` complex64 signals (one row per masked voxel) plus
the small per-acquisition tables built by :mod:`._plan`. Arithmetic inside a voxel is
float64/complex128, except the float32 screen of the grid search
(``candidates_mixed_kernel``), which hands every candidate to float64; the refinement's
float64 arithmetic may be fused and reassociated (``_REFINE_FLAGS``). The parallel
kernels loop over chunks of voxels with ``prange`` and write only their own rows: no
races. Region growing is sequential within one growth (a priority queue), but the growths
of different components and of different starts are independent:
``grow_components_kernel`` and ``fill_kernel`` run them on the Numba threads, each with
its own state, and reproduce the serial result exactly. A start that can no longer win
its component is abandoned part-way (branch and bound, exact; see
``grow_components_kernel``).

Signal model (DESIGN.md §5; Yu 2008, Reeder 2004):
``s_n = (W + F c_n) exp((i 2π ψ − R2*) t_n)`` with ``c_n = Σ_p a_p exp(i 2π f_p t_n)``.

Every kernel has a slow reference in :mod:`._reference` that the tests compare it with.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._queue import (prefetch, queue_discard, queue_layout, queue_peek, queue_pop,
                     queue_push)
from ._volume import block_offsets

# Voxels per parallel work item: big enough to amortise the scratch allocations.
_CHUNK = 256
_TWO_PI = 2.0 * math.pi


# --------------------------------------------------------------------------------------------
# Variable projection (Golub & Pereyra 1973; Hernando 2008 for fat-water)
# --------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _projected_energy(u1, u2, g11, g12, g22, det):
    """u^H (A^H A)^-1 u for the 2-column basis A = [d, c·d], with u = A^H s.

    (A^H A) = [[g11, g12], [conj(g12), g22]] (Hermitian, real diagonal).
    """
    cross = (u1.real * (g12.real * u2.real - g12.imag * u2.imag)
             + u1.imag * (g12.real * u2.imag + g12.imag * u2.real))
    return (g22 * (u1.real * u1.real + u1.imag * u1.imag)
            + g11 * (u2.real * u2.real + u2.imag * u2.imag) - 2.0 * cross) / det


@njit(cache=True)
def _varpro_cost(s, psi, te, c, decay, gram):
    """min over the R2* grid of the VARPRO residual ||s||² − ||P_A s||² at field map ``psi``.

    Returns (cost, index of the best R2* grid value).
    """
    n = s.shape[0]
    energy = 0.0
    # demodulated signal and its fat-weighted copy, once; the R2* grid only rescales echoes
    a = np.empty(n, dtype=np.complex128)
    b = np.empty(n, dtype=np.complex128)
    for k in range(n):
        energy += s[k].real * s[k].real + s[k].imag * s[k].imag
        ph = -_TWO_PI * psi * te[k]
        z = complex(math.cos(ph), math.sin(ph)) * s[k]
        a[k] = z
        b[k] = c[k].conjugate() * z
    best = np.inf
    best_r = 0
    for r in range(decay.shape[0]):
        u1 = 0.0 + 0.0j
        u2 = 0.0 + 0.0j
        for k in range(n):
            u1 += decay[r, k] * a[k]
            u2 += decay[r, k] * b[k]
        proj = _projected_energy(u1, u2, gram[r, 0], complex(gram[r, 1], gram[r, 2]),
                                 gram[r, 3], gram[r, 4])
        cost = energy - proj
        if cost < best:
            best = cost
            best_r = r
    return best, best_r


@njit(cache=True)
def _orthonormal_weights(decay, gram, c):
    """Per R2* grid value and echo: decay·(L^-1 applied to the water and fat columns).

    Returns ``wt1`` (R, N) float64 and ``wt2`` (R, N) complex128, each row of unit norm
    (see the Notes of ``candidates_kernel``).
    """
    n_r2, n_echo = decay.shape
    wt1 = np.empty((n_r2, n_echo))
    wt2 = np.empty((n_r2, n_echo), dtype=np.complex128)
    for r in range(n_r2):
        g11 = gram[r, 0]
        g12 = complex(gram[r, 1], gram[r, 2])
        a1 = 1.0 / math.sqrt(g11)
        a2 = 1.0 / math.sqrt(gram[r, 4] / g11)
        for k in range(n_echo):
            wt1[r, k] = decay[r, k] * a1
            wt2[r, k] = decay[r, k] * a2 * (c[k].conjugate() - g12.conjugate() / g11)
    return wt1, wt2


@njit(cache=True, inline="always")
def _keep_minimum(v, psi, y0, ym, yp, step, r_index, cand_psi, cand_cost, cand_r2, m,
                  n_keep):
    """Keep a grid minimum of voxel ``v``: the vertex of the parabola through its cost
    ``y0`` at ``psi`` (Hz) and its neighbours' ``ym``, ``yp`` (offset clipped to half a
    grid ``step``), inserted into the voxel's list of the ``n_keep`` lowest, sorted by
    cost; ``m`` entries are filled. Returns the new count."""
    cost = y0
    if np.isfinite(ym) and np.isfinite(yp):
        denom = ym - 2.0 * y0 + yp
        if denom > 0.0:
            off = 0.5 * (ym - yp) / denom
            if off > 0.5:
                off = 0.5
            elif off < -0.5:
                off = -0.5
            psi += off * step
            cost = y0 - 0.25 * (ym - yp) * off
            if cost < 0.0:
                cost = 0.0
    if m < n_keep:
        pos = m
        m += 1
    elif cost < cand_cost[v, n_keep - 1]:
        pos = n_keep - 1
    else:
        return m
    while pos > 0 and cand_cost[v, pos - 1] > cost:
        cand_cost[v, pos] = cand_cost[v, pos - 1]
        cand_psi[v, pos] = cand_psi[v, pos - 1]
        cand_r2[v, pos] = cand_r2[v, pos - 1]
        pos -= 1
    cand_cost[v, pos] = cost
    cand_psi[v, pos] = psi
    cand_r2[v, pos] = r_index
    return m


@njit(cache=True, parallel=True)
def candidates_kernel(sig, phasors_re, phasors_im, psi_grid, periodic, decay, gram, c,
                      n_keep):
    """Grid search of the VARPRO cost over (ψ, R2*) and the local minima in ψ of each voxel.

    Parameters
    ----------
    sig : (V, N) complex64
    phasors_re, phasors_im : (N, G) float64
        Real and imaginary parts of ``exp(−i 2π ψ_g t_n)`` (split and echo-major so the
        innermost loop over the grid vectorises).
    psi_grid : (G,) float64
        Uniform ψ grid in Hz.
    periodic : bool
        Whether the cost is periodic over the grid (uniform echo spacing, grid = one period):
        then minima wrap around the ends.
    decay : (R, N) float64
        ``exp(−R2*_r t_n)`` for the R2* grid.
    gram : (R, 5) float64
        (g11, Re g12, Im g12, g22, det) of A^H A per R2* grid value.
    c : (N,) complex128
        Fat basis.
    n_keep : int
        Number of candidate minima kept per voxel (lowest cost first).

    Returns
    -------
    cand_psi : (V, n_keep) float64   parabola-refined ψ of each minimum (Hz)
    cand_cost : (V, n_keep) float64  VARPRO residual at the minimum
    cand_r2 : (V, n_keep) int64      index of the best R2* grid value
    n_cand : (V,) int64              number of valid candidates (0 if the signal is not finite)
    energy : (V,) float64            ||s||²

    Notes
    -----
    The projected energy u^H (A^H A)^-1 u (u = A^H s) is evaluated as |L^-1 u|² with the
    Cholesky factor L of the 2 × 2 Gram matrix A^H A = L L^H (Golub GH, Van Loan CF.
    Matrix Computations, 4th ed. 2013, §4.2): v₁ = u₁/√g₁₁ and
    v₂ = (u₂ − ḡ₁₂ u₁/g₁₁)/√(det/g₁₁), i.e. the projections of s onto an orthonormal basis
    of the water and fat columns. Both are linear in s, so the weights (the decay, the fat
    basis and L^-1 per R2* grid value) are folded into two per-echo coefficients before
    the loop over voxels, and the cost per grid point is e − |v₁|² − |v₂|²: the same value
    as ``_projected_energy``, up to rounding, with a quarter of its arithmetic.
    """
    n_vox, n_echo = sig.shape
    n_grid = psi_grid.shape[0]
    n_r2 = decay.shape[0]
    step = psi_grid[1] - psi_grid[0] if n_grid > 1 else 1.0
    wt1, wt2 = _orthonormal_weights(decay, gram, c)
    # outputs are initialised row by row inside the parallel loop: their pages are first
    # touched by the thread that fills them (large volumes: parallel page faults)
    cand_psi = np.empty((n_vox, n_keep))
    cand_cost = np.empty((n_vox, n_keep))
    cand_r2 = np.empty((n_vox, n_keep), dtype=np.int64)
    n_cand = np.empty(n_vox, dtype=np.int64)
    energy = np.empty(n_vox)
    n_chunks = (n_vox + _CHUNK - 1) // _CHUNK
    for ch in prange(n_chunks):
        curve = np.empty(n_grid)
        ridx = np.empty(n_grid, dtype=np.int64)
        u1r = np.empty(n_grid)
        u1i = np.empty(n_grid)
        u2r = np.empty(n_grid)
        u2i = np.empty(n_grid)
        for v in range(ch * _CHUNK, min(n_vox, (ch + 1) * _CHUNK)):
            for q in range(n_keep):
                cand_psi[v, q] = np.nan
                cand_cost[v, q] = np.inf
                cand_r2[v, q] = 0
            n_cand[v] = 0
            e = 0.0
            for k in range(n_echo):
                z = complex(sig[v, k])
                e += z.real * z.real + z.imag * z.imag
            energy[v] = e
            if not np.isfinite(e):
                continue
            for g in range(n_grid):
                curve[g] = np.inf
            for r in range(n_r2):
                for g in range(n_grid):
                    u1r[g] = 0.0
                    u1i[g] = 0.0
                    u2r[g] = 0.0
                    u2i[g] = 0.0
                for k in range(n_echo):
                    sk = complex(sig[v, k])
                    z = sk * wt1[r, k]
                    zc = sk * wt2[r, k]
                    ar, ai, br, bi = z.real, z.imag, zc.real, zc.imag
                    for g in range(n_grid):
                        pr = phasors_re[k, g]
                        pi = phasors_im[k, g]
                        u1r[g] += pr * ar - pi * ai
                        u1i[g] += pr * ai + pi * ar
                        u2r[g] += pr * br - pi * bi
                        u2i[g] += pr * bi + pi * br
                for g in range(n_grid):
                    cost = e - (u1r[g] * u1r[g] + u1i[g] * u1i[g]
                                + u2r[g] * u2r[g] + u2i[g] * u2i[g])
                    if cost < curve[g]:
                        curve[g] = cost
                        ridx[g] = r
            # local minima of the curve (strict on the left, so a flat run gives one minimum)
            m = 0
            for g in range(n_grid):
                y0 = curve[g]
                if g > 0:
                    ym = curve[g - 1]
                elif periodic:
                    ym = curve[n_grid - 1]
                else:
                    ym = np.inf
                if g < n_grid - 1:
                    yp = curve[g + 1]
                elif periodic:
                    yp = curve[0]
                else:
                    yp = np.inf
                if not (y0 < ym and y0 <= yp):
                    continue
                m = _keep_minimum(v, psi_grid[g], y0, ym, yp, step, ridx[g], cand_psi,
                                  cand_cost, cand_r2, m, n_keep)
            if m == 0:
                # constant curve (e.g. a zero signal): its first grid point stands for all
                best = 0
                for g in range(1, n_grid):
                    if curve[g] < curve[best]:
                        best = g
                if np.isfinite(curve[best]):
                    cand_cost[v, 0] = curve[best]
                    cand_psi[v, 0] = psi_grid[best]
                    cand_r2[v, 0] = ridx[best]
                    m = 1
            n_cand[v] = m
    return cand_psi, cand_cost, cand_r2, n_cand, energy


#: Bounds on |float32 − float64 grid-search cost| at a grid point, in units of
#: float32 epsilon · ||s||²: ``_F32_COST_BOUND`` · (N + 4) for the direct form,
#: ``_F32_HARMONIC_BOUND`` · (N + 7)(N + 1) for the harmonic form (N echoes; derivations:
#: ``candidates_mixed_kernel``).
_F32_COST_BOUND = 12.0
_F32_HARMONIC_BOUND = 3.0
_F32_EPS = float(np.finfo(np.float32).eps)
#: Largest departure of the echo phasors from uniform spacing,
#: max |p_k p̄_l − p_(k−l) p̄_0| (see ``_harmonic_tables``), up to which the screen uses
#: the harmonic form (the departure is added to its error bound).
_HARMONIC_MAX_DEVIATION = 1e-6

# float32 screen kernels: NumPy's error model and fused multiply-add (their rounding is
# covered by the error bounds above; the float64 arithmetic stays unfused)
_FAST = dict(cache=True, error_model="numpy", fastmath={"contract"})


@njit(inline="always", **_FAST)
def _keep_two_lowest(c, g, rf, curve, second, ridx):
    """Fold cost ``c`` of R2* index ``rf`` into the lowest (``curve``), second lowest
    (``second``) and arg-lowest (``ridx``) at grid point ``g``.

    Written with selects so that every store is unconditional and the loop over the grid
    vectorises without masked stores (Python's ``min``/``max`` are calls when LLVM's
    vectoriser runs, and keep the loop scalar); equal to "if c < curve: second, curve =
    curve, c elif c < second: second = c" for the finite costs of the screen (the caller
    screens only voxels whose energy is finite and within float32's range)."""
    cg = curve[g]
    sg = second[g]
    ri = ridx[g]
    lo = c if c < sg else sg
    second[g] = cg if cg > lo else lo
    curve[g] = c if c < cg else cg
    ridx[g] = rf if c < cg else ri


@njit(cache=True)
def screen_error_bound(n_echo, harmonic, deviation):
    """Bound δ/||s||² on the float32 screen's cost error at a grid point (derivations:
    ``candidates_mixed_kernel``): 12 (N + 4) ε₃₂ for the direct form; 3 (N + 7)(N + 1) ε₃₂
    plus 2 N d for the harmonic form at a departure d from uniform echo spacing."""
    if harmonic:
        return (_F32_HARMONIC_BOUND * (n_echo + 7) * (n_echo + 1) * _F32_EPS
                + 2.0 * n_echo * deviation)
    return _F32_COST_BOUND * (n_echo + 4) * _F32_EPS


@njit(**_FAST)
def _screen_start(curve, second, ridx):
    """Reset the screen's lowest, second lowest (inf) and arg-lowest (0) over the grid."""
    for g in range(curve.shape[0]):
        curve[g] = np.inf
        second[g] = np.inf
        ridx[g] = 0.0


@njit(cache=True)
def _harmonic_tables(phasors_re, phasors_im, n_pad):
    """Harmonics of the echo spacing on the ψ grid, for the screen's harmonic form.

    Parameters
    ----------
    phasors_re, phasors_im : (N, G) float64
        Real and imaginary parts of the phasors p_n = exp(−i 2π ψ_g t_n).
    n_pad : int
        Padded grid length (≥ G).

    Returns
    -------
    hre, him : (max(N − 1, 1), n_pad) float32
        h_m = p_m p̄_0 = exp(−i m θ_g) for uniform spacing (θ_g = 2π ψ_g ΔTE), stored as
        hre = Re h_m, him = −Im h_m; row m − 1 holds harmonic m; zero past the grid.
    deviation : float
        max |p_k p̄_l − h_(k−l)| over echoes k > l and the grid: 0 up to rounding for
        uniform echo spacing, order 1 otherwise.
    """
    n_echo, n_grid = phasors_re.shape
    hre = np.zeros((max(n_echo - 1, 1), n_pad), dtype=np.float32)
    him = np.zeros((max(n_echo - 1, 1), n_pad), dtype=np.float32)
    dev = 0.0
    for g in range(n_grid):
        p0 = complex(phasors_re[0, g], -phasors_im[0, g])
        for m in range(1, n_echo):
            h = complex(phasors_re[m, g], phasors_im[m, g]) * p0
            hre[m - 1, g] = h.real
            him[m - 1, g] = -h.imag
            for l in range(1, n_echo - m):
                q = (complex(phasors_re[l + m, g], phasors_im[l + m, g])
                     * complex(phasors_re[l, g], -phasors_im[l, g]))
                dev = max(dev, abs(q - h))
    return hre, him, dev


@njit(**_FAST)
def _screen_harmonic(sig, v, e32, wt1f, wt2f, hre, him, z1, z2, coef, cost, curve, second,
                     ridx):
    """float32 cost curve of voxel ``v`` over the padded ψ grid, uniform echo spacing.

    With z₁ = w₁ ⊙ s and z₂ = w₂ ⊙ s (the orthonormal projections' weights of one R2*
    value) and uniform echo spacing, |u_j(θ)|² = |Σ_n z_jn e^{−inθ}|² is a trigonometric
    polynomial of degree N − 1 in θ = 2π ψ ΔTE whose coefficients are the
    autocorrelation S_m = Σ_j Σ_l z_j,l+m z̄_j,l (Wiener–Khinchin): the cost is
    e − S₀ − Σ_{m ≥ 1} 2 Re(S_m e^{−imθ}). Per R2* value that is O(N²) for the
    coefficients and 2(N − 1) multiply-adds per grid point, against 8N for the direct
    form (``_screen_direct``).

    Folds into ``curve`` (lowest cost over R2*), ``second`` (second lowest) and ``ridx``
    (index of the lowest, as float32), each (n_pad,) float32 and set to (inf, inf, 0) by
    the caller (``_screen_start``); ``z1``, ``z2`` (N,) complex64,
    ``coef`` (2N,) and ``cost`` (n_pad,) float32 are scratch. ``e32`` is ||s||² in float32.
    """
    n_r2, n_echo = wt1f.shape
    n_pad = hre.shape[1]
    for r in range(n_r2):
        for k in range(n_echo):
            z1[k] = sig[v, k] * wt1f[r, k]
            z2[k] = sig[v, k] * wt2f[r, k]
        s0 = np.float32(0.0)
        for k in range(n_echo):
            s0 += (z1[k].real * z1[k].real + z1[k].imag * z1[k].imag
                   + z2[k].real * z2[k].real + z2[k].imag * z2[k].imag)
        for m in range(1, n_echo):
            sr = np.float32(0.0)
            si = np.float32(0.0)
            for l in range(n_echo - m):
                a = z1[l + m] * z1[l].conjugate() + z2[l + m] * z2[l].conjugate()
                sr += a.real
                si += a.imag
            coef[2 * m - 2] = 2.0 * sr
            coef[2 * m - 1] = 2.0 * si
        c0 = e32 - s0
        for g in range(n_pad):
            cost[g] = c0
        for m in range(n_echo - 1):
            a = coef[2 * m]
            b = coef[2 * m + 1]
            for g in range(n_pad):
                cost[g] -= a * hre[m, g] + b * him[m, g]
        rf = np.float32(r)
        for g in range(n_pad):
            _keep_two_lowest(cost[g], g, rf, curve, second, ridx)


@njit(**_FAST)
def _screen_direct(sig, v, e32, wt1f, wt2f, phrf, phif, acc, curve, second, ridx):
    """float32 cost curve of voxel ``v`` over the padded ψ grid, any echo times.

    The direct form: per R2* value, u_j(ψ_g) = Σ_n p_n(ψ_g) w_jn s_n accumulated echo by
    echo over the grid (``acc`` (4, n_pad) float32 scratch: Re u₁, Im u₁, Re u₂, Im u₂),
    cost e − |u₁|² − |u₂|². Outputs as ``_screen_harmonic``.
    """
    n_r2, n_echo = wt1f.shape
    n_pad = phrf.shape[1]
    u1r = acc[0]
    u1i = acc[1]
    u2r = acc[2]
    u2i = acc[3]
    for r in range(n_r2):
        for g in range(n_pad):
            u1r[g] = 0.0
            u1i[g] = 0.0
            u2r[g] = 0.0
            u2i[g] = 0.0
        for k in range(n_echo):
            z = sig[v, k] * wt1f[r, k]
            zc = sig[v, k] * wt2f[r, k]
            ar, ai, br, bi = z.real, z.imag, zc.real, zc.imag
            for g in range(n_pad):
                pr = phrf[k, g]
                pi = phif[k, g]
                u1r[g] += pr * ar - pi * ai
                u1i[g] += pr * ai + pi * ar
                u2r[g] += pr * br - pi * bi
                u2i[g] += pr * bi + pi * br
        rf = np.float32(r)
        for g in range(n_pad):
            c = e32 - (u1r[g] * u1r[g] + u1i[g] * u1i[g] + u2r[g] * u2r[g]
                       + u2i[g] * u2i[g])
            _keep_two_lowest(c, g, rf, curve, second, ridx)


@njit(**_FAST)
def _screen_minima(curve, n_grid, periodic, tol, low):
    """``low[g]``: grid point g of the float32 screen could be a local minimum of the
    float64 curve, y₀ < y₋ + ``tol`` and y₀ ≤ y₊ + ``tol`` (neighbours wrapped around a
    periodic grid; none past the ends otherwise). The interior in one pass without
    branches (it vectorises), the two ends apart; ``n_grid`` ≥ 3."""
    for g in range(1, n_grid - 1):
        y0 = curve[g]
        low[g] = (y0 < curve[g - 1] + tol) & (y0 <= curve[g + 1] + tol)
    last = n_grid - 1
    y0 = curve[0]
    low[0] = (y0 <= curve[1] + tol) and (not periodic or y0 < curve[last] + tol)
    y0 = curve[last]
    low[last] = (y0 < curve[last - 1] + tol) and (not periodic or y0 <= curve[0] + tol)


@njit(cache=True, inline="always")
def _exact_cost(sig, v, g, r_lo, r_hi, e, wt1, wt2, pt_re, pt_im, zw, ready, stamp):
    """float64 minimum over R2* grid values ``r_lo`` ≤ r < ``r_hi`` of the cost of voxel
    ``v`` at ψ grid point ``g``: the arithmetic of the grid loop of ``candidates_kernel``,
    in the same order, so the value is that kernel's bit for bit. Returns (cost, r).

    ``pt_re``, ``pt_im`` (G, N): the phasors, grid point by grid point. The weighted
    echoes s·w₁ and s·w₂ of an R2* value are formed once per voxel and kept in ``zw``
    (R, N, 4) float64 (Re, Im of each); ``ready[r] == stamp`` marks those already formed
    for this voxel.
    """
    best = np.inf
    best_r = r_lo
    n_echo = wt1.shape[1]
    for r in range(r_lo, r_hi):
        if ready[r] != stamp:
            for k in range(n_echo):
                sk = complex(sig[v, k])
                z = sk * wt1[r, k]
                zc = sk * wt2[r, k]
                zw[r, k, 0] = z.real
                zw[r, k, 1] = z.imag
                zw[r, k, 2] = zc.real
                zw[r, k, 3] = zc.imag
            ready[r] = stamp
        u1r = 0.0
        u1i = 0.0
        u2r = 0.0
        u2i = 0.0
        for k in range(n_echo):
            ar = zw[r, k, 0]
            ai = zw[r, k, 1]
            br = zw[r, k, 2]
            bi = zw[r, k, 3]
            pr = pt_re[g, k]
            pi = pt_im[g, k]
            u1r += pr * ar - pi * ai
            u1i += pr * ai + pi * ar
            u2r += pr * br - pi * bi
            u2i += pr * bi + pi * br
        cost = e - (u1r * u1r + u1i * u1i + u2r * u2r + u2i * u2i)
        if cost < best:
            best = cost
            best_r = r
    return best, best_r


@njit(cache=True, parallel=True)
def candidates_mixed_kernel(sig, phasors_re, phasors_im, psi_grid, periodic, decay, gram,
                            c, n_keep):
    """``candidates_kernel`` with the grid evaluated in float32 and the minima in float64.

    Same parameters and returns as ``candidates_kernel``, and the same values bit for bit:
    the float32 cost curve only screens the grid points. Every point that could be a local
    minimum of the float64 curve (one that is a minimum within the float32 error bound) has
    itself and its two neighbours recomputed in float64 with the arithmetic of
    ``candidates_kernel``; the minimum test, the parabola refinement, the kept cost and
    the R2* index then use those float64 values only. Where the float32 best R2* value
    beats the second best by more than the tolerance, the float64 order is the same and
    only that R2* value is recomputed. About two points per voxel pass the screen (the
    minima), so the float64 work is a few percent of a float64 grid search.

    The float32 curve is computed in one of two forms. With uniform echo spacing (the
    phasors depart from it by at most ``_HARMONIC_MAX_DEVIATION``) the cost is a
    trigonometric polynomial in ψ whose coefficients are the autocorrelation of the
    weighted echoes (``_screen_harmonic``): 2(N − 1) multiply-adds per grid point and R2*
    value instead of the direct form's 8N (``_screen_direct``, any echo times).

    Notes
    -----
    Error bounds. The rows of the weights ``wt1``, ``wt2`` (``_orthonormal_weights``) have
    unit norm, so every |w_n| ≤ 1 and Σ_n |w_n s_n|² ≤ e (e = ||s||²); the phasors have
    unit modulus.

    *Direct form*: each projection u = Σ_n p_n w_n s_n has |u| ≤ √e and a float32
    rounding error below ≈ 2√2 (N + 3) ε₃₂ √e; each |u|² then errs by less than
    ≈ 4√2 (N + 3) ε₃₂ e, and the cost e − |u₁|² − |u₂|² (and its minimum over R2*) by
    δ ≲ 12 (N + 4) ε₃₂ e (observed: below 5 ε₃₂ e).

    *Harmonic form*: with a_n = |w_n s_n|, the weighted echoes z_n err by ≲ 2 ε₃₂ a_n,
    each autocorrelation coefficient S_m by ≲ (N + 10) ε₃₂ Σ_l a_(l+m) a_l (summed over
    both projections), and Σ_(m ≥ 1) Σ_l a_(l+m) a_l ≤ (N − 1) e; the N − 1 harmonic terms
    (tables rounded to float32) and the running sum add ≲ N ε₃₂ (e + 2 Σ_m |S_m|). In
    all, δ ≲ 3 (N + 7)(N + 1) ε₃₂ e (observed: below 7 ε₃₂ e for N ≤ 32). Where the
    echo spacing departs from uniform by d = max |p_k p̄_l − p_(k−l) p̄_0|, the harmonic
    form changes each |u|² by at most d (Σ_n |z_n|)² ≤ N d e, so 2 N d e is added to δ.

    A float64 minimum (y₀ < y₋, y₀ ≤ y₊) is thus a float32 point with y₀ < y₋ + 2δ and
    y₀ ≤ y₊ + 2δ; the screen (and the R2* shortcut) use twice that tolerance, 4δ.
    Voxels whose energy is outside (1e-30, 1e30) (float32 under- or overflow) and curves
    without a minimum (constant) are evaluated in float64 throughout.
    """
    n_vox, n_echo = sig.shape
    n_grid = psi_grid.shape[0]
    n_r2 = decay.shape[0]
    step = psi_grid[1] - psi_grid[0] if n_grid > 1 else 1.0
    wt1, wt2 = _orthonormal_weights(decay, gram, c)
    wt1f = wt1.astype(np.float32)
    wt2f = wt2.astype(np.complex64)
    n_pad = (n_grid + 7) // 8 * 8
    phrf = np.zeros((n_echo, n_pad), dtype=np.float32)
    phif = np.zeros((n_echo, n_pad), dtype=np.float32)
    phrf[:, :n_grid] = phasors_re
    phif[:, :n_grid] = phasors_im
    hre, him, dev = _harmonic_tables(phasors_re, phasors_im, n_pad)
    pt_re = np.ascontiguousarray(phasors_re.T)
    pt_im = np.ascontiguousarray(phasors_im.T)
    harmonic = dev <= _HARMONIC_MAX_DEVIATION
    tol_rel = 4.0 * screen_error_bound(n_echo, harmonic, dev)
    cand_psi = np.empty((n_vox, n_keep))
    cand_cost = np.empty((n_vox, n_keep))
    cand_r2 = np.empty((n_vox, n_keep), dtype=np.int64)
    n_cand = np.empty(n_vox, dtype=np.int64)
    energy = np.empty(n_vox)
    n_chunks = (n_vox + _CHUNK - 1) // _CHUNK
    for ch in prange(n_chunks):
        curve = np.empty(n_pad, dtype=np.float32)
        second = np.empty(n_pad, dtype=np.float32)
        ridx = np.empty(n_pad, dtype=np.float32)
        cost = np.empty(n_pad, dtype=np.float32)
        acc = np.empty((4, n_pad), dtype=np.float32)
        z1 = np.empty(n_echo, dtype=np.complex64)
        z2 = np.empty(n_echo, dtype=np.complex64)
        coef = np.empty(2 * n_echo, dtype=np.float32)
        exact = np.empty(n_grid)
        exact_r = np.empty(n_grid, dtype=np.int64)
        stamp = np.zeros(n_grid, dtype=np.int64)
        flagged = np.empty(n_grid, dtype=np.int64)
        points = np.empty(n_grid, dtype=np.int64)
        low = np.empty(n_grid, dtype=np.bool_)
        zw = np.empty((n_r2, n_echo, 4))
        ready = np.zeros(n_r2, dtype=np.int64)
        for v in range(ch * _CHUNK, min(n_vox, (ch + 1) * _CHUNK)):
            for q in range(n_keep):
                cand_psi[v, q] = np.nan
                cand_cost[v, q] = np.inf
                cand_r2[v, q] = 0
            n_cand[v] = 0
            e = 0.0
            for k in range(n_echo):
                z = complex(sig[v, k])
                e += z.real * z.real + z.imag * z.imag
            energy[v] = e
            if not np.isfinite(e):
                continue
            if 1e-30 < e < 1e30:
                e32 = np.float32(e)
                tol = np.float32(tol_rel * e)
                _screen_start(curve, second, ridx)
                if harmonic:
                    _screen_harmonic(sig, v, e32, wt1f, wt2f, hre, him, z1, z2, coef, cost,
                                     curve, second, ridx)
                else:
                    _screen_direct(sig, v, e32, wt1f, wt2f, phrf, phif, acc, curve, second,
                                   ridx)
            else:
                # float32 would under- or overflow: every point passes the screen
                tol = np.float32(np.inf)
                for g in range(n_grid):
                    curve[g] = 0.0
                    second[g] = 0.0
                    ridx[g] = 0.0
            # screen: the points that could be minima of the float64 curve, and the points
            # whose float64 cost those need (themselves and their neighbours)
            stamp_v = v + 1
            n_flag = 0
            n_points = 0
            _screen_minima(curve, n_grid, periodic, tol, low)
            for g in range(n_grid):
                if not low[g]:
                    continue
                gm = g - 1
                if g == 0:
                    gm = n_grid - 1 if periodic else -1
                gp = g + 1
                if g == n_grid - 1:
                    gp = 0 if periodic else -1
                flagged[n_flag] = g
                n_flag += 1
                for h in (gm, g, gp):
                    if h >= 0 and stamp[h] != stamp_v:
                        stamp[h] = stamp_v
                        points[n_points] = h
                        n_points += 1
            for j in range(n_points):
                h = points[j]
                if second[h] - curve[h] > tol:
                    # the float32 order of the R2* values is certain: one float64 cost
                    r0 = int(ridx[h])
                    exact[h], exact_r[h] = _exact_cost(sig, v, h, r0, r0 + 1, e, wt1, wt2,
                                                       pt_re, pt_im, zw, ready,
                                                       stamp_v)
                else:
                    exact[h], exact_r[h] = _exact_cost(sig, v, h, 0, n_r2, e, wt1, wt2,
                                                       pt_re, pt_im, zw, ready,
                                                       stamp_v)
            # the float64 minimum test and refinement, as in candidates_kernel
            m = 0
            for i in range(n_flag):
                g = flagged[i]
                gm = g - 1
                if g == 0:
                    gm = n_grid - 1 if periodic else -1
                gp = g + 1
                if g == n_grid - 1:
                    gp = 0 if periodic else -1
                y0 = exact[g]
                ym = exact[gm] if gm >= 0 else np.inf
                yp = exact[gp] if gp >= 0 else np.inf
                if not (y0 < ym and y0 <= yp):
                    continue
                m = _keep_minimum(v, psi_grid[g], y0, ym, yp, step, exact_r[g], cand_psi,
                                  cand_cost, cand_r2, m, n_keep)
            if m == 0:
                # no minimum (constant curve, e.g. a zero signal): the lowest float64 point
                for h in range(n_grid):
                    exact[h], exact_r[h] = _exact_cost(sig, v, h, 0, n_r2, e, wt1, wt2,
                                                       pt_re, pt_im, zw, ready,
                                                       stamp_v)
                best = 0
                for g in range(1, n_grid):
                    if exact[g] < exact[best]:
                        best = g
                if np.isfinite(exact[best]):
                    cand_cost[v, 0] = exact[best]
                    cand_psi[v, 0] = psi_grid[best]
                    cand_r2[v, 0] = exact_r[best]
                    m = 1
            n_cand[v] = m
    return cand_psi, cand_cost, cand_r2, n_cand, energy


@njit(cache=True, parallel=True)
def cost_at_kernel(sig, psi, te, c, decay, gram):
    """VARPRO cost (min over the R2* grid) of every voxel at its own ψ; (V,) float64."""
    n_vox = sig.shape[0]
    out = np.empty(n_vox)
    n_chunks = (n_vox + _CHUNK - 1) // _CHUNK
    for ch in prange(n_chunks):
        s = np.empty(sig.shape[1], dtype=np.complex128)
        for v in range(ch * _CHUNK, min(n_vox, (ch + 1) * _CHUNK)):
            for k in range(sig.shape[1]):
                s[k] = sig[v, k]
            out[v] = _varpro_cost(s, psi[v], te, c, decay, gram)[0]
    return out


# --------------------------------------------------------------------------------------------
# Region growing of the field map (Yu 2005; quality-guided order as in phase unwrapping)
# --------------------------------------------------------------------------------------------
# Neighbourhood: 8 in-plane neighbours and the two through-plane ones. Weights of the field
# prediction: 1 for in-plane faces, 1/√2 for diagonals, _Z_WEIGHT through-plane (slices are
# thick and far apart: 6 mm with a 3 mm gap against 1.6 mm pixels).
_Z_WEIGHT = 0.25
_NB_DI = np.array([-1, 1, 0, 0, -1, -1, 1, 1, 0, 0], dtype=np.int64)
_NB_DJ = np.array([0, 0, -1, 1, -1, 1, -1, 1, 0, 0], dtype=np.int64)
_NB_DK = np.array([0, 0, 0, 0, 0, 0, 0, 0, -1, 1], dtype=np.int64)
_NB_W = np.array([1.0, 1.0, 1.0, 1.0, 0.7071067811865476, 0.7071067811865476,
                  0.7071067811865476, 0.7071067811865476, _Z_WEIGHT, _Z_WEIGHT])


@njit(cache=True, inline="always")
def _precedes(qa, ia, qb, ib):
    """Growth order: higher quality first; ties broken by the lower voxel index."""
    return qa > qb or (qa == qb and ia < ib)


@njit(cache=True, parallel=True)
def mask_neighbours(flat_mask, nx, ny, nz):
    """(V, 10) int32 voxel index of each neighbour of the ``True`` voxels of a C-ordered
    (nx, ny, nz) mask (−1 outside the mask or the volume); voxels numbered in C order.

    Column m is the neighbour at offset (_NB_DI[m], _NB_DJ[m], _NB_DK[m]). The mask is
    counted per i-slab, then the voxel-index volume and the table are written per slab,
    all in parallel (their pages are first touched by every thread).
    """
    per = ny * nz
    counts = block_offsets(flat_mask, per)          # running count at each i-slab
    vox_of = np.empty(nx * per, dtype=np.int32)
    for i in prange(nx):
        v = counts[i]
        for p in range(i * per, (i + 1) * per):
            if flat_mask[p]:
                vox_of[p] = v
                v += 1
            else:
                vox_of[p] = -1
    n_nb = _NB_DI.shape[0]
    nbr = np.empty((counts[nx], n_nb), dtype=np.int32)
    for i in prange(nx):
        v = counts[i]
        for p in range(i * per, (i + 1) * per):
            if not flat_mask[p]:
                continue
            j = (p - i * per) // nz
            k = p - i * per - j * nz
            for m in range(n_nb):
                ii = i + _NB_DI[m]
                jj = j + _NB_DJ[m]
                kk = k + _NB_DK[m]
                if 0 <= ii < nx and 0 <= jj < ny and 0 <= kk < nz:
                    nbr[v, m] = vox_of[(ii * ny + jj) * nz + kk]
                else:
                    nbr[v, m] = -1
            v += 1
    return nbr


@njit(cache=True, parallel=True)
def growth_scratch(n_threads, n_vox, n_tries):
    """Working arrays of the growth kernels, one row per thread.

    Returns (state int8, eligible bool, fresh bool, psi, cost, how int8), each
    (n_threads, V) with state/eligible/fresh zero (the kernels leave them so; first touched
    in parallel), the growth queues (n_threads, W) int64, empty (bit trees over the V
    ranks of the growth order, ``_queue``; the kernels leave them empty), a shared
    all-True ``use_cand`` (V,), the per-start results (psi, cost, how) of
    ``grow_components_kernel``, each (n_tries, V), and the queues' level offsets
    (``queue_layout``). The field and result arrays are left uninitialised (every entry
    is written before it is read), so that only the pages a growth reaches are ever
    touched.
    """
    state = np.empty((n_threads, n_vox), dtype=np.int8)
    eligible = np.empty((n_threads, n_vox), dtype=np.bool_)
    fresh = np.empty((n_threads, n_vox), dtype=np.bool_)
    psi = np.empty((n_threads, n_vox))
    cost = np.empty((n_threads, n_vox))
    how = np.empty((n_threads, n_vox), dtype=np.int8)
    offsets = queue_layout(n_vox)
    queue = np.zeros((n_threads, offsets[-1]), dtype=np.int64)
    use_cand = np.empty(n_vox, dtype=np.bool_)
    res_psi = np.empty((n_tries, n_vox))
    res_cost = np.empty((n_tries, n_vox))
    res_how = np.empty((n_tries, n_vox), dtype=np.int8)
    for t in prange(n_threads):
        for v in range(n_vox):
            state[t, v] = 0
            eligible[t, v] = False
            fresh[t, v] = False
    for v in prange(n_vox):
        use_cand[v] = True
    return (state, eligible, fresh, psi, cost, how, queue, use_cand, res_psi, res_cost,
            res_how, offsets)


@njit(cache=True, parallel=True)
def quality_kernel(n_cand, energy, n_echo):
    """Growth priority of each voxel: its RMS signal √(‖s‖² / N) where it has a candidate
    and a finite energy, else −1; (V,) float64 (so ``quality >= 0`` marks the usable
    voxels)."""
    n_vox = energy.shape[0]
    out = np.empty(n_vox)
    for v in prange(n_vox):
        e = energy[v]
        out[v] = math.sqrt(e / n_echo) if n_cand[v] > 0 and np.isfinite(e) else -1.0
    return out


@njit(cache=True, parallel=True)
def seed_score_kernel(quality, nbr):
    """Seed score of each voxel: the lowest quality (negative counted as 0) in its 3 × 3
    in-plane neighbourhood, a neighbour outside the domain counting as 0; (V,) float64.

    A region starts from a voxel that is bright *and* has bright neighbours, so that a lone
    bright outlier (a flow artefact, a noise spike) does not seed it. The same as a
    3 × 3 × 1 minimum filter of the quality volume (zero outside the domain) sampled at
    the voxels; columns 0-7 of ``nbr`` are the in-plane neighbours.
    """
    n_vox = quality.shape[0]
    out = np.empty(n_vox)
    for v in prange(n_vox):
        low = max(quality[v], 0.0)
        for m in range(8):
            u = nbr[v, m]
            q = max(quality[u], 0.0) if u >= 0 else 0.0
            low = min(low, q)
        out[v] = low
    return out


@njit(cache=True)
def _flood_labels(select, nbr, lab, stack, sizes):
    """Number the connected components of ``select`` 1, 2, ... in the order of their lowest
    voxel index (depth-first flood over ``nbr``); writes ``lab`` (V,) (zero on entry:
    stays 0 for unselected voxels) and ``sizes[1:n+1]``, uses ``stack`` (V,); returns n."""
    n_lab = 0
    for v in range(select.shape[0]):
        if not select[v] or lab[v] != 0:
            continue
        n_lab += 1
        lab[v] = n_lab
        top = 0
        stack[0] = v
        count = 0
        while top >= 0:
            w = stack[top]
            top -= 1
            count += 1
            for m in range(nbr.shape[1]):
                u = nbr[w, m]
                if u >= 0 and select[u] and lab[u] == 0:
                    lab[u] = n_lab
                    top += 1
                    stack[top] = u
        sizes[n_lab] = count
    return n_lab


@njit(cache=True)
def _component_lists(lab, sizes, n_lab, min_size):
    """CSR voxel lists (``ptr``, ``vox``) of the components of at least ``min_size``
    voxels, largest first (ties: lower number first), ascending within a component."""
    n_vox = lab.shape[0]
    big = np.empty(n_lab, dtype=np.int64)
    n_big = 0
    for k in range(1, n_lab + 1):
        if sizes[k] >= max(min_size, 1):
            big[n_big] = k
            n_big += 1
    big = big[:n_big]
    order = np.argsort(-sizes[big], kind="mergesort")
    rank = np.full(n_lab + 1, -1, dtype=np.int64)
    ptr = np.zeros(n_big + 1, dtype=np.int64)
    for r in range(n_big):
        rank[big[order[r]]] = r
        ptr[r + 1] = ptr[r] + sizes[big[order[r]]]
    vox = np.empty(ptr[n_big], dtype=np.int64)
    fill = ptr[:n_big].copy()
    for v in range(n_vox):
        r = rank[lab[v]]
        if lab[v] > 0 and r >= 0:
            vox[fill[r]] = v
            fill[r] += 1
    return ptr, vox


@njit(cache=True)
def label_components(select, nbr, min_size):
    """Connected components of the selected voxels over the growth neighbourhood.

    Components are numbered 1, 2, ... in the order of their lowest voxel index (the raster
    order ``scipy.ndimage.label`` numbers them in); ``lab`` is 0 for unselected voxels.
    Returns ``ptr``, ``vox``: the components of at least ``min_size`` voxels, largest first
    (ties: lower number first), as CSR voxel lists ascending within a component, and
    ``lab`` (V,) int64.
    """
    n_vox = select.shape[0]
    lab = np.zeros(n_vox, dtype=np.int64)
    sizes = np.empty(n_vox + 1, dtype=np.int64)
    n_lab = _flood_labels(select, nbr, lab, np.empty(n_vox, dtype=np.int64), sizes)
    ptr, vox = _component_lists(lab, sizes, n_lab, min_size)
    return ptr, vox, lab


@njit(cache=True, parallel=True)
def label_components_pair(select_a, min_a, select_b, min_b, nbr):
    """``label_components`` of two selections over the same ``nbr``, the two floods on
    two threads at once; returns (ptr_a, vox_a, lab_a, ptr_b, vox_b, lab_b)."""
    n_vox = select_a.shape[0]
    lab = np.zeros((2, n_vox), dtype=np.int64)
    sizes = np.empty((2, n_vox + 1), dtype=np.int64)
    stack = np.empty((2, n_vox), dtype=np.int64)
    n_lab = np.zeros(2, dtype=np.int64)
    for t in prange(2):
        n_lab[t] = _flood_labels(select_a if t == 0 else select_b, nbr, lab[t], stack[t],
                                 sizes[t])
    ptr_a, vox_a = _component_lists(lab[0], sizes[0], n_lab[0], min_a)
    ptr_b, vox_b = _component_lists(lab[1], sizes[1], n_lab[1], min_b)
    return ptr_a, vox_a, lab[0], ptr_b, vox_b, lab[1]


@njit(cache=True, inline="always")
def _push_neighbours(v, nbr, eligible, state, rank, queue, offsets, size):
    """Queue the eligible neighbours of voxel v that are not queued or assigned yet
    (``state`` 0 → 1); returns the new queue size."""
    for m in range(nbr.shape[1]):
        u = nbr[v, m]
        if u < 0 or state[u] != 0 or not eligible[u]:
            continue
        state[u] = 1
        queue_push(queue, offsets, rank[u])
        size += 1
    return size


@njit(cache=True, inline="always")
def _predict(v, nbr, state, psi):
    """Weighted mean ψ of the assigned neighbours of voxel v (NaN if there is none)."""
    acc = 0.0
    wsum = 0.0
    for m in range(nbr.shape[1]):
        u = nbr[v, m]
        if u < 0 or state[u] != 2:
            continue
        acc += _NB_W[m] * psi[u]
        wsum += _NB_W[m]
    if wsum == 0.0:
        return np.nan
    return acc / wsum


@njit(cache=True, inline="always")
def _nearest_candidate(v, pred, cand_psi, n_cand, period):
    """Candidate of voxel v nearest to ``pred`` (period-shifted copy); (k, ψ, |Δψ|)."""
    best_k = -1
    best_psi = np.nan
    best_d = np.inf
    for k in range(n_cand[v]):
        p = cand_psi[v, k]
        if period > 0.0:
            p += period * math.floor((pred - p) / period + 0.5)
        d = abs(p - pred)
        if d < best_d:
            best_d = d
            best_psi = p
            best_k = k
    return best_k, best_psi, best_d


@njit(cache=True)
def _grow(nbr, cand_psi, cand_cost, n_cand, quality, eligible, use_cand,
          state, psi, cost, how, period, max_jump, sig, te, c, decay, gram, rank, order,
          queue, offsets, size, total, limit):
    """Grow the field map from the voxels already queued into eligible voxels.

    The queue (``size`` voxels, a bit tree over ranks, ``_queue``) hands out the voxels in
    the growth order (higher ``quality`` first, ties by lower index): ``rank`` (V,) is
    each voxel's place in it and ``order`` (V,) the voxel of each place.

    A popped voxel takes the weighted mean ψ of its assigned neighbours as prediction, then
    the candidate minimum nearest to it if that lies within ``max_jump`` Hz and the voxel
    may use its candidates (``use_cand``); otherwise it keeps the prediction, and its cost is
    the VARPRO cost there. Writes ``psi``, ``cost``, ``how`` (1 candidate, 2 prediction) and
    ``state`` (2 = assigned).

    While a voxel is processed, the data of the voxel at the head of the queue (usually
    the next one popped) are prefetched (``_queue.queue_peek``, ``_queue.prefetch``): the
    growth order jumps about the volume, and waiting for those loads was most of the time.

    ``total`` is a running sum of the relative costs (``_relative``) of the voxels assigned
    so far; each new voxel's is added to it, and the growth stops early (leaving the queue
    as it is) as soon as the sum exceeds ``limit`` (``np.inf``: never). Returns the sum.
    """
    s = np.empty(sig.shape[1], dtype=np.complex128)
    while size > 0:
        if total > limit:
            return total
        v = order[queue_pop(queue, offsets)]
        size -= 1
        if size > 0:
            nxt = order[queue_peek(queue, offsets)]
            prefetch(nbr, nxt)
            prefetch(cand_psi, nxt)
            prefetch(cand_cost, nxt)
            prefetch(quality, nxt)
            prefetch(n_cand, nxt)
            prefetch(psi, nxt)
            prefetch(state, nxt)
            prefetch(use_cand, nxt)
        pred = _predict(v, nbr, state, psi)
        k, p, d = -1, np.nan, np.inf
        if use_cand[v]:
            k, p, d = _nearest_candidate(v, pred, cand_psi, n_cand, period)
        if k >= 0 and d <= max_jump:
            psi[v] = p
            cost[v] = cand_cost[v, k]
            how[v] = 1
        else:
            psi[v] = pred
            for m in range(sig.shape[1]):
                s[m] = sig[v, m]
            cost[v] = _varpro_cost(s, pred, te, c, decay, gram)[0]
            how[v] = 2
        state[v] = 2
        total += _relative(cost[v], quality[v])
        size = _push_neighbours(v, nbr, eligible, state, rank, queue, offsets, size)
    return total


@njit(cache=True, inline="always")
def _relative(cost, quality):
    """A voxel's residual relative to its signal energy (quality² = mean |s|² over echoes).

    Summing these rather than raw residuals keeps one voxel that no model fits (an
    artefact, a flow spike) from outvoting a whole region: each voxel's vote is bounded.
    """
    e = quality * quality
    return cost / e if e > 0.0 else 0.0


@njit(cache=True)
def _balanced_bins(work, n_bins):
    """Greedy longest-processing-time split of items into ``n_bins`` bins of similar work.

    Returns ``ptr`` (n_bins + 1,) and ``items`` (the item indices, bin by bin, each bin in
    decreasing work): bin k holds ``items[ptr[k]:ptr[k + 1]]``. Items of zero work are
    left out.
    """
    order = np.argsort(-work, kind="mergesort")
    load = np.zeros(n_bins)
    bin_of = np.full(work.shape[0], -1, dtype=np.int64)
    count = np.zeros(n_bins, dtype=np.int64)
    for k in range(order.shape[0]):
        i = order[k]
        if work[i] <= 0.0:
            continue
        b = 0
        for j in range(1, n_bins):
            if load[j] < load[b]:
                b = j
        bin_of[i] = b
        load[b] += work[i]
        count[b] += 1
    ptr = np.zeros(n_bins + 1, dtype=np.int64)
    for j in range(n_bins):
        ptr[j + 1] = ptr[j] + count[j]
    items = np.empty(ptr[n_bins], dtype=np.int64)
    fill = ptr[:n_bins].copy()
    for k in range(order.shape[0]):
        i = order[k]
        b = bin_of[i]
        if b >= 0:
            items[fill[b]] = i
            fill[b] += 1
    return ptr, items


@njit(cache=True, parallel=True)
def grow_components_kernel(nbr, cand_psi, cand_cost, n_cand, quality, rank, order,
                           seed_score, use_cand, comp_ptr, comp_vox, skip, n_tries,
                           accept_ratio, period, max_jump, sig, te, c, decay, gram, psi, cost,
                           how, scratch, prune=True):
    """Region-grow each component from its best voxel, trying several starts (in place).

    For every component (voxel lists ``comp_vox[comp_ptr[i]:comp_ptr[i+1]]``) the field
    map is grown over the component alone from its voxel of highest ``seed_score`` (ties:
    lowest index), starting at each of that voxel's ``n_tries`` lowest-cost minima in
    turn. The start with the smallest summed relative VARPRO cost (see ``_relative``) over
    the component (the first of equal ones) replaces the current map of the component if
    that sum is below ``accept_ratio`` times the current one (a component with unassigned
    voxels has an infinite current sum, so a fresh map always takes the best start). A
    start equal to the seed's current field is skipped: it would only regrow the current
    map.

    ``rank`` and ``order`` are the growth order of the voxels (``_queue.growth_order``).
    ``psi``, ``cost`` and ``how`` (1 candidate, 2 prediction, 3 seed) are updated in place;
    voxels with ``use_cand`` False take the prediction of their neighbours. Components
    with ``skip[i]`` are left alone.

    Pruning (``prune``, the default; the result is the same without it): every relative
    cost is non-negative (up to rounding), so the sum of a growth only increases as it
    proceeds, and a start wins only if its sum ends below a bound known in advance —
    ``accept_ratio`` times the current sum, and the sums of the component's earlier
    starts. A growth whose running sum exceeds that bound (by a margin far above the
    rounding of the sums, see ``_prune_limit``) cannot win and is stopped — a
    branch-and-bound cut (Land AH, Doig AG. An automatic method of solving discrete
    programming problems. Econometrica 1960;28:497-520): the start that loses (typically
    the fat-water alias of the seed, whose map misfits wherever both tissues meet) is
    abandoned after part of the component instead of grown over all of it.

    Parallel and exact: each (component, start) growth is independent of the others (a
    growth reads and writes only its own component), so the growths run on the Numba
    threads — one bin of similar voxel count (``_balanced_bins``) per row of ``scratch``
    (``growth_scratch``), each thread with its own state, queue and field arrays — and the
    choice per component is made afterwards in the serial order. When there are at least
    as many components to grow as threads (or one thread), the bins hold whole
    components and each thread grows a component's starts in order, so that the earlier
    sums can prune the later starts; otherwise (fewer components than threads) the starts
    of a component run at once on different threads, bounded by the current sum only.
    Which growths are pruned never changes the choice: the result is the serial
    algorithm's, bit for bit, whatever the number of threads.
    """
    n_vox = cand_psi.shape[0]
    n_comp = comp_ptr.shape[0] - 1
    # seeds, current sums and the starts to try, per component
    seeds = np.zeros(n_comp, dtype=np.int64)
    current = np.zeros(n_comp)
    n_items = n_comp * n_tries
    work = np.zeros(n_items)
    for ci in prange(n_comp):
        a, b = comp_ptr[ci], comp_ptr[ci + 1]
        if b <= a or skip[ci]:
            continue
        seed = comp_vox[a]
        total = 0.0
        for t in range(a, b):
            u = comp_vox[t]
            if _precedes(seed_score[u], u, seed_score[seed], seed):
                seed = u
            if how[u] == 0:
                total = np.inf
            else:
                total += _relative(cost[u], quality[u])
        seeds[ci] = seed
        current[ci] = total
        seed_assigned = how[seed] != 0
        for tr in range(min(n_tries, n_cand[seed])):
            if seed_assigned:
                # a start that the current map already took at the seed would grow it again
                p = cand_psi[seed, tr]
                if period > 0.0:
                    p += period * math.floor((psi[seed] - p) / period + 0.5)
                if abs(p - psi[seed]) < 1e-9:
                    continue
            work[ci * n_tries + tr] = b - a
    n_threads = scratch[0].shape[0]
    n_active = 0
    for ci in range(n_comp):
        for tr in range(n_tries):
            if work[ci * n_tries + tr] > 0.0:
                n_active += 1
                break
    in_order = prune and (n_threads == 1 or n_active >= n_threads)
    if in_order:
        # bins of whole components, each component's starts in order on one thread
        work_c = np.zeros(n_comp)
        for ci in range(n_comp):
            for tr in range(n_tries):
                work_c[ci] += work[ci * n_tries + tr]
        cbin_ptr, cbin_items = _balanced_bins(work_c, n_threads)
        bin_ptr = np.zeros(n_threads + 1, dtype=np.int64)
        bin_items = np.empty(n_items, dtype=np.int64)
        n_put = 0
        for th in range(n_threads):
            for k in range(cbin_ptr[th], cbin_ptr[th + 1]):
                ci = cbin_items[k]
                for tr in range(n_tries):
                    if work[ci * n_tries + tr] > 0.0:
                        bin_items[n_put] = ci * n_tries + tr
                        n_put += 1
            bin_ptr[th + 1] = n_put
    else:
        bin_ptr, bin_items = _balanced_bins(work, n_threads)
    # each start's grown field over its component, and its summed relative cost
    res_psi, res_cost, res_how = scratch[8], scratch[9], scratch[10]
    totals = np.full(n_items, np.inf)
    for th in prange(n_threads):
        state = scratch[0][th]
        eligible = scratch[1][th]
        psi_t = scratch[3][th]
        cost_t = scratch[4][th]
        how_t = scratch[5][th]
        queue = scratch[6][th]
        offsets = scratch[11]
        for k in range(bin_ptr[th], bin_ptr[th + 1]):
            item = bin_items[k]
            ci = item // n_tries
            tr = item - ci * n_tries
            a, b = comp_ptr[ci], comp_ptr[ci + 1]
            seed = seeds[ci]
            limit = np.inf
            if prune:
                bound = accept_ratio * current[ci]
                if in_order:
                    # the component's earlier starts ran before on this thread
                    for tp in range(tr):
                        bound = min(bound, totals[ci * n_tries + tp])
                limit = _prune_limit(bound, b - a)
            for t in range(a, b):
                eligible[comp_vox[t]] = True
            psi_t[seed] = cand_psi[seed, tr]
            cost_t[seed] = cand_cost[seed, tr]
            how_t[seed] = 3
            state[seed] = 2
            size = _push_neighbours(seed, nbr, eligible, state, rank, queue, offsets, 0)
            running = _grow(nbr, cand_psi, cand_cost, n_cand, quality, eligible,
                            use_cand, state, psi_t, cost_t, how_t, period, max_jump,
                            sig, te, c, decay, gram, rank, order, queue, offsets, size,
                            _relative(cost_t[seed], quality[seed]), limit)
            if running > limit:
                # pruned: this start cannot win; empty its queue
                for t in range(a, b):
                    u = comp_vox[t]
                    if state[u] == 1:
                        queue_discard(queue, offsets, rank[u])
                    eligible[u] = False
                    state[u] = 0
                continue
            total = 0.0
            for t in range(a, b):
                u = comp_vox[t]
                total += _relative(cost_t[u], quality[u])
                res_psi[tr, t] = psi_t[u]
                res_cost[tr, t] = cost_t[u]
                res_how[tr, t] = how_t[u]
                eligible[u] = False
                state[u] = 0
            totals[item] = total
    # per component: the best start if it beats the current map clearly enough
    for ci in prange(n_comp):
        a, b = comp_ptr[ci], comp_ptr[ci + 1]
        if b <= a or skip[ci]:
            continue
        best_total = accept_ratio * current[ci]
        best = -1
        for tr in range(n_tries):
            if totals[ci * n_tries + tr] < best_total:
                best_total = totals[ci * n_tries + tr]
                best = tr
        if best >= 0:
            for t in range(a, b):
                u = comp_vox[t]
                psi[u] = res_psi[best, t]
                cost[u] = res_cost[best, t]
                how[u] = res_how[best, t]


@njit(cache=True, inline="always")
def _prune_limit(bound, n):
    """Running sum above which a growth over ``n`` voxels cannot end below ``bound``.

    The final sum (in component order) of ``n`` relative costs differs from a running sum
    (in growth order) of some of them by the rest, which is ≥ −n·1e-13 (a relative cost
    is negative only by rounding: ≥ −1e-15 per echo), and by rounding ≤ 2·n·2⁻⁵³ of the
    magnitude; the margin covers both many times over (n < 10⁷).
    """
    return bound + 1e-8 * abs(bound) + 1e-12 * n


@njit(cache=True)
def _fill_piece(nbr, cand_psi, cand_cost, n_cand, quality, rank, order, domain, psi, cost,
                how, period, max_jump, sig, te, c, decay, gram, vox, state, eligible,
                use_cand, fresh, queue, offsets):
    """``fill_kernel`` on one connected piece of the domain (voxels ``vox`` ascending);
    the scratch arrays are all-False / zero on entry and are left so."""
    for t in range(vox.shape[0]):
        v = vox[t]
        if how[v] != 0:
            state[v] = 2
        elif domain[v]:
            eligible[v] = True
            fresh[v] = True
    size = 0
    for t in range(vox.shape[0]):
        v = vox[t]
        if state[v] == 2:
            size = _push_neighbours(v, nbr, eligible, state, rank, queue, offsets, size)
    _grow(nbr, cand_psi, cand_cost, n_cand, quality, eligible, use_cand, state,
          psi, cost, how, period, max_jump, sig, te, c, decay, gram, rank, order, queue,
          offsets, size, 0.0, np.inf)
    # islands: in the growth order (highest quality first, ties: lower index) among the
    # voxels not reached — few, so only their ranks are sorted
    n_left = 0
    for t in range(vox.shape[0]):
        v = vox[t]
        if eligible[v] and state[v] == 0 and n_cand[v] > 0:
            n_left += 1
    left = np.empty(n_left, dtype=np.int64)
    n_left = 0
    for t in range(vox.shape[0]):
        v = vox[t]
        if eligible[v] and state[v] == 0 and n_cand[v] > 0:
            left[n_left] = v
            n_left += 1
    seeds = left[np.argsort(rank[left])]
    for t in range(seeds.shape[0]):
        v = seeds[t]
        if state[v] != 0:
            continue
        psi[v] = cand_psi[v, 0]
        cost[v] = cand_cost[v, 0]
        how[v] = 6
        state[v] = 2
        size = _push_neighbours(v, nbr, eligible, state, rank, queue, offsets, 0)
        _grow(nbr, cand_psi, cand_cost, n_cand, quality, eligible, use_cand, state,
              psi, cost, how, period, max_jump, sig, te, c, decay, gram, rank, order,
              queue, offsets, size, 0.0, np.inf)
    for t in range(vox.shape[0]):
        v = vox[t]
        if fresh[v] and state[v] == 2:
            if how[v] == 1:
                how[v] = 4
            elif how[v] == 2:
                how[v] = 5
        state[v] = 0
        eligible[v] = False
        fresh[v] = False


@njit(cache=True, parallel=True)
def fill_kernel(nbr, cand_psi, cand_cost, n_cand, quality, rank, order, domain, psi, cost,
                how, period, max_jump, sig, te, c, decay, gram, piece_ptr, piece_vox, scratch):
    """Extend an assigned field map into the rest of ``domain`` (in place).

    Growth starts from every assigned voxel at once, high-quality voxels first; each new
    voxel takes its candidate nearest to the neighbours' prediction (within ``max_jump``),
    else the prediction. Voxels not connected to any assigned voxel are seeded island by
    island at their highest-quality voxel with its lowest-cost candidate. Marks ``how``
    4 = filled from a candidate, 5 = filled by prediction, 6 = island seed.

    ``rank``, ``order``: the growth order of the voxels (``_queue.growth_order``).
    ``piece_ptr``, ``piece_vox``: the connected pieces of the domain (CSR voxel lists,
    ascending within a piece, as ``_components`` returns them). No neighbour links join
    two pieces, and the growth order is a total order (quality, then index), so each piece
    is filled on its own — in parallel, pieces split into one bin of similar size per row
    of ``scratch`` (``growth_scratch``) — with the result of one global fill.
    """
    n_piece = piece_ptr.shape[0] - 1
    work = np.zeros(n_piece)
    for k in range(n_piece):
        work[k] = piece_ptr[k + 1] - piece_ptr[k]
    n_threads = scratch[0].shape[0]
    bin_ptr, bin_items = _balanced_bins(work, n_threads)
    use_cand = scratch[7]
    for th in prange(n_threads):
        state = scratch[0][th]
        eligible = scratch[1][th]
        fresh = scratch[2][th]
        queue = scratch[6][th]
        for k in range(bin_ptr[th], bin_ptr[th + 1]):
            p = bin_items[k]
            a, b = piece_ptr[p], piece_ptr[p + 1]
            _fill_piece(nbr, cand_psi, cand_cost, n_cand, quality, rank, order, domain, psi,
                        cost, how, period, max_jump, sig, te, c, decay, gram, piece_vox[a:b],
                        state, eligible, use_cand, fresh, queue, scratch[11])
    return psi, cost, how


# --------------------------------------------------------------------------------------------
# Per-voxel nonlinear refinement: Levenberg–Marquardt on (W, F complex; R2*; ψ)
# --------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _cexp(psi, r2, t):
    """exp((i2πψ − R2*) t) for ψ in Hz, R2* in 1/s, t in s (no ``exp`` call if R2* = 0)."""
    ph = _TWO_PI * psi * t
    z = complex(math.cos(ph), math.sin(ph))
    if r2 != 0.0:
        z = z * math.exp(-r2 * t)
    return z


@njit(cache=True, inline="always")
def _phasors(te, psi, r2, dte, n_first, d):
    """Fill d_n = exp((i2πψ − R2*) t_n) (``d``, (N,) complex128).

    With uniform echo spacing ``dte`` > 0 (s), d_n follows from d_0 by the recurrence
    d_{n+1} = d_n · exp((i2πψ − R2*) ΔTE): two complex exponentials instead of one per echo;
    when the first echo time is a small whole multiple ``n_first`` ≥ 1 of ΔTE (see
    ``_first_echo_steps``), d_0 = exp((i2πψ − R2*) ΔTE)^n_first as well: one exponential.
    """
    n = te.shape[0]
    if not dte > 0.0:
        for k in range(n):
            d[k] = _cexp(psi, r2, te[k])
        return
    step = _cexp(psi, r2, dte)
    if n_first > 0:
        dk = step
        for _ in range(1, n_first):
            dk = dk * step
    else:
        dk = _cexp(psi, r2, te[0])
    # the running phasor stays in registers (not re-read from ``d``: a store-to-load
    # round trip on every echo)
    d[0] = dk
    for k in range(1, n):
        dk = dk * step
        d[k] = dk


@njit(cache=True, inline="always")
def _cost_and_sums(s, te, c, w, f, d):
    """The cost Σ|s − m|² of m_n = (W + F c_n) d_n (``d`` from ``_phasors``) and the nine
    sums over echoes that the next Levenberg–Marquardt step is assembled from.

    Returns (cost, s_dd, s_ee, s_mm, s_de, s_dm, s_em, s_dr, s_er, s_mr): with e_n = c_n d_n,
    r_n = s_n − m_n and the columns ∂m/∂(Re W, Im W, Re F, Im F, R2*, ψ) =
    (d, i d, e, i e, −t m, i2πt m), the sums Σ|d|², Σ|e|², Σ|t m|², Σ d̄ e, Σ d̄ t m,
    Σ ē t m, Σ d̄ r, Σ ē r and Σ conj(t m) r, from which ``_solve_lm`` forms
    H = Re(JᴴJ) and g = Re(Jᴴr).
    """
    cost = 0.0
    s_dd = 0.0
    s_ee = 0.0
    s_mm = 0.0
    s_de = 0.0 + 0.0j
    s_dm = 0.0 + 0.0j
    s_em = 0.0 + 0.0j
    s_dr = 0.0 + 0.0j
    s_er = 0.0 + 0.0j
    s_mr = 0.0 + 0.0j
    for k in range(s.shape[0]):
        dk = d[k]
        ek = c[k] * dk
        mk = w * dk + f * ek
        res = s[k] - mk
        tm = te[k] * mk
        dc = dk.conjugate()
        ec = ek.conjugate()
        cost += res.real * res.real + res.imag * res.imag
        s_dd += dk.real * dk.real + dk.imag * dk.imag
        s_ee += ek.real * ek.real + ek.imag * ek.imag
        s_mm += tm.real * tm.real + tm.imag * tm.imag
        s_de += dc * ek
        s_dm += dc * tm
        s_em += ec * tm
        s_dr += dc * res
        s_er += ec * res
        s_mr += tm.conjugate() * res
    return cost, s_dd, s_ee, s_mm, s_de, s_dm, s_em, s_dr, s_er, s_mr


@njit(cache=True)
def _first_echo_steps(te, dte):
    """n if the first echo time is n·ΔTE (1 ≤ n ≤ 4, to 1e-12 relative), else 0."""
    if not dte > 0.0:
        return 0
    ratio = te[0] / dte
    n = int(round(ratio))
    if 1 <= n <= 4 and abs(ratio - n) <= 1e-12 * n:
        return n
    return 0


@njit(cache=True)
def _uniform_spacing(te):
    """ΔTE (s) if the echo times are uniformly spaced (to 1e-9 relative), else 0."""
    n = te.shape[0]
    dt = (te[n - 1] - te[0]) / (n - 1)
    for k in range(1, n):
        if abs((te[k] - te[k - 1]) - dt) > 1e-9 * dt:
            return 0.0
    return dt


@njit(cache=True, inline="always")
def _solve_lm(s_dd, s_ee, s_mm, s_de, s_dm, s_em, g_w, g_f, g_r2, g_psi, lam, step):
    """Solve the damped normal equations of one Levenberg–Marquardt step in closed form.

    The 6 × 6 system (JᵀJ + λ·diag JᵀJ) x = g over (Re W, Im W, Re F, Im F, R2*, ψ) is,
    in complex notation for the amplitudes, M [w; f] + c₁ x₁ + c₂ x₂ = [g_w; g_f] and
    Re(c_jᴴ [w; f]) + n_j x_j = g_j (j = R2*, ψ), with the Hermitian 2 × 2
    M = [[s_dd(1+λ), s_de], [s̄_de, s_ee(1+λ)]], the couplings c₁ = −[s_dm; s_em],
    c₂ = i2π[s_dm; s_em], n₁ = s_mm(1+λ), n₂ = (2π)² s_mm(1+λ) (the R2*–ψ entry is
    Re(−i2πt²|m|²) = 0). Eliminating the amplitudes (M⁻¹ in closed form) leaves the 2 × 2
    Schur complement for (R2*, ψ); back-substitution gives the amplitudes. The same
    solution as a Cholesky factorisation of the 6 × 6 matrix, up to rounding, at a
    fraction of the cost (block elimination: Golub & Van Loan, Matrix Computations, 4th
    ed. 2013, §3.2.10).

    Writes ``step`` (6,) and returns True; returns False if the damped matrix is not
    positive definite (then λ grows).
    """
    a = s_dd * (1.0 + lam) + 1e-30
    d = s_ee * (1.0 + lam) + 1e-30
    b = s_de
    det_m = a * d - (b.real * b.real + b.imag * b.imag)
    if not (a > 0.0 and det_m > 0.0):
        return False
    inv = 1.0 / det_m
    w2 = _TWO_PI
    # M⁻¹ = [[d, −b], [−b̄, a]] / det_m applied to the couplings and the gradient
    c1w = -s_dm
    c1f = -s_em
    c2w = complex(0.0, w2) * s_dm
    c2f = complex(0.0, w2) * s_em
    z1w = (d * c1w - b * c1f) * inv
    z1f = (a * c1f - b.conjugate() * c1w) * inv
    z2w = (d * c2w - b * c2f) * inv
    z2f = (a * c2f - b.conjugate() * c2w) * inv
    zgw = (d * g_w - b * g_f) * inv
    zgf = (a * g_f - b.conjugate() * g_w) * inv
    # Schur complement S = N − Cᵀ M⁻¹ C and right-hand side r = g_n − Cᵀ M⁻¹ g
    s11 = s_mm * (1.0 + lam) + 1e-30 - (c1w.conjugate() * z1w + c1f.conjugate() * z1f).real
    s22 = (w2 * w2 * s_mm * (1.0 + lam) + 1e-30
           - (c2w.conjugate() * z2w + c2f.conjugate() * z2f).real)
    s12 = -(c1w.conjugate() * z2w + c1f.conjugate() * z2f).real
    r1 = g_r2 - (c1w.conjugate() * zgw + c1f.conjugate() * zgf).real
    r2 = g_psi - (c2w.conjugate() * zgw + c2f.conjugate() * zgf).real
    det_s = s11 * s22 - s12 * s12
    if not (s11 > 0.0 and det_s > 0.0):
        return False
    x1 = (s22 * r1 - s12 * r2) / det_s
    x2 = (s11 * r2 - s12 * r1) / det_s
    dw = zgw - z1w * x1 - z2w * x2
    df = zgf - z1f * x1 - z2f * x2
    step[0] = dw.real
    step[1] = dw.imag
    step[2] = df.real
    step[3] = df.imag
    step[4] = x1
    step[5] = x2
    return True


# The refinement's float64 arithmetic may be fused (multiply-add) and reassociated (sums
# over echoes in any order, x/y as x·(1/y)): a few ulp of rounding, about a fifth less
# time. NaN and infinity keep their IEEE meaning (no "nnan"/"ninf"), so the finiteness
# tests and the cost comparisons hold.
_REFINE_FLAGS = dict(cache=True, parallel=True,
                     fastmath={"contract", "reassoc", "arcp", "nsz"})


@njit(**_REFINE_FLAGS)
def refine_kernel(sig, psi0, te, c, decay, gram, r2_grid, max_jump, r2_min, r2_max, max_iter,
                  tol):
    """Levenberg–Marquardt fit of the full complex model in every voxel.

    Starts at ψ0 (from the field-map step), the R2* of a parabola through the
    variable-projection costs of the grid around its best value at ψ0, and the
    variable-projection W, F there; bounds: |ψ − ψ0| ≤ ``max_jump`` (stays in the basin the
    spatial step chose), ``r2_min`` ≤ R2* ≤ ``r2_max`` (projection onto the box).
    Marquardt's scaling λ·diag(JᵀJ) (Marquardt 1963, SIAM J Appl Math 11:431); each
    step's 6 × 6 system is solved by eliminating the complex amplitudes in closed form
    (``_solve_lm``). With uniformly spaced echoes the per-echo exponentials follow by
    recurrence from one or two complex exponentials (``_phasors``); each evaluation also
    forms the sums of the next step's normal equations (``_cost_and_sums``). The start's
    phasors come from the same recurrence, and its projections from the weighted echoes
    e^{−i2πψt}s and c̄ e^{−i2πψt}s, formed once for all R2* values of the grid.

    Stops after ``max_iter`` accepted steps; when an accepted step lowered the cost by
    less than the fraction ``tol``; when the next step's Gauss–Newton decrease, which is
    at most 2gᵀx for the damped step x and gradient g (Madsen K, Nielsen HB, Tingleff O.
    Methods for non-linear least squares problems, 2nd ed. IMM, DTU 2004, §3.2), is not
    above ``tol`` times the cost (that step is then not taken); or when no damping gives
    a lower cost.

    Returns
    -------
    (V, 7) float64: Re W, Im W, Re F, Im F, R2* (1/s), ψ (Hz), RMS residual over echoes.
    NaN rows where ψ0 or the signal is not finite.
    """
    n_vox, n_echo = sig.shape
    out = np.empty((n_vox, 7))           # rows set to NaN in the loop (parallel first touch)
    n_chunks = (n_vox + _CHUNK - 1) // _CHUNK
    dte = _uniform_spacing(te)
    n_first = _first_echo_steps(te, dte)
    inv_det = 1.0 / gram[:, 4]           # the Gram determinants' reciprocals, per R2* value
    for ch in prange(n_chunks):
        s = np.empty(n_echo, dtype=np.complex128)
        d = np.empty(n_echo, dtype=np.complex128)
        a_dm = np.empty(n_echo, dtype=np.complex128)      # e^{-i2πψt} s
        b_dm = np.empty(n_echo, dtype=np.complex128)      # c̄ e^{-i2πψt} s
        rcost = np.empty(decay.shape[0])
        step = np.empty(6)
        for v in range(ch * _CHUNK, min(n_vox, (ch + 1) * _CHUNK)):
            for q in range(7):
                out[v, q] = np.nan
            finite = np.isfinite(psi0[v])
            for k in range(n_echo):
                s[k] = sig[v, k]
                if not (np.isfinite(s[k].real) and np.isfinite(s[k].imag)):
                    finite = False
            if not finite:
                continue
            # variable-projection start at ψ0: R2* from a parabola through the grid costs
            # around the best grid value, W, F = (A^H A)^-1 A^H s there
            lo = psi0[v] - max_jump
            hi = psi0[v] + max_jump
            psi = psi0[v]
            _phasors(te, -psi, 0.0, dte, n_first, d)       # e^{−i2πψt}, no decay
            for k in range(n_echo):
                z = d[k] * s[k]
                a_dm[k] = z
                b_dm[k] = c[k].conjugate() * z
            energy = 0.0
            for k in range(n_echo):
                energy += s[k].real * s[k].real + s[k].imag * s[k].imag
            n_r2 = decay.shape[0]
            for r in range(n_r2):
                u1 = 0.0 + 0.0j
                u2 = 0.0 + 0.0j
                for k in range(n_echo):
                    u1 += decay[r, k] * a_dm[k]
                    u2 += decay[r, k] * b_dm[k]
                rcost[r] = energy - inv_det[r] * _projected_energy(
                    u1, u2, gram[r, 0], complex(gram[r, 1], gram[r, 2]), gram[r, 3], 1.0)
            rbest = 0
            for r in range(1, n_r2):
                if rcost[r] < rcost[rbest]:
                    rbest = r
            r2 = r2_grid[rbest]
            if 0 < rbest < n_r2 - 1:
                x0, x1, x2 = r2_grid[rbest - 1], r2_grid[rbest], r2_grid[rbest + 1]
                y0, y1, y2 = rcost[rbest - 1], rcost[rbest], rcost[rbest + 1]
                den = (x0 - x1) * (x0 - x2) * (x1 - x2)
                qa = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / den
                qb = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / den
                if qa > 0.0:
                    r2 = min(max(-qb / (2.0 * qa), x0), x2)
            r2 = min(max(r2, r2_min), r2_max)
            g11 = 0.0
            g12 = 0.0 + 0.0j
            g22 = 0.0
            u1 = 0.0 + 0.0j
            u2 = 0.0 + 0.0j
            e_step = 1.0
            if dte > 0.0:
                e_step = math.exp(-r2 * dte)
            e = 1.0
            for k in range(n_echo):
                if k == 0 and n_first > 0:
                    e = e_step
                    for _ in range(1, n_first):
                        e *= e_step
                elif k == 0 or dte <= 0.0:
                    e = math.exp(-r2 * te[k])
                else:
                    e *= e_step
                e2 = e * e
                g11 += e2
                g12 += e2 * c[k]
                g22 += e2 * (c[k].real * c[k].real + c[k].imag * c[k].imag)
                u1 += e * a_dm[k]
                u2 += e * b_dm[k]
                d[k] = d[k].conjugate() * e          # exp((i2πψ − R2*) t) for the model
            det = g11 * g22 - (g12.real * g12.real + g12.imag * g12.imag)
            w = (g22 * u1 - g12 * u2) / det
            f = (g11 * u2 - g12.conjugate() * u1) / det
            (cost, s_dd, s_ee, s_mm, s_de, s_dm, s_em, s_dr, s_er,
             s_mr) = _cost_and_sums(s, te, c, w, f, d)
            lam = 1e-3
            for it in range(max_iter):
                g_r2 = -s_mr.real
                g_psi = _TWO_PI * s_mr.imag
                improved = False
                while lam < 1e12:
                    if not _solve_lm(s_dd, s_ee, s_mm, s_de, s_dm, s_em, s_dr, s_er, g_r2,
                                     g_psi, lam, step):
                        lam *= 10.0
                        continue
                    # the Gauss–Newton model's decrease along the step is at most 2 gᵀx:
                    # below the tolerance, the step is not worth an evaluation
                    gx = (s_dr.real * step[0] + s_dr.imag * step[1] + s_er.real * step[2]
                          + s_er.imag * step[3] + g_r2 * step[4] + g_psi * step[5])
                    if 2.0 * gx <= tol * cost:
                        break
                    w_new = w + complex(step[0], step[1])
                    f_new = f + complex(step[2], step[3])
                    r2_new = min(max(r2 + step[4], r2_min), r2_max)
                    psi_new = min(max(psi + step[5], lo), hi)
                    _phasors(te, psi_new, r2_new, dte, n_first, d)
                    trial = _cost_and_sums(s, te, c, w_new, f_new, d)
                    if trial[0] < cost:
                        rel = (cost - trial[0]) / cost
                        w, f, r2, psi = w_new, f_new, r2_new, psi_new
                        (cost, s_dd, s_ee, s_mm, s_de, s_dm, s_em, s_dr, s_er,
                         s_mr) = trial
                        lam = max(lam * 0.1, 1e-12)
                        improved = rel >= tol    # a smaller gain ends the fit
                        break
                    lam *= 10.0
                if not improved:
                    break
            out[v, 0] = w.real
            out[v, 1] = w.imag
            out[v, 2] = f.real
            out[v, 3] = f.imag
            out[v, 4] = r2
            out[v, 5] = psi
            out[v, 6] = math.sqrt(cost / n_echo)
    return out
