"""Figures of the chapter "Fat-water separation".

Every function takes arrays (or a fit / throughput object) and returns the figure it drew.
Slices are shown in radiological view (:func:`qmri_kernels.figures.cohort.show_axial`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..fatwater._evaluate import SWAP_THRESHOLD
from .cohort import show_axial

__all__ = ["plot_echoes", "plot_water_fat", "plot_maps_vs_truth", "plot_bland_altman",
           "plot_variants", "plot_error_vs_crlb", "plot_throughput", "plot_cohort_accuracy",
           "TISSUES"]

#: Tissues of the Bland–Altman plot: name → test on the phantom's label values.
TISSUES: dict[str, object] = {
    "muscle": lambda lab: lab > 10,
    "subcutaneous fat": lambda lab: lab == 1,
    "marrow": lambda lab: lab == 3,
    "intermuscular fat": lambda lab: lab == 4,
}


def _crop(image: np.ndarray, mask: np.ndarray, margin: int = 6) -> tuple[slice, slice]:
    """Bounding box of ``mask`` (2-D) plus ``margin`` pixels, as slices into ``image``."""
    ii, jj = np.nonzero(mask)
    if ii.size == 0:
        return slice(None), slice(None)
    return (slice(max(ii.min() - margin, 0), min(ii.max() + margin + 1, image.shape[0])),
            slice(max(jj.min() - margin, 0), min(jj.max() + margin + 1, image.shape[1])))


def plot_echoes(signal: np.ndarray, echo_times: np.ndarray, k: int,
                mask: np.ndarray | None = None) -> plt.Figure:
    """Magnitude and phase of every echo of slice ``k``; ``signal`` (nx, ny, nz, n_echoes)."""
    sl = np.asarray(signal)[:, :, k, :]
    n = sl.shape[-1]
    mag = np.abs(sl)
    crop = _crop(mag[..., 0], (mask[..., k] if mask is not None
                               else mag[..., 0] > 0.1 * np.percentile(mag[..., 0], 99)))
    vmax = np.percentile(mag[..., 0], 99.5)
    fig, axes = plt.subplots(2, n, figsize=(2.6 * n, 4.6), squeeze=False)
    for e in range(n):
        show_axial(axes[0, e], mag[crop[0], crop[1], e], cmap="gray", vmin=0, vmax=vmax)
        axes[0, e].set_title(f"TE {1e3 * echo_times[e]:.1f} ms")
        show_axial(axes[1, e], np.angle(sl[crop[0], crop[1], e]), cmap="twilight",
                   vmin=-np.pi, vmax=np.pi)
    axes[0, 0].text(-0.05, 0.5, "magnitude", rotation=90, va="center", ha="right",
                    transform=axes[0, 0].transAxes)
    axes[1, 0].text(-0.05, 0.5, "phase", rotation=90, va="center", ha="right",
                    transform=axes[1, 0].transAxes)
    fig.tight_layout()
    return fig


def plot_water_fat(fit, k: int, mask: np.ndarray) -> plt.Figure:
    """Fitted water and fat images (signal units, same scale) of slice ``k``."""
    body = mask[..., k]
    crop = _crop(body, body)
    w = np.nan_to_num(fit.water[..., k])[crop]
    f = np.nan_to_num(fit.fat[..., k])[crop]
    vmax = np.percentile(np.concatenate([w[w > 0], f[f > 0]]), 99.5)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    for ax, img, title in zip(axes, (w, f), ("water |W|", "fat |F|")):
        show_axial(ax, img, cmap="gray", vmin=0, vmax=vmax)
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_maps_vs_truth(fit, truth: dict, k: int) -> plt.Figure:
    """PDFF (%), R2* (1/s) and field map (Hz) of slice ``k``: fit, truth and fit − truth."""
    body = truth["labels"][..., k] > 0
    crop = _crop(body, body)
    rows = [("PDFF (%)", 100 * fit.pdff, 100 * truth["pdff"], "magma", (0, 100), 3),
            ("R2* (1/s)", fit.r2star, truth["r2star"], "viridis", (0, 120), 10),
            ("field map (Hz)", fit.fieldmap, truth["b0"], "RdBu_r", (-250, 250), 5)]
    fig, axes = plt.subplots(3, 3, figsize=(14, 8.4))
    for r, (name, est, tru, cmap, (lo, hi), err_range) in enumerate(rows):
        e = np.where(body, est[..., k], np.nan)[crop]
        t = np.where(body, tru[..., k], np.nan)[crop]
        for c, (img, title, cm, vlo, vhi) in enumerate((
                (e, f"fit: {name}", cmap, lo, hi), (t, f"truth: {name}", cmap, lo, hi),
                (e - t, f"fit − truth: {name}", "RdBu_r", -err_range, err_range))):
            im = show_axial(axes[r, c], img, cmap=cm, vmin=vlo, vmax=vhi)
            axes[r, c].set_title(title)
            fig.colorbar(im, ax=axes[r, c], shrink=0.85)
    fig.tight_layout()
    return fig


def plot_bland_altman(pdff: np.ndarray, true_pdff: np.ndarray, labels: np.ndarray
                      ) -> tuple[plt.Figure, pd.DataFrame]:
    """Bland–Altman of fitted vs true PDFF (pp) per tissue of :data:`TISSUES`.

    Returns the figure and a table per tissue: voxels, bias and 95 % limits of agreement
    (pp).
    """
    fig, axes = plt.subplots(1, len(TISSUES), figsize=(4.2 * len(TISSUES), 3.6),
                             sharey=True)
    rows = []
    for ax, (name, select) in zip(axes, TISSUES.items()):
        sel = select(labels) & np.isfinite(pdff)
        fit_pp, true_pp = 100 * pdff[sel], 100 * true_pdff[sel]
        mean, diff = (fit_pp + true_pp) / 2, fit_pp - true_pp
        bias, sd = float(diff.mean()), float(diff.std(ddof=1))
        ax.hexbin(mean, diff, gridsize=60, bins="log", cmap="Blues", mincnt=1,
                  extent=(mean.min() - 1, mean.max() + 1, -6, 6))
        for y, style in ((bias, "-"), (bias - 1.96 * sd, "--"), (bias + 1.96 * sd, "--")):
            ax.axhline(y, color="C3", ls=style, lw=1)
        ax.set_title(f"{name} (n = {sel.sum():,})")
        ax.set_xlabel("mean of fit and truth, PDFF (%)")
        rows.append({"tissue": name, "n_voxels": int(sel.sum()), "bias_pp": bias,
                     "loa_low_pp": bias - 1.96 * sd, "loa_high_pp": bias + 1.96 * sd})
    axes[0].set_ylabel("fit − truth (pp)")
    axes[0].set_ylim(-6, 6)
    fig.tight_layout()
    return fig, pd.DataFrame(rows)


def plot_variants(variants: dict[str, object], truth: dict, k: int) -> plt.Figure:
    """PDFF and field map of several fits of slice ``k``, swapped voxels circled.

    ``variants`` maps a title to a fit. A swap is |PDFF error| > 30 pp outside the
    femoral cortex (whose signal is at the noise level); titles give the count over the
    whole volume, rings mark those of slice ``k``.
    """
    labels = truth["labels"]
    body = labels > 0
    counted = body & (labels != 2)
    muscle = labels > 10
    crop = _crop(body[..., k], body[..., k])
    n = len(variants)
    fig, axes = plt.subplots(2, n, figsize=(4.4 * n, 6.6), squeeze=False,
                             layout="constrained")
    for c, (title, fit) in enumerate(variants.items()):
        err = np.abs(fit.pdff - truth["pdff"])
        swapped = (err > SWAP_THRESHOLD) & counted
        im0 = show_axial(axes[0, c], np.where(body, 100 * fit.pdff, np.nan)[..., k][crop],
                         cmap="magma", vmin=0, vmax=100)
        ii, jj = np.nonzero(swapped[..., k][crop])
        axes[0, c].scatter(ii, jj, s=30, facecolors="none", edgecolors="cyan", linewidths=0.8)
        axes[0, c].set_title(f"{title}\n{int(swapped.sum()):,} swapped voxels; muscle median "
                             f"|error| {100 * np.nanmedian(err[muscle]):.1f} pp",
                             fontsize="small")
        im1 = show_axial(axes[1, c], np.where(body, fit.fieldmap, np.nan)[..., k][crop],
                         cmap="RdBu_r", vmin=-300, vmax=300)
        axes[1, c].set_title("field map", fontsize="small")
    fig.colorbar(im0, ax=axes[0, :].tolist(), shrink=0.8, label="PDFF (%)")
    fig.colorbar(im1, ax=axes[1, :].tolist(), shrink=0.8, label="Hz")
    return fig


def plot_error_vs_crlb(z: np.ndarray) -> plt.Figure:
    """Histogram of PDFF errors divided by their Cramér–Rao bound, with N(0, 1)."""
    z = np.asarray(z)
    z = z[np.isfinite(z)]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.hist(z, bins=np.linspace(-5, 5, 81), density=True, color="C0", alpha=0.7,
            label=f"fit (median |z| = {np.median(np.abs(z)):.3f})")
    x = np.linspace(-5, 5, 400)
    ax.plot(x, np.exp(-x ** 2 / 2) / np.sqrt(2 * np.pi), color="C3",
            label="N(0, 1) (median |z| = 0.674)")
    ax.set_xlabel("(fit − truth) / Cramér–Rao SD of PDFF")
    ax.set_ylabel("density")
    ax.legend(frameon=False, fontsize="small")
    fig.tight_layout()
    return fig


def plot_throughput(throughput, hmrgc_voxels_per_second: float = 254_089 / 33.0,
                    target: float = 80_000) -> plt.Figure:
    """Masked voxels per second: SciPy reference, hmrGC (quoted), this fit; target line."""
    names = ["per-voxel SciPy reference\n(measured here)", "hmrGC, Stelter 2022\n(quoted)",
             "this fit\n(measured here)"]
    rates = [throughput.reference_voxels_per_second, hmrgc_voxels_per_second,
             throughput.voxels_per_second]
    fig, ax = plt.subplots(figsize=(8, 3.2))
    bars = ax.barh(names, rates, color=["0.6", "0.75", "C0"])
    ax.axvline(target, color="C3", ls="--", lw=1, label=f"target {target:,.0f} voxels/s")
    ax.set_xscale("log")
    ax.set_xlabel("masked voxels per second (2 cores)")
    for b, r in zip(bars, rates):
        ax.text(r * 1.1, b.get_y() + b.get_height() / 2, f"{r:,.0f}", va="center")
    ax.set_xlim(1, max(rates) * 20)
    ax.legend(frameon=False, loc="lower right")
    fig.tight_layout()
    return fig


def plot_cohort_accuracy(table: pd.DataFrame, targets: dict[str, float] | None = None
                         ) -> plt.Figure:
    """Per-subject muscle PDFF error (median and 99th percentile, pp) against the targets.

    ``table`` has a ``subject`` column and the keys of
    :func:`~qmri_kernels.fatwater.evaluate_fit`; an optional ``crlb_median_abs_error_pp``
    column (the Cramér–Rao prediction of the median) is drawn as well.
    """
    targets = {"median": 0.5, "p99": 2.0} if targets is None else targets
    fig, ax = plt.subplots(figsize=(8, 3.4))
    x = np.arange(len(table))
    ax.plot(x, table["muscle_median_abs_error_pp"], "o", color="C0", label="median |error|")
    if "crlb_median_abs_error_pp" in table:
        ax.plot(x, table["crlb_median_abs_error_pp"], "_", color="k", ms=14, mew=1.5,
                label="Cramér–Rao prediction of the median")
    ax.plot(x, table["muscle_p99_abs_error_pp"], "s", color="C1",
            label="99th percentile |error|")
    ax.axhline(targets["median"], color="C0", ls="--", lw=1,
               label=f"target: median {targets['median']:g} pp")
    ax.axhline(targets["p99"], color="C1", ls="--", lw=1,
               label=f"target: p99 {targets['p99']:g} pp")
    ax.set_xticks(x, table["subject"], rotation=45)
    ax.set_ylabel("muscle |PDFF error| (pp)")
    ax.set_ylim(0, None)
    ax.legend(frameon=False, fontsize="small", ncol=2, loc="center right")
    fig.tight_layout()
    return fig
