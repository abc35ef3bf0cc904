"""Figures of the chapter "Fat-water separation".

Every function takes arrays, fits or tables (never a file) and returns the figure it drew.
Volumes are (nx, ny, nz) in NIfTI voxel order; slices are shown in radiological view
(:func:`qmri_kernels.figures.synthetic.show_axial`). Units: PDFF as a fraction in the
arrays, in % on the axes; R2* in 1/s; field maps in Hz.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..fatwater import SWAP_THRESHOLD
from .synthetic import show_axial

__all__ = ["plot_echoes", "plot_water_fat", "plot_fat_water_maps", "plot_bland_altman",
           "plot_variants", "plot_error_vs_crlb", "plot_throughput", "plot_cohort_accuracy",
           "TISSUES"]

#: Tissues of the Bland–Altman plot: name → test on the phantom's label values
#: (1 subcutaneous fat, 3 marrow, 4 intermuscular fat, > 10 muscles).
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
    """Magnitude and phase of every echo of one slice.

    Parameters
    ----------
    signal : complex ndarray, shape (nx, ny, nz, n_echoes)
        The echoes (signal units).
    echo_times : (n_echoes,) array-like
        Echo times in s (titles in ms).
    k : int
        Slice index along axis 2.
    mask : ndarray of bool, shape (nx, ny, nz), optional
        Crops the slice to its bounding box (default: where the first echo is bright).

    Returns
    -------
    matplotlib.figure.Figure
        Two rows (magnitude, phase in rad) × n_echoes panels.
    """
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


def plot_water_fat(water: np.ndarray, fat: np.ndarray, k: int, mask: np.ndarray
                   ) -> plt.Figure:
    """Water and fat images of one slice on one grey scale.

    Parameters
    ----------
    water, fat : ndarray, shape (nx, ny, nz)
        |W| and |F| (signal units; NaN outside the fit is shown as 0).
    k : int
        Slice index along axis 2.
    mask : ndarray of bool, shape (nx, ny, nz)
        The fit's mask; crops the slice.

    Returns
    -------
    matplotlib.figure.Figure
    """
    body = mask[..., k]
    crop = _crop(body, body)
    w = np.nan_to_num(water[..., k])[crop]
    f = np.nan_to_num(fat[..., k])[crop]
    vmax = np.percentile(np.concatenate([w[w > 0], f[f > 0]]), 99.5)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    for ax, img, title in zip(axes, (w, f), ("water |W|", "fat |F|")):
        show_axial(ax, img, cmap="gray", vmin=0, vmax=vmax)
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_fat_water_maps(pdff: np.ndarray, r2star: np.ndarray, fieldmap: np.ndarray, k: int,
                        mask: np.ndarray, truth: Mapping[str, np.ndarray] | None = None
                        ) -> plt.Figure:
    """PDFF (%), R2* (1/s) and field map (Hz) of one slice; beside the truth if given.

    Parameters
    ----------
    pdff, r2star, fieldmap : ndarray, shape (nx, ny, nz)
        Fitted PDFF (fraction), R2* (1/s) and field map (Hz).
    k : int
        Slice index along axis 2.
    mask : ndarray of bool, shape (nx, ny, nz)
        Voxels shown (the fit's body mask); crops the slice.
    truth : dict, optional
        True ``pdff``, ``r2star``, ``b0`` on the same grid
        (:func:`qmri_kernels.validation.load_truth`). Given: a 3 × 3 grid of fit, truth
        and fit − truth; otherwise one row of the fitted maps.

    Returns
    -------
    matplotlib.figure.Figure
    """
    body = np.asarray(mask, bool)[..., k]
    crop = _crop(body, body)
    rows = [("PDFF (%)", 100 * pdff, "pdff", 100, "magma", (0, 100), 3),
            ("R2* (1/s)", r2star, "r2star", 1, "viridis", (0, 120), 10),
            ("field map (Hz)", fieldmap, "b0", 1, "RdBu_r", (-250, 250), 5)]
    if truth is None:
        fig, axes = plt.subplots(1, 3, figsize=(14, 3.2), squeeze=False)
        axes = axes.T
    else:
        fig, axes = plt.subplots(3, 3, figsize=(14, 8.4))
    for r, (name, est, key, scale, cmap, (lo, hi), err_range) in enumerate(rows):
        e = np.where(body, est[..., k], np.nan)[crop]
        panels = [(e, f"fit: {name}", cmap, lo, hi)]
        if truth is not None:
            t = np.where(body, scale * truth[key][..., k], np.nan)[crop]
            panels += [(t, f"truth: {name}", cmap, lo, hi),
                       (e - t, f"fit − truth: {name}", "RdBu_r", -err_range, err_range)]
        for c, (img, title, cm, vlo, vhi) in enumerate(panels):
            im = show_axial(axes[r, c], img, cmap=cm, vmin=vlo, vmax=vhi)
            axes[r, c].set_title(title)
            fig.colorbar(im, ax=axes[r, c], shrink=0.85)
    fig.tight_layout()
    return fig


def plot_bland_altman(pdff: np.ndarray, true_pdff: np.ndarray, labels: np.ndarray
                      ) -> tuple[plt.Figure, pd.DataFrame]:
    """Bland–Altman of fitted against true PDFF, voxel by voxel, per tissue.

    Parameters
    ----------
    pdff, true_pdff : ndarray, shape (nx, ny, nz)
        Fitted and true PDFF (fractions); voxels where the fit is NaN are left out.
    labels : ndarray of int, shape (nx, ny, nz)
        True labels, split into :data:`TISSUES`.

    Returns
    -------
    figure : matplotlib.figure.Figure
        One hexbin panel per tissue, bias (solid) and 95 % limits of agreement (dashed).
    table : pandas.DataFrame
        Per tissue: ``n_voxels``, ``bias_pp``, ``loa_low_pp``, ``loa_high_pp``
        (percentage points).
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
    return fig, pd.DataFrame(rows).set_index("tissue")


def plot_variants(variants: Mapping[str, object], k: int, mask: np.ndarray,
                  reference: np.ndarray, counted: np.ndarray, reference_name: str,
                  muscle: np.ndarray) -> plt.Figure:
    """PDFF and field map of several fits of one slice, with "swapped" voxels circled.

    A voxel counts as swapped where it is in ``counted`` and its PDFF is more than
    :data:`~qmri_kernels.fatwater.SWAP_THRESHOLD` (30 pp) from ``reference``. Titles give
    the count over the whole volume and the median |difference| from ``reference`` in
    ``muscle``; rings mark the swapped voxels of slice ``k``.

    Parameters
    ----------
    variants : mapping of str to FatWaterFit
        Title → fit of the same echoes (``.pdff`` fraction, ``.fieldmap`` Hz, each
        (nx, ny, nz)).
    k : int
        Slice index along axis 2.
    mask : ndarray of bool, shape (nx, ny, nz)
        The fits' mask; voxels shown.
    reference : ndarray, shape (nx, ny, nz)
        PDFF (fraction) a swap is measured against (the truth, or a reference fit).
    counted : ndarray of bool, shape (nx, ny, nz)
        Where swaps count.
    reference_name : str
        What ``reference`` is (in the figure's title).
    muscle : ndarray of bool, shape (nx, ny, nz)
        Where the median |difference| is taken.

    Returns
    -------
    matplotlib.figure.Figure
        Two rows (PDFF %, field map Hz) × one column per variant.
    """
    body = np.asarray(mask, bool)
    muscle = np.asarray(muscle, bool)
    crop = _crop(body[..., k], body[..., k])
    n = len(variants)
    fig, axes = plt.subplots(2, n, figsize=(4.4 * n, 6.8), squeeze=False,
                             layout="constrained")
    for c, (title, fit) in enumerate(variants.items()):
        diff = np.abs(fit.pdff - reference)
        swapped = (np.nan_to_num(diff) > SWAP_THRESHOLD) & counted
        im0 = show_axial(axes[0, c], np.where(body, 100 * fit.pdff, np.nan)[..., k][crop],
                         cmap="magma", vmin=0, vmax=100)
        ii, jj = np.nonzero(swapped[..., k][crop])
        axes[0, c].scatter(ii, jj, s=30, facecolors="none", edgecolors="cyan", linewidths=0.8)
        axes[0, c].set_title(f"{title}\n{int(swapped.sum()):,} swapped voxels; muscle median "
                             f"|difference| {100 * np.nanmedian(diff[muscle]):.1f} pp",
                             fontsize="small")
        im1 = show_axial(axes[1, c], np.where(body, fit.fieldmap, np.nan)[..., k][crop],
                         cmap="RdBu_r", vmin=-300, vmax=300)
        axes[1, c].set_title("field map", fontsize="small")
    fig.colorbar(im0, ax=axes[0, :].tolist(), shrink=0.8, label="PDFF (%)")
    fig.colorbar(im1, ax=axes[1, :].tolist(), shrink=0.8, label="Hz")
    fig.suptitle(f"PDFF compared with {reference_name}", fontsize="medium")
    return fig


def plot_error_vs_crlb(z: np.ndarray) -> plt.Figure:
    """Histogram of PDFF errors in units of their Cramér–Rao bound, with N(0, 1).

    Parameters
    ----------
    z : array-like, shape (V,)
        (fit − truth) / Cramér–Rao standard deviation per voxel (dimensionless; NaN
        ignored).

    Returns
    -------
    matplotlib.figure.Figure
    """
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


def plot_throughput(throughput, target: float = 80_000) -> plt.Figure:
    """Masked voxels per second of the fit and of the SciPy reference, both measured in
    this run (other methods are compared in ``benchmarks/fatwater_fit.py``, measured side
    by side on the same data, never against a rate quoted from other hardware).

    Parameters
    ----------
    throughput : qmri_kernels.fatwater.Throughput
        ``voxels_per_second`` and ``reference_voxels_per_second`` measured in this run.
    target : float
        The rate this book aims for, voxels/s (dashed line).

    Returns
    -------
    matplotlib.figure.Figure
        Horizontal bars on a log axis.
    """
    names = ["per-voxel SciPy reference\n(measured here)", "this fit\n(measured here)"]
    rates = [throughput.reference_voxels_per_second, throughput.voxels_per_second]
    fig, ax = plt.subplots(figsize=(8, 2.6))
    bars = ax.barh(names, rates, color=["0.6", "C0"])
    ax.axvline(target, color="C3", ls="--", lw=1, label=f"target {target:,.0f} voxels/s")
    ax.set_xscale("log")
    ax.set_xlabel("masked voxels per second (2 cores)")
    for b, r in zip(bars, rates):
        ax.text(r * 1.1, b.get_y() + b.get_height() / 2, f"{r:,.0f}", va="center")
    ax.set_xlim(1, max(rates) * 20)
    ax.legend(frameon=False, loc="lower right")
    fig.tight_layout()
    return fig


def plot_cohort_accuracy(table: pd.DataFrame, targets: Mapping[str, float] | None = None
                         ) -> plt.Figure:
    """Per-subject muscle PDFF error (median and 99th percentile, pp) against targets.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per subject: a ``subject`` column (or index) and the columns
        ``muscle_median_abs_error_pp``, ``muscle_p99_abs_error_pp`` of
        :func:`~qmri_kernels.validation.fatwater.evaluate_fit`; an optional
        ``crlb_median_abs_error_pp`` (the Cramér–Rao prediction of the median) is drawn too.
    targets : mapping, optional
        ``{"median": pp, "p99": pp}`` (default 0.5 and 2).

    Returns
    -------
    matplotlib.figure.Figure
    """
    targets = {"median": 0.5, "p99": 2.0} if targets is None else targets
    if "subject" not in table:
        table = table.reset_index()
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
