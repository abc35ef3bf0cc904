"""Figures of the chapter "Water T2 mapping".

Every function takes arrays or result tables and returns the figure it drew. Slices are
shown in radiological view (:func:`qmri_kernels.figures.cohort.show_axial`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..t2.cohort import METHODS
from .cohort import show_axial

__all__ = ["plot_echoes", "plot_slice_profile", "plot_decays", "plot_maps_vs_truth",
           "plot_share_vs_pdff", "plot_error_vs_b1_and_share", "plot_cohort_accuracy",
           "plot_fat_t2_calibration", "plot_benchmark"]

_COLORS = {"epg_pipeline": "C0", "epg_b1_free": "C9", "epg_free": "C2", "monoexp": "C3"}


def _crop(mask2d: np.ndarray, margin: int = 4) -> tuple[slice, slice]:
    ii, jj = np.nonzero(mask2d)
    if ii.size == 0:
        return slice(None), slice(None)
    return (slice(max(ii.min() - margin, 0), ii.max() + margin + 1),
            slice(max(jj.min() - margin, 0), jj.max() + margin + 1))


def plot_echoes(magnitude: np.ndarray, echo_times: np.ndarray, k: int,
                mask: np.ndarray) -> plt.Figure:
    """The echo images of slice ``k`` (magnitude (nx, ny, nz, N)), cropped to ``mask``."""
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


def plot_slice_profile(positions, excitation, refocusing, echo_times, curves: dict,
                       ) -> plt.Figure:
    """Left: flip angles through the slice; right: normalised echo trains in ``curves``.

    ``curves`` maps a label to an echo train (n_echoes,); trains are divided by their
    first echo and drawn on a log axis, where a mono-exponential is a straight line.
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


def plot_decays(magnitude: np.ndarray, echo_times: np.ndarray, voxels: list[tuple],
                mono, epg, truth_t2: np.ndarray, labels: list[str] | None = None
                ) -> plt.Figure:
    """Echo trains of a few voxels with the mono-exponential and EPG fits drawn over them.

    ``voxels`` are (i, j, k) indices; ``mono`` a MonoExpT2Fit and ``epg`` an EPGT2Fit of
    the same volume; ``truth_t2`` the true water T2 map (s).
    """
    te_ms = 1e3 * np.asarray(echo_times)
    pm, pe = mono.predict(), epg.predict()
    fig, axes = plt.subplots(1, len(voxels), figsize=(3.6 * len(voxels), 3.4), squeeze=False)
    for n, (ax, v) in enumerate(zip(axes[0], voxels)):
        ax.plot(te_ms, magnitude[v], "ko", ms=4, label="data")
        ax.plot(te_ms, pm[v], "-", color=_COLORS["monoexp"],
                label=f"mono-exp: {1e3 * mono.t2[v]:.1f} ms")
        ax.plot(te_ms, pe[v], "-", color=_COLORS["epg_pipeline"],
                label=f"EPG: {1e3 * epg.water_t2[v]:.1f} ms")
        title = labels[n] if labels else f"voxel {v}"
        ax.set_title(f"{title}\ntrue {1e3 * truth_t2[v]:.1f} ms, B1 {epg.b1[v]:.2f}, "
                     f"fat {100 * epg.fat_fraction[v]:.0f} %", fontsize="small")
        ax.set_xlabel("echo time (ms)")
        ax.legend(frameon=False, fontsize="x-small")
    axes[0, 0].set_ylabel("magnitude (a.u.)")
    fig.tight_layout()
    return fig


def plot_maps_vs_truth(rows: dict, k: int, mask: np.ndarray) -> plt.Figure:
    """A grid of maps of slice ``k``: ``rows`` maps a row title to a list of
    (panel title, 3-D array, colour limits, colormap) tuples."""
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


def plot_share_vs_pdff(pdff, share_dixon, share_free, share_truth, mask) -> plt.Figure:
    """Fat share of the spin echo against the Dixon PDFF: from the PDFF, fitted free, truth."""
    m = np.asarray(mask, bool) & np.isfinite(pdff)
    x = 100 * np.asarray(pdff)[m]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(x, 100 * np.asarray(share_free)[m], ".", ms=1, alpha=0.15, color="C1",
            label="EPG fit, fat share free")
    ax.plot(x, 100 * np.asarray(share_dixon)[m], ".", ms=1, alpha=0.3, color="C0",
            label="from the Dixon PDFF (fixes the pipeline's fit)")
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
    """Median signed water-T2 error (ms) per bin of true B1 and true fat share."""
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
    """Per-subject median and 95th percentile |water T2 error| per method; target lines."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharex=True)
    subjects = sorted(table["subject"].unique())
    x = np.arange(len(subjects))
    for ax, col, target, title in ((axes[0], "median_abs_err_ms", targets[0], "median"),
                                   (axes[1], "p95_abs_err_ms", targets[1],
                                    "95th percentile")):
        for key in METHODS:
            t = table[table["method"] == key].set_index("subject").reindex(subjects)
            ax.plot(x, t[col], "o-", ms=4, color=_COLORS[key], label=METHODS[key])
        ax.axhline(target, color="k", ls="--", lw=1, label=f"target {target:g} ms")
        ax.set_yscale("log")
        ax.set_title(f"{title} of |water T2 error| in the muscles")
        ax.set_xticks(x, subjects)
        ax.set_xlabel("patient")
    axes[0].set_ylabel("ms")
    axes[1].legend(frameon=False, fontsize="x-small", loc="upper left")
    fig.tight_layout()
    return fig


def plot_fat_t2_calibration(calibration, truth_fat_t2: float | None = None,
                            default: float | None = None) -> plt.Figure:
    """Total squared residual against the candidate fat T2, with the pick and the truth."""
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


def plot_benchmark(rows: pd.DataFrame, target: float = 25_000) -> plt.Figure:
    """Voxels/s (log) and median |water T2 error| of each method in ``rows``.

    ``rows`` has ``method``, ``voxels_per_s``, ``median_abs_err_ms`` and
    ``p95_abs_err_ms`` columns (e.g. from ``benchmarks/t2_fit.py --json``).
    """
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 0.55 * len(rows) + 1.6), sharey=True)
    y = np.arange(len(rows))
    a.barh(y, rows["voxels_per_s"], color="C0")
    a.axvline(target, color="C3", ls="--", lw=1, label=f"target {target:,.0f} voxels/s")
    a.set_xscale("log")
    a.set_yticks(y, rows["method"], fontsize="small")
    a.invert_yaxis()
    a.set_xlabel("voxels per second (2 cores)")
    for yi, r in zip(y, rows["voxels_per_s"]):
        a.text(r * 1.15, yi, f"{r:,.0f}", va="center", fontsize="small")
    a.set_xlim(1, rows["voxels_per_s"].max() * 30)
    a.legend(frameon=False, fontsize="small", loc="upper right")
    b.barh(y - 0.2, rows["median_abs_err_ms"], height=0.4, color="C0", label="median")
    b.barh(y + 0.2, rows["p95_abs_err_ms"], height=0.4, color="C7", label="95th percentile")
    b.set_xlabel("|water T2 error| (ms)")
    b.legend(frameon=False, fontsize="small")
    fig.tight_layout()
    return fig
