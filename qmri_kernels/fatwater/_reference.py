"""Slow, obviously correct references of the fat-water kernels (NumPy / SciPy, per voxel).

The tests compare every Numba kernel in :mod:`._kernels` with the function here of the
same job, and the benchmark measures the fast fit against :func:`fit_voxel_reference`.
Nothing here is fast and nothing is meant to be: each step is written the way the paper
states it.
"""

from __future__ import annotations

import heapq

import numpy as np
from scipy.optimize import least_squares

from ._plan import Plan

#: Neighbour offsets (di, dj, dk) and prediction weights of the region growing, in the
#: order the kernel visits them.
NEIGHBOURS = ((-1, 0, 0, 1.0), (1, 0, 0, 1.0), (0, -1, 0, 1.0), (0, 1, 0, 1.0),
              (-1, -1, 0, 0.7071067811865476), (-1, 1, 0, 0.7071067811865476),
              (1, -1, 0, 0.7071067811865476), (1, 1, 0, 0.7071067811865476),
              (0, 0, -1, 0.25), (0, 0, 1, 0.25))


def basis(plan: Plan, psi: float, r2: float) -> np.ndarray:
    """The (N, 2) matrix A = [d, c·d] with d_n = exp((i2πψ − R2*) t_n)."""
    d = np.exp((2j * np.pi * psi - r2) * plan.te)
    return np.stack([d, plan.c * d], axis=1)


def varpro_cost_reference(s: np.ndarray, psi: float, plan: Plan) -> tuple[float, int]:
    """min over the R2* grid of ||s − A x̂||², x̂ the least-squares W, F; and its index."""
    costs = []
    for r2 in plan.r2_grid:
        a = basis(plan, psi, r2)
        x, *_ = np.linalg.lstsq(a, s, rcond=None)
        costs.append(float(np.sum(np.abs(s - a @ x) ** 2)))
    r = int(np.argmin(costs))
    return costs[r], r


def candidates_reference(s: np.ndarray, plan: Plan, n_keep: int = 4):
    """Local minima in ψ of the VARPRO cost of one voxel, lowest cost first.

    Returns lists (psi, cost, r2_index) of at most ``n_keep`` minima: grid minima (strictly
    lower than the left neighbour, not higher than the right; wrapping when the plan is
    periodic), each refined by the parabola through its three grid values.
    """
    s = np.asarray(s, dtype=np.complex128)
    grid = plan.psi_grid
    n = grid.size
    step = grid[1] - grid[0]
    pairs = [varpro_cost_reference(s, p, plan) for p in grid]
    curve = np.array([p[0] for p in pairs])
    ridx = [p[1] for p in pairs]
    found = []
    for g in range(n):
        left = curve[g - 1] if (g > 0 or plan.periodic) else np.inf
        right = curve[(g + 1) % n] if (g < n - 1 or plan.periodic) else np.inf
        y0 = curve[g]
        if not (y0 < left and y0 <= right):
            continue
        psi, cost = grid[g], y0
        if np.isfinite(left) and np.isfinite(right) and left - 2 * y0 + right > 0:
            off = float(np.clip(0.5 * (left - right) / (left - 2 * y0 + right), -0.5, 0.5))
            psi = grid[g] + off * step
            cost = max(y0 - 0.25 * (left - right) * off, 0.0)
        found.append((cost, g, psi, ridx[g]))
    if not found:
        g = int(np.argmin(curve))
        found = [(curve[g], g, grid[g], ridx[g])]
    found.sort(key=lambda t: (t[0], t[1]))
    found = found[:n_keep]
    return [f[2] for f in found], [f[0] for f in found], [f[3] for f in found]


def start_reference(s: np.ndarray, psi0: float, plan: Plan,
                    r2_bounds: tuple[float, float]) -> np.ndarray:
    """The refinement's start at ψ0: (Re W, Im W, Re F, Im F, R2*, ψ0).

    R2* is the vertex of the parabola through the VARPRO costs at the best R2* grid value
    and its two neighbours (kept between them; the best grid value at the ends of the
    grid), clipped to ``r2_bounds``; W, F are the least-squares amplitudes there.
    """
    grid = plan.r2_grid
    costs = []
    for r2 in grid:
        a = basis(plan, psi0, r2)
        x, *_ = np.linalg.lstsq(a, s, rcond=None)
        costs.append(float(np.sum(np.abs(s - a @ x) ** 2)))
    r = int(np.argmin(costs))
    r2 = float(grid[r])
    if 0 < r < grid.size - 1:
        coef = np.polyfit(grid[r - 1:r + 2], costs[r - 1:r + 2], 2)
        if coef[0] > 0:
            r2 = float(np.clip(-coef[1] / (2 * coef[0]), grid[r - 1], grid[r + 1]))
    r2 = float(np.clip(r2, *r2_bounds))
    a = basis(plan, psi0, r2)
    x, *_ = np.linalg.lstsq(a, s, rcond=None)
    return np.array([x[0].real, x[0].imag, x[1].real, x[1].imag, r2, psi0])


def refine_reference(s: np.ndarray, psi0: float, plan: Plan, max_jump: float,
                     r2_bounds: tuple[float, float]) -> np.ndarray:
    """Bounded nonlinear least squares of (W, F, R2*, ψ) with SciPy, started like the kernel
    (:func:`start_reference`). Returns (7,) Re W, Im W, Re F, Im F, R2*, ψ, RMS residual.
    """
    s = np.asarray(s, dtype=np.complex128)
    theta0 = start_reference(s, psi0, plan, r2_bounds)

    def residual(theta):
        w = theta[0] + 1j * theta[1]
        f = theta[2] + 1j * theta[3]
        res = s - basis(plan, theta[5], theta[4]) @ np.array([w, f])
        return np.concatenate([res.real, res.imag])

    lo = [-np.inf] * 4 + [r2_bounds[0], psi0 - max_jump]
    hi = [np.inf] * 4 + [r2_bounds[1], psi0 + max_jump]
    sol = least_squares(residual, theta0, bounds=(lo, hi), method="trf", x_scale="jac",
                        xtol=1e-12, ftol=1e-14, gtol=1e-14, max_nfev=2000)
    rms = np.sqrt(np.sum(sol.fun ** 2) / s.size)
    return np.concatenate([sol.x, [rms]])


def fit_voxel_reference(s: np.ndarray, plan: Plan, max_jump: float = 90.0,
                        r2_bounds: tuple[float, float] = (0.0, 1000.0)) -> np.ndarray:
    """The whole voxel-independent fit of one voxel: grid search, lowest minimum, SciPy fit.

    The per-voxel SciPy baseline of the benchmark. Returns (7,) as :func:`refine_reference`.
    """
    psis, _, _ = candidates_reference(s, plan)
    return refine_reference(s, psis[0], plan, max_jump, r2_bounds)


# --------------------------------------------------------------------------------------------
# Region growing, with heapq, sets and dictionaries
# --------------------------------------------------------------------------------------------
def components_reference(select, coords, min_size):
    """Connected components (breadth-first search over :data:`NEIGHBOURS`) of the selected
    voxels with at least ``min_size`` voxels, as sorted voxel lists."""
    where = {tuple(ijk): v for v, ijk in enumerate(coords)}
    seen, comps = set(), []
    for v in range(len(coords)):
        if not select[v] or v in seen:
            continue
        comp, todo = [], [v]
        seen.add(v)
        while todo:
            u = todo.pop()
            comp.append(u)
            i, j, k = coords[u]
            for di, dj, dk, _ in NEIGHBOURS:
                n = where.get((i + di, j + dj, k + dk))
                if n is not None and select[n] and n not in seen:
                    seen.add(n)
                    todo.append(n)
        if len(comp) >= min_size:
            comps.append(sorted(comp))
    return comps


def _nearest(cands_psi, pred, period):
    best = (-1, np.nan, np.inf)
    for k, p in enumerate(cands_psi):
        if period > 0:
            p = p + period * np.floor((pred - p) / period + 0.5)
        d = abs(p - pred)
        if d < best[2]:
            best = (k, p, d)
    return best


def grow_reference(coords, cand_psi, cand_cost, n_cand, quality, eligible, use_cand,
                   assigned, period, max_jump, cost_at, sources=None):
    """Quality-guided growth from ``sources`` (default: all ``assigned`` voxels, a dict
    voxel → ψ) into the ``eligible`` voxels not yet assigned.

    A voxel takes the weighted mean ψ of its assigned neighbours as prediction, then its
    cost minimum nearest to it if within ``max_jump`` and ``use_cand[v]``, else the
    prediction. ``cost_at(v, psi)`` is the VARPRO cost. Returns dicts psi, cost, how (1
    candidate, 2 prediction) of the newly assigned voxels and adds them to ``assigned``.
    """
    where = {tuple(ijk): v for v, ijk in enumerate(coords)}

    def neighbours(v):
        i, j, k = coords[v]
        for di, dj, dk, w in NEIGHBOURS:
            u = where.get((i + di, j + dj, k + dk))
            if u is not None:
                yield u, w

    heap, queued = [], set()

    def push_from(v):
        for u, _ in neighbours(v):
            if eligible[u] and u not in assigned and u not in queued:
                queued.add(u)
                heapq.heappush(heap, (-quality[u], u))

    for v in sorted(assigned if sources is None else sources):
        push_from(v)
    psi, cost, how = {}, {}, {}
    while heap:
        _, v = heapq.heappop(heap)
        acc = wsum = 0.0
        for u, w in neighbours(v):
            if u in assigned:
                acc += w * assigned[u]
                wsum += w
        pred = acc / wsum
        k, p, d = (_nearest(cand_psi[v, :n_cand[v]], pred, period) if use_cand[v]
                   else (-1, np.nan, np.inf))
        if k >= 0 and d <= max_jump:
            psi[v], cost[v], how[v] = p, cand_cost[v, k], 1
        else:
            psi[v], cost[v], how[v] = pred, cost_at(v, pred), 2
        assigned[v] = psi[v]
        push_from(v)
    return psi, cost, how


def seed_score_reference(quality, coords):
    """Lowest quality over each voxel's 3 × 3 in-plane neighbourhood (0 outside the domain)."""
    where = {tuple(ijk): v for v, ijk in enumerate(coords)}
    out = np.empty(len(coords))
    for v, (i, j, k) in enumerate(coords):
        vals = []
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                u = where.get((i + di, j + dj, k))
                vals.append(max(quality[u], 0.0) if u is not None else 0.0)
        out[v] = min(vals)
    return out


def region_growing_reference(sig, coords, cand_psi, cand_cost, n_cand, quality, reliable,
                             domain, plan: Plan, max_jump: float, n_tries: int = 2,
                             min_component: int = 50, accept_ratio: float = 0.75):
    """Reference of the whole region-growing field-map step.

    A: each connected piece of ``domain`` is grown from its voxel of highest
    :func:`seed_score_reference`, trying its
    ``n_tries`` lowest minima; dark (not ``reliable``) voxels carry the prediction; the
    start with the smallest sum of residuals relative to each voxel's signal energy wins.
    B: each reliable component of ≥ ``min_component`` voxels that shares its piece of the
    domain with other reliable voxels is regrown alone; the result replaces the current
    one if its summed relative cost is below ``accept_ratio`` times the current sum.
    C: dark voxels and small components are emptied and filled from the rest; unreachable
    islands start at their best minimum.
    Returns arrays psi, cost, how with the kernel's codes.
    """
    n = len(coords)
    psi = np.full(n, np.nan)
    cost = np.full(n, np.nan)
    how = np.zeros(n, dtype=np.int8)

    def cost_at(v, p):
        return varpro_cost_reference(np.asarray(sig[v], np.complex128), p, plan)[0]

    seed_score = seed_score_reference(quality, coords)

    def grow_component(comp, use_cand, ratio):
        seed = min(comp, key=lambda u: (-seed_score[u], u))
        def rel(cost_u, u):          # residual over signal energy: a bounded vote per voxel
            return cost_u / quality[u] ** 2 if quality[u] > 0 else 0.0

        current = (np.inf if any(how[u] == 0 for u in comp)
                   else sum(rel(cost[u], u) for u in comp))
        best_total, best = ratio * current, None
        eligible = np.zeros(n, bool)
        eligible[comp] = True
        for t in range(min(n_tries, n_cand[seed])):
            if how[seed] != 0:
                k, p, d = _nearest([cand_psi[seed, t]], psi[seed], plan.period)
                if d < 1e-9:
                    continue
            assigned = {seed: cand_psi[seed, t]}
            p, c, h = grow_reference(coords, cand_psi, cand_cost, n_cand, quality, eligible,
                                     use_cand, assigned, plan.period, max_jump, cost_at)
            p[seed], c[seed], h[seed] = cand_psi[seed, t], cand_cost[seed, t], 3
            total = sum(rel(c[u], u) for u in comp)
            if total < best_total:
                best_total, best = total, (p, c, h)
        if best is not None:
            for u in comp:
                psi[u], cost[u], how[u] = best[0][u], best[1][u], best[2][u]

    finite = np.asarray(domain, bool)
    pieces = components_reference(finite, coords, 1)
    for comp in pieces:
        grow_component(comp, reliable, 1.0)
    big = components_reference(reliable, coords, min_component)
    for comp in big:
        piece = next(p for p in pieces if comp[0] in set(p))
        if sum(bool(reliable[u]) for u in piece) == len(comp):
            continue                      # the only bright voxels of its piece: decided in A
        grow_component(comp, np.ones(n, bool), accept_ratio)
    in_big = np.zeros(n, bool)
    for comp in big:
        in_big[comp] = True
    redo = ~np.asarray(reliable, bool) | ~in_big
    psi[redo], cost[redo], how[redo] = np.nan, np.nan, 0
    # C: fill from everything assigned, then islands
    use_all = np.ones(n, bool)
    assigned = {v: psi[v] for v in range(n) if how[v] != 0}
    eligible = finite & (how == 0)
    fresh = set(np.flatnonzero(eligible))
    p, c, h = grow_reference(coords, cand_psi, cand_cost, n_cand, quality, eligible, use_all,
                             assigned, plan.period, max_jump, cost_at)
    for u in p:
        psi[u], cost[u], how[u] = p[u], c[u], h[u]
    for v in sorted(range(n), key=lambda u: (-quality[u], u)):
        if not eligible[v] or v in assigned or n_cand[v] == 0:
            continue
        psi[v], cost[v], how[v] = cand_psi[v, 0], cand_cost[v, 0], 6
        assigned[v] = psi[v]
        p, c, h = grow_reference(coords, cand_psi, cand_cost, n_cand, quality, eligible,
                                 use_all, assigned, plan.period, max_jump, cost_at,
                                 sources=[v])
        for u in p:
            psi[u], cost[u], how[u] = p[u], c[u], h[u]
    for v in fresh:
        if how[v] == 1:
            how[v] = 4
        elif how[v] == 2:
            how[v] = 5
    return psi, cost, how
