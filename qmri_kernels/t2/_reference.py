"""Slow, obviously-correct per-voxel fits with SciPy: the references of the Numba kernels.

No dictionary, no interpolation, no variable projection: ``scipy.optimize.least_squares``
on all parameters with bounds, the model evaluated by the EPG itself
(:mod:`qmri_kernels.t2.epg`), from a grid of starting points (the best end point wins).
Used by the tests and by ``benchmarks/t2_fit.py``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares

from ._epg_kernels import cpmg_kernel_serial, cpmg_profile_kernel_serial
from ._slice_profile import fold_symmetric
from .epg import slice_profile
from .epg_model import EPGT2Model


def _direct_curves(model: EPGT2Model):
    """(t2, b1) -> (water, fat) echo trains by the EPG kernels, without argument checks.

    The same computation as :func:`qmri_kernels.t2.epg.cpmg_signal_slice_profile` (or
    :func:`~qmri_kernels.t2.epg.cpmg_signal`), minus the per-call validation overhead.
    """
    acq = model._acq
    tau, n = 0.5 * acq.echo_spacing, acq.n_echoes
    t1 = np.array([model.water_t1, model.fat_t1])
    if acq.slice_profile is None:
        def curves(t2, b):
            out = cpmg_kernel_serial(np.array([t2, model.fat_t2]), t1, np.array([b, b]), tau,
                                     acq.refocusing_angle, n)
            return out[0], out[1]
        return curves
    pos, w, exc, ref = slice_profile(refocusing_angle=acq.refocusing_angle,
                                     **dict(acq.slice_profile))
    _, half_w = fold_symmetric(pos, w)
    keep = pos >= 0
    exc, ref = np.ascontiguousarray(exc[keep]), np.ascontiguousarray(ref[keep])

    def curves(t2, b):
        out = cpmg_profile_kernel_serial(np.array([t2, model.fat_t2]), t1, np.array([b, b]),
                                         tau, n, exc, ref, half_w)
        return out[0], out[1]
    return curves


def fit_epg_voxel(model: EPGT2Model, y, fat_fraction: float | None = None,
                  b1: float | None = None, starts_t2=(0.03, 0.06, 0.12),
                  starts_b1=(0.6, 0.85, 1.1)) -> dict:
    """Least-squares EPG water/fat fit of one echo train.

    Parameters: water T2 (s), B1, water and fat amplitudes (>= 0); with ``fat_fraction``
    given, T2, B1 and one amplitude s0 with a_f = φ·s0; with ``b1`` given B1 is fixed.

    Returns
    -------
    dict with water_t2, b1, fat_fraction, s0 and cost (sum of squared residuals).
    """
    y = np.asarray(y, dtype=np.float64)
    acq = model._acq
    lo_t2, hi_t2 = model.t2_range
    lo_b1, hi_b1 = model.b1_range

    curves = _direct_curves(model)

    def unpack(p):
        t2 = p[0]
        b = p[1] if b1 is None else b1
        amps = p[2:] if b1 is None else p[1:]
        return t2, b, amps

    def residual(p):
        t2, b, amps = unpack(p)
        w, f = curves(t2, b)
        if fat_fraction is None:
            return amps[0] * w + amps[1] * f - y
        return amps[0] * ((1 - fat_fraction) * w + fat_fraction * f) - y

    best = None
    for t2_0 in starts_t2:
        for b_0 in (starts_b1 if b1 is None else (b1,)):
            b_0 = float(np.clip(b_0, lo_b1, hi_b1))
            w, f = curves(t2_0, b_0)
            if fat_fraction is None:
                a0 = np.clip(np.linalg.lstsq(np.stack([w, f], 1), y, rcond=None)[0], 1e-3,
                             None)
                amp_lo, amp_hi = [0.0, 0.0], [np.inf, np.inf]
            else:
                c = (1 - fat_fraction) * w + fat_fraction * f
                a0 = np.array([max(c @ y / (c @ c), 1e-3)])
                amp_lo, amp_hi = [0.0], [np.inf]
            p0 = [t2_0] + ([b_0] if b1 is None else []) + list(a0)
            lb = [lo_t2] + ([lo_b1] if b1 is None else []) + amp_lo
            ub = [hi_t2] + ([hi_b1] if b1 is None else []) + amp_hi
            r = least_squares(residual, p0, bounds=(lb, ub), x_scale="jac",
                              xtol=1e-12, ftol=1e-12, gtol=1e-12)
            if best is None or r.cost < best.cost:
                best = r
    t2, b, amps = unpack(best.x)
    if fat_fraction is None:
        s0 = amps[0] + amps[1]
        ff = amps[1] / s0 if s0 > 0 else np.nan
    else:
        s0, ff = amps[0], fat_fraction
    return dict(water_t2=float(t2), b1=float(b), fat_fraction=float(ff), s0=float(s0),
                cost=float(2 * best.cost))


def fit_monoexp_voxel(y, echo_times, skip_echoes: int = 1) -> dict:
    """Least-squares S0·exp(−TE/T2) on echoes ``skip_echoes:``; returns t2, s0, cost."""
    y = np.asarray(y, dtype=np.float64)[skip_echoes:]
    te = np.asarray(echo_times, dtype=np.float64)[skip_echoes:]
    best = None
    for t2_0 in (0.02, 0.05, 0.2):
        s_0 = max(y[0] * np.exp(te[0] / t2_0), 1e-3)
        r = least_squares(lambda p: p[0] * np.exp(-te / p[1]) - y, [s_0, t2_0],
                          bounds=([0, 1e-3], [np.inf, 5.0]), x_scale="jac",
                          xtol=1e-12, ftol=1e-12, gtol=1e-12)
        if best is None or r.cost < best.cost:
            best = r
    return dict(t2=float(best.x[1]), s0=float(best.x[0]), cost=float(2 * best.cost))
