"""Figures of the chapter "The synthetic cohort", and the slice display every chapter uses.

Every function takes arrays or tables (never a file) and returns what it drew. Volumes are
(nx, ny, nz) in NIfTI voxel order (i → patient left, j → posterior, k → superior).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap, to_rgb

from .. import paper
from ..labels import LABELS

__all__ = ["label_colormap", "show_axial", "plot_labels", "plot_truth_maps",
           "plot_truth_distributions"]


def label_colormap() -> ListedColormap:
    """Colours of the label table, indexed by label value (0 is black).

    Returns
    -------
    matplotlib.colors.ListedColormap
        ``N`` = largest label index + 1; draw labels with ``vmin=0, vmax=cmap.N - 1``.
    """
    colors = np.zeros((max(lab.index for lab in LABELS) + 1, 3))
    for lab in LABELS:
        colors[lab.index] = to_rgb(lab.color)
    return ListedColormap(colors)


def show_axial(ax, image: np.ndarray, **kwargs):
    """Show a slice in radiological view: patient right on the left, anterior up.

    Arrays are in the NIfTI voxel order of :func:`qmri_kernels.grids.axial_grid`
    (i → patient left, j → posterior), so the display is the transpose.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    image : array-like, shape (nx, ny)
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.imshow` (``cmap``, ``vmin``, ``vmax``...).

    Returns
    -------
    matplotlib.image.AxesImage
        For a colour bar.
    """
    im = ax.imshow(np.asarray(image).T, **kwargs)
    ax.set_axis_off()
    return im


def _crop(image: np.ndarray, mask: np.ndarray, margin: int = 6) -> tuple[slice, slice]:
    ii, jj = np.nonzero(mask)
    return (slice(max(ii.min() - margin, 0), ii.max() + margin + 1),
            slice(max(jj.min() - margin, 0), jj.max() + margin + 1))


def plot_labels(labels: np.ndarray, z_mm: list[float], title: str = "") -> plt.Figure:
    """Label slices side by side, each titled with its world z.

    Parameters
    ----------
    labels : ndarray of int, shape (nx, ny, n)
        Label values of :mod:`qmri_kernels.labels`, ``n`` slices.
    z_mm : sequence of n float
        World z of each slice, mm.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = labels.shape[-1]
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 2.6), squeeze=False)
    cmap = label_colormap()
    crop = _crop(labels[..., n // 2], labels[..., n // 2] > 0)
    for k, ax in enumerate(axes[0]):
        show_axial(ax, labels[crop[0], crop[1], k], cmap=cmap, vmin=0, vmax=cmap.N - 1)
        ax.set_title(f"z = {z_mm[k]:+.0f} mm")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_truth_maps(truth: dict[str, np.ndarray], k: int) -> plt.Figure:
    """PDFF (%), water T2 (ms), B0 (Hz) and B1 of one slice of the true maps.

    Parameters
    ----------
    truth : dict of str to ndarray, each shape (nx, ny, nz)
        ``labels`` (int), ``pdff`` (fraction), ``water_t2`` (s), ``b0`` (Hz), ``b1``
        (relative), as :func:`qmri_kernels.validation.load_truth` returns them.
    k : int
        Slice index along axis 2.

    Returns
    -------
    matplotlib.figure.Figure
    """
    body = truth["labels"][..., k] > 0
    crop = _crop(body, body)
    panels = [("pdff", 100, "PDFF (%)", "magma", (0, 100)),
              ("water_t2", 1000, "water T2 (ms)", "viridis", (20, 80)),
              ("b0", 1, "B0 (Hz)", "RdBu_r", (-250, 250)),
              ("b1", 1, "B1 (relative)", "cividis", (0.65, 1.15))]
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.2))
    for ax, (key, scale, label, cmap, (lo, hi)) in zip(axes, panels):
        img = np.where(body, truth[key][..., k] * scale, np.nan)[crop]
        im = show_axial(ax, img, cmap=cmap, vmin=lo, vmax=hi)
        fig.colorbar(im, ax=ax, shrink=0.8, label=label)
    fig.tight_layout()
    return fig


def plot_truth_distributions(df: pd.DataFrame) -> plt.Figure:
    """Strip plots of the cohort's true FF and water T2, biopsied vs contralateral,
    with the paper's mean ± SD drawn beside them.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`qmri_kernels.validation.cohort_truth_table`: one row per patient with
        ``megre_biopsy_ff_percent``, ``megre_contra_ff_percent`` (%) and
        ``mese_biopsy_t2_ms``, ``mese_contra_t2_ms`` (ms).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, (col_b, col_c, key_b, key_c, unit) in zip(axes, [
            ("megre_biopsy_ff_percent", "megre_contra_ff_percent", "ff_biopsy_percent",
             "ff_contra_percent", "FF (%)"),
            ("mese_biopsy_t2_ms", "mese_contra_t2_ms", "t2_biopsy_ms", "t2_contra_ms",
             "water T2 (ms)")]):
        for x, (col, key) in enumerate(((col_b, key_b), (col_c, key_c))):
            vals = df[col].to_numpy()
            jitter = np.linspace(-0.12, 0.12, len(vals))
            ax.plot(x + jitter, vals, "o", alpha=0.8, label="cohort truth" if x == 0 else None)
            mean, sd = paper.REPORTED[key][:2]
            ax.errorbar(x + 0.3, mean, yerr=sd, fmt="s", color="k", capsize=4,
                        label="paper mean ± SD" if x == 0 else None)
        ax.set_xticks([0, 1], ["biopsied", "contralateral"])
        ax.set_ylabel(unit)
    axes[0].legend(frameon=False)
    fig.tight_layout()
    return fig
