"""Figures of the chapter "Water T2 mapping".

Every function takes arrays, fits or tables (never a file) and returns the figure it drew.
Volumes are (nx, ny, nz) in NIfTI voxel order, echo trains (..., n_echoes); slices are
shown in radiological view (:func:`qmri_kernels.figures.synthetic.show_axial`). Units: T2
in s in the arrays and ms on the axes; fat share and PDFF as fractions in the arrays and
% on the axes; B1 relative to nominal.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..t2.methods import METHODS
from .synthetic import show_axial

__all__ = ["plot_echoes", "plot_slice_profile", "plot_decays", "plot_t2_maps",
           "plot_share_vs_pdff", "plot_error_vs_b1_and_share", "plot_cohort_accuracy",
           "plot_fat_t2_calibration", "plot_throughput"]

_COLORS = {"epg_pipeline": "C0", "epg_b1_free": "C9", "epg_free": "C2", "monoexp": "C3"}


def _crop(mask2d: np.ndarray, margin: int = 4) -> tuple[slice, slice]:
    ii, jj = np.nonzero(mask2d)
    if ii.size == 0:
        return slice(None), slice(None)
    return (slice(max(ii.min() - margin, 0), ii.max() + margin + 1),
            slice(max(jj.min() - margin, 0), jj.max() + margin + 1))


def plot_echoes(magnitude: np.ndarray, echo_times: np.ndarray, k: int,
                mask: np.ndarray) -> plt.Figure:
    """The echo images of one slice, on one grey scale.

    Parameters
    ----------
    magnitude : ndarray, shape (nx, ny, nz, n_echoes)
        Echo magnitudes (signal units).
    echo_times : (n_echoes,) array-like
        Echo times in s (titles in ms).
    k : int
        Slice index along axis 2.
    mask : ndarray of bool, shape (nx, ny, nz)
        Crops the slice and sets the grey scale (99.5th percentile of the first echo).

    Returns
    -------
    matplotlib.figure.Figure
    """
    sl = magnitude[:, :, k, :]
    crop = _crop(mask[:, :, k])
    vmax = np.percentile(sl[..., 0][mask[:, :, k]], 99.5)
    n = sl.shape[-1]
    fig, axes = plt.subplots(2, (n + 1) // 2, figsize=(11, 4.4), squeeze=False)
    for e, ax in enumerate(axes.flat):
        if e >= n:
            ax.set_axis_off()
            continue
        show_axial(ax, sl[crop[0], crop[1], e], cmap="gray", vmin=0, vmax=vmax)
        ax.set_title(f"TE {1e3 * echo_times[e]:.0f} ms")
    fig.tight_layout()
    return fig


def plot_slice_profile(positions, excitation, refocusing, echo_times,
                       curves: Mapping[str, np.ndarray]) -> plt.Figure:
    """Flip angles through the slice (left) and normalised echo trains (right).

    Parameters
    ----------
    positions : (P,) array-like
        Positions through the slice, in slice thicknesses.
    excitation, refocusing : (P,) array-like
        Flip angles in rad at those positions.
    echo_times : (n_echoes,) array-like
        Echo times in s.
    curves : mapping of str to (n_echoes,) array-like
        Label → echo train; each is divided by its first echo and drawn on a log axis,
        where a mono-exponential decay is a straight line (the first curve dashed).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    a.plot(positions, np.degrees(excitation), label="excitation")
    a.plot(positions, np.degrees(refocusing), label="refocusing")
    a.axvspan(-0.5, 0.5, color="0.9", zorder=0, label="nominal slice")
    a.set_xlabel("position through the slice (slice thicknesses)")
    a.set_ylabel("flip angle (°)")
    a.legend(frameon=False, fontsize="small")
    te_ms = 1e3 * np.asarray(echo_times)
    for i, (label, y) in enumerate(curves.items()):
        y = np.asarray(y, float)
        b.semilogy(te_ms, y / y[0], "o-" if i else "k--", ms=4, label=label)
    b.set_xlabel("echo time (ms)")
    b.set_ylabel("signal / first echo")
    b.legend(frameon=False, fontsize="small")
    fig.tight_layout()
    return fig


def plot_decays(magnitude: np.ndarray, echo_times: np.ndarray,
                voxels: Mapping[str, tuple[int, int, int]], mono, epg,
                truth_t2: np.ndarray | None = None) -> plt.Figure:
    """Echo trains of a few voxels with the mono-exponential and EPG fits drawn over them.

    Parameters
    ----------
    magnitude : ndarray, shape (nx, ny, nz, n_echoes)
        The echoes the fits saw (signal units).
    echo_times : (n_echoes,) array-like
        Echo times in s.
    voxels : mapping of str to (int, int, int)
        Panel title → voxel index (e.g. :func:`qmri_kernels.validation.t2_pipeline.
        pick_voxels`).
    mono : qmri_kernels.t2.MonoExpT2Fit
        Mono-exponential fit of the volume (``predict()``, ``t2`` in s).
    epg : qmri_kernels.t2.EPGT2Fit
        EPG fit of the volume (``predict()``, ``water_t2`` in s, ``b1``, ``fat_fraction``).
    truth_t2 : ndarray, shape (nx, ny, nz), optional
        True water T2 (s), named in the titles when given.

    Returns
    -------
    matplotlib.figure.Figure
    """
    te_ms = 1e3 * np.asarray(echo_times)
    pm, pe = mono.predict(), epg.predict()
    fig, axes = plt.subplots(1, len(voxels), figsize=(3.6 * len(voxels), 3.4), squeeze=False)
    for ax, (title, v) in zip(axes[0], voxels.items()):
        ax.plot(te_ms, magnitude[v], "ko", ms=4, label="data")
        ax.plot(te_ms, pm[v], "-", color=_COLORS["monoexp"],
                label=f"mono-exp: {1e3 * mono.t2[v]:.1f} ms")
        ax.plot(te_ms, pe[v], "-", color=_COLORS["epg_pipeline"],
                label=f"EPG: {1e3 * epg.water_t2[v]:.1f} ms")
        true = "" if truth_t2 is None else f"true {1e3 * truth_t2[v]:.1f} ms, "
        ax.set_title(f"{title}\n{true}B1 {epg.b1[v]:.2f}, fat {100 * epg.fat_fraction[v]:.0f} %",
                     fontsize="small")
        ax.set_xlabel("echo time (ms)")
        ax.legend(frameon=False, fontsize="x-small")
    axes[0, 0].set_ylabel("magnitude (a.u.)")
    fig.tight_layout()
    return fig


def _panel_rows(maps: Mapping[str, np.ndarray], truth: Mapping[str, np.ndarray] | None):
    """Rows of (title, volume, limits, colormap) panels for :func:`plot_t2_maps`."""
    ms = 1e3
    t2_lim, share_lim, b1_lim = (20, 80), (0, 40), (0.6, 1.15)
    rows = {
        "water T2 (ms)": [("EPG (pipeline)", ms * maps["water_t2"], t2_lim, "magma"),
                          ("mono-exponential", ms * maps["t2"], t2_lim, "magma")],
        "fat share (%)": [("from the Dixon PDFF", 100 * maps["fat_share"], share_lim, "viridis"),
                          ("fitted free", 100 * maps["fat_share_free"], share_lim, "viridis"),
                          ("Dixon PDFF", 100 * maps["pdff"], share_lim, "viridis")],
        "B1": [("smooth (pass 2)", maps["b1"], b1_lim, "cividis"),
               ("voxel-wise (pass 1)", maps["b1_voxelwise"], b1_lim, "cividis")],
    }
    if truth is not None:
        rows["water T2 (ms)"].insert(1, ("truth", ms * truth["water_t2"], t2_lim, "magma"))
        rows["water T2 (ms)"].append(("EPG − truth", ms * (maps["water_t2"] - truth["water_t2"]),
                                      (-5, 5), "RdBu_r"))
        rows["fat share (%)"].insert(1, ("truth", 100 * truth["fat_share"], share_lim,
                                         "viridis"))
        rows["B1"].insert(1, ("truth", truth["b1"], b1_lim, "cividis"))
    return rows


def plot_t2_maps(maps: Mapping[str, np.ndarray], k: int, mask: np.ndarray,
                 truth: Mapping[str, np.ndarray] | None = None) -> plt.Figure:
    """Water T2, fat share and B1 of one slice, each fit beside the others (and the truth).

    Parameters
    ----------
    maps : mapping of str to ndarray, each shape (nx, ny, nz)
        ``water_t2`` (EPG, s), ``t2`` (mono-exponential, s), ``fat_share`` (from the
        Dixon PDFF, fraction), ``fat_share_free`` (EPG fit with the share free),
        ``pdff`` (Dixon PDFF on this grid), ``b1`` (smooth) and ``b1_voxelwise``.
    k : int
        Slice index along axis 2.
    mask : ndarray of bool, shape (nx, ny, nz)
        Voxels shown (the body); crops the slice.
    truth : dict, optional
        True ``water_t2`` (s), ``fat_share`` and ``b1`` on the same grid: adds a truth
        column to every row and the EPG error to the first.

    Returns
    -------
    matplotlib.figure.Figure
        One row per quantity.
    """
    rows = _panel_rows(maps, truth)
    crop = _crop(mask[:, :, k])
    ncol = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(rows), ncol, figsize=(3.3 * ncol, 2.9 * len(rows)),
                             squeeze=False)
    for r, (row_title, panels) in enumerate(rows.items()):
        for c in range(ncol):
            ax = axes[r, c]
            if c >= len(panels):
                ax.set_axis_off()
                continue
            title, vol, lim, cmap = panels[c]
            img = np.where(mask[:, :, k], vol[:, :, k], np.nan)[crop[0], crop[1]]
            im = show_axial(ax, img, cmap=cmap, vmin=lim[0], vmax=lim[1])
            ax.set_title(title, fontsize="small")
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
        axes[r, 0].text(-0.08, 0.5, row_title, rotation=90, va="center", ha="right",
                        transform=axes[r, 0].transAxes)
    fig.tight_layout()
    return fig


def plot_share_vs_pdff(pdff, share_dixon, share_free, mask, share_truth=None) -> plt.Figure:
    """Fat share of the spin echo against the Dixon PDFF, voxel by voxel.

    Parameters
    ----------
    pdff : array-like, shape (nx, ny, nz)
        Dixon PDFF on the spin-echo grid (fraction).
    share_dixon : array-like, shape (nx, ny, nz)
        Fat share derived from it (fixes the pipeline's fit), fraction.
    share_free : array-like, shape (nx, ny, nz)
        Fat share of the EPG fit with the share free, fraction.
    mask : array-like of bool, shape (nx, ny, nz)
        Voxels drawn (e.g. the muscles).
    share_truth : array-like, shape (nx, ny, nz), optional
        True fat share, drawn when given.

    Returns
    -------
    matplotlib.figure.Figure
    """
    m = np.asarray(mask, bool) & np.isfinite(pdff)
    x = 100 * np.asarray(pdff)[m]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(x, 100 * np.asarray(share_free)[m], ".", ms=1, alpha=0.15, color="C1",
            label="EPG fit, fat share free")
    ax.plot(x, 100 * np.asarray(share_dixon)[m], ".", ms=1, alpha=0.3, color="C0",
            label="from the Dixon PDFF (fixes the pipeline's fit)")
    if share_truth is not None:
        ax.plot(x, 100 * np.asarray(share_truth)[m], ".", ms=1, alpha=0.3, color="k",
                label="truth")
    lim = max(np.percentile(x, 99.5), 5)
    ax.plot([0, lim], [0, lim], ":", color="0.5", label="identity")
    ax.set_xlim(0, lim)
    ax.set_ylim(0, lim)
    ax.set_xlabel("Dixon PDFF (%)")
    ax.set_ylabel("fat signal share of the spin echo (%)")
    ax.legend(frameon=False, fontsize="small", markerscale=10)
    fig.tight_layout()
    return fig


def plot_error_vs_b1_and_share(voxels: pd.DataFrame, methods=("monoexp", "epg_free",
                                                              "epg_pipeline")) -> plt.Figure:
    """Median signed water-T2 error (ms) per bin of true B1 and of true fat share.

    Parameters
    ----------
    voxels : pandas.DataFrame
        One row per sampled voxel: ``b1``, ``fat_share`` (truth) and ``err_<method>_ms``
        (:attr:`qmri_kernels.validation.t2.CohortT2.voxels`).
    methods : sequence of str
        Keys of :data:`qmri_kernels.t2.methods.METHODS` to draw.

    Returns
    -------
    matplotlib.figure.Figure
        Median and interquartile band per bin, one panel per variable.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, col, bins, xlabel in (
            (axes[0], "b1", np.arange(0.65, 1.151, 0.05), "true relative B1"),
            (axes[1], "fat_share", np.array([0.0025, 0.01, 0.02, 0.04, 0.08, 0.15, 0.3, 1.0]),
             "true fat signal share (log scale)")):
        cut = pd.cut(voxels[col], bins)
        for key in methods:
            g = voxels.groupby(cut, observed=True)[f"err_{key}_ms"]
            med, q1, q3 = g.median(), g.quantile(0.25), g.quantile(0.75)
            x = np.array([iv.mid for iv in med.index])
            ax.plot(x, med.values, "o-", color=_COLORS[key], label=METHODS[key])
            ax.fill_between(x, q1.values, q3.values, color=_COLORS[key], alpha=0.15)
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_xlabel(xlabel)
        if col == "fat_share":
            ax.set_xscale("log")
    axes[0].set_ylabel("water T2 error (ms): median, IQR")
    axes[1].legend(frameon=False, fontsize="x-small")
    fig.tight_layout()
    return fig


def plot_cohort_accuracy(table: pd.DataFrame, targets=(1.0, 3.0)) -> plt.Figure:
    """Per-subject median and 95th percentile |water T2 error| of each method.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per subject × method: ``subject``, ``method`` (a key of
        :data:`qmri_kernels.t2.methods.METHODS`), ``median_abs_err_ms``,
        ``p95_abs_err_ms``. Only the methods present are drawn.
    targets : (float, float)
        Target median and 95th percentile, ms (dashed lines).

    Returns
    -------
    matplotlib.figure.Figure
        Two panels on log axes.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharex=True)
    subjects = sorted(table["subject"].unique())
    x = np.arange(len(subjects))
    methods = [key for key in METHODS if key in set(table["method"])]
    for ax, col, target, title in ((axes[0], "median_abs_err_ms", targets[0], "median"),
                                   (axes[1], "p95_abs_err_ms", targets[1],
                                    "95th percentile")):
        for key in methods:
            t = table[table["method"] == key].set_index("subject").reindex(subjects)
            ax.plot(x, t[col], "o-", ms=4, color=_COLORS[key], label=METHODS[key])
        ax.axhline(target, color="k", ls="--", lw=1, label=f"target {target:g} ms")
        ax.set_yscale("log")
        ax.set_title(f"{title} of |water T2 error| in the muscles")
        ax.set_xticks(x, subjects)
        ax.set_xlabel("subject")
    axes[0].set_ylabel("ms")
    axes[1].legend(frameon=False, fontsize="x-small", loc="upper left")
    fig.tight_layout()
    return fig


def plot_fat_t2_calibration(calibration, truth_fat_t2: float | None = None,
                            default: float | None = None) -> plt.Figure:
    """Total squared residual against the candidate fat T2, with the pick and the truth.

    Parameters
    ----------
    calibration : qmri_kernels.t2.FatT2Calibration
        ``candidates`` (s), ``cost`` (same length) and the chosen ``fat_t2`` (s).
    truth_fat_t2 : float, optional
        True fat T2 in s (dotted line).
    default : float, optional
        The library's default fat T2 in s (dash-dotted line).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    c = np.asarray(calibration.cost)
    ax.plot(1e3 * calibration.candidates, c / c.min(), "o-", ms=4)
    ax.axvline(1e3 * calibration.fat_t2, color="C0", ls="--",
               label=f"calibrated {1e3 * calibration.fat_t2:.0f} ms")
    if truth_fat_t2 is not None:
        ax.axvline(1e3 * truth_fat_t2, color="k", ls=":",
                   label=f"truth {1e3 * truth_fat_t2:.0f} ms")
    if default is not None:
        ax.axvline(1e3 * default, color="C3", ls="-.", label=f"default {1e3 * default:.0f} ms")
    ax.set_xscale("log")
    ax.set_xlabel("fat T2 (ms)")
    ax.set_ylabel("squared residual / minimum")
    ax.legend(frameon=False, fontsize="small")
    fig.tight_layout()
    return fig


def plot_throughput(speed: Mapping[str, float], target: float = 25_000) -> plt.Figure:
    """Voxels per second of the EPG fit and of the per-voxel SciPy reference.

    Parameters
    ----------
    speed : mapping
        :func:`qmri_kernels.t2.measure_throughput` of this run: ``voxels_per_s`` and
        ``reference_voxels_per_s`` (voxels/s).
    target : float
        The rate this book aims for, voxels/s (dashed line).

    Returns
    -------
    matplotlib.figure.Figure
        Horizontal bars on a log axis.
    """
    names = ["per-voxel SciPy reference\n(measured here)", "EPGT2Model.fit\n(measured here)"]
    rates = [float(speed["reference_voxels_per_s"]), float(speed["voxels_per_s"])]
    fig, ax = plt.subplots(figsize=(8, 2.6))
    bars = ax.barh(names, rates, color=["0.6", "C0"])
    ax.axvline(target, color="C3", ls="--", lw=1, label=f"target {target:,.0f} voxels/s")
    ax.set_xscale("log")
    ax.set_xlabel("voxels per second (2 cores)")
    for b, r in zip(bars, rates):
        ax.text(r * 1.15, b.get_y() + b.get_height() / 2, f"{r:,.0f}", va="center")
    ax.set_xlim(1, max(rates) * 30)
    ax.legend(frameon=False, loc="lower right")
    fig.tight_layout()
    return fig
