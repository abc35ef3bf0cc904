"""Figures of the chapter "Segmentation and measurement".

Every function takes arrays or tables (never a file) and returns the Matplotlib figure it
drew. Slices are in NIfTI voxel order (i → patient left, j → posterior) and are shown in
radiological view (:func:`qmri_kernels.figures.synthetic.show_axial`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from ..grids import Grid
from ..labels import MUSCLES
from .synthetic import label_colormap, show_axial

__all__ = ["plot_training_log", "plot_segmentations", "plot_dice", "plot_slice_positions",
           "representative_slice", "plot_transferred_masks", "plot_end_to_end"]

#: Labels above this index are muscles (:mod:`qmri_kernels.labels`: 11–21, 31–41).
_FIRST_MUSCLE = 10


def _crop(mask: np.ndarray, margin: int = 6) -> tuple[slice, slice]:
    ii, jj = np.nonzero(mask)
    if ii.size == 0:
        return slice(None), slice(None)
    return (slice(max(ii.min() - margin, 0), ii.max() + margin + 1),
            slice(max(jj.min() - margin, 0), jj.max() + margin + 1))


def plot_training_log(sidecar: Mapping) -> plt.Figure:
    """Training loss and validation Dice per epoch, from a weights sidecar.

    Parameters
    ----------
    sidecar : mapping
        The weights' JSON sidecar (:func:`qmri_kernels.segment.read_sidecar`): ``log`` is a
        list of per-epoch records with ``epoch``, ``loss``, ``val_dice_muscle_mean``,
        ``val_dice_rf`` and ``val_dice_vl``; ``training.val_seeds`` is the (first, last)
        validation seed.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels: loss, and validation Dice (0–1) of all muscles, RF and VL.
    """
    log = pd.DataFrame(sidecar["log"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax1.plot(log.epoch, log.loss, "o-")
    ax1.set(xlabel="epoch", ylabel="loss (cross-entropy + soft Dice)", title="training loss")
    for col, name in (("val_dice_muscle_mean", "mean of 22 muscles"),
                      ("val_dice_rf", "rectus femoris"), ("val_dice_vl", "vastus lateralis")):
        ax2.plot(log.epoch, log[col], "o-", label=name)
    first, last = sidecar["training"]["val_seeds"]
    ax2.set(xlabel="epoch", ylabel="Dice", ylim=(0, 1),
            title=f"validation Dice ({last - first + 1} phantom subjects, no post-processing)")
    ax2.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_segmentations(image: np.ndarray, predicted: np.ndarray,
                       truth: np.ndarray | None = None, slices: Sequence[int] | None = None,
                       z_mm: Sequence[float] | None = None, title: str = "") -> plt.Figure:
    """T2-weighted slices with the network's labels over them (and the true labels).

    Parameters
    ----------
    image : (nx, ny, nz) ndarray
        The T2-weighted volume (arbitrary units).
    predicted : (nx, ny, nz) ndarray of int
        The network's labels (:mod:`qmri_kernels.labels` indices) on the image's grid.
    truth : (nx, ny, nz) ndarray of int, optional
        True labels on the same grid; adds a third column when given.
    slices : sequence of int, optional
        Slice indices, one row each; default three evenly spread inner slices.
    z_mm : (nz,) sequence of float, optional
        World z of each slice centre (mm), shown in the row titles.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Rows: the slices; columns: image, network labels, true labels (if given). Only
        muscle labels are coloured; the view is cropped to the labelled thighs.
    """
    nz = image.shape[2]
    if slices is None:
        slices = sorted({int(k) for k in np.linspace(min(1, nz - 1), max(nz - 2, 0), 3)})
    columns = [("network (post-processed)", predicted)]
    if truth is not None:
        columns.append(("truth", truth))
    cmap = label_colormap()
    n = len(slices)
    fig, axes = plt.subplots(n, 1 + len(columns), figsize=(4.4 * (1 + len(columns)), 2.6 * n),
                             squeeze=False)
    crop = _crop(predicted[..., slices[n // 2]] > 0)
    vmax = float(np.percentile(image, 99.5))
    for row, k in zip(axes, slices):
        img = image[crop[0], crop[1], k]
        show_axial(row[0], img, cmap="gray", vmin=0, vmax=vmax)
        z = "" if z_mm is None else f", z = {z_mm[k]:+.0f} mm"
        row[0].set_title(f"T2-weighted, slice {k}{z}")
        for ax, (name, lab) in zip(row[1:], columns):
            show_axial(ax, img, cmap="gray", vmin=0, vmax=vmax)
            sl = lab[crop[0], crop[1], k]
            show_axial(ax, np.ma.masked_where(sl <= _FIRST_MUSCLE, sl), cmap=cmap, vmin=0,
                       vmax=cmap.N - 1, alpha=0.6)
            ax.set_title(name)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_dice(table: pd.DataFrame) -> plt.Figure:
    """Dice per muscle and side over subjects.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``muscle`` (abbreviation), ``side`` and ``dice`` (0–1), one row per subject
        × muscle × side (:func:`qmri_kernels.validation.segmentation.dice_table`).

    Returns
    -------
    matplotlib.figure.Figure
        One point per subject and side; a black bar at each muscle's mean.
    """
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(11, 3.8))
    order = list(MUSCLES)
    sns.stripplot(data=table, x="muscle", y="dice", hue="side", order=order, dodge=True,
                  size=4, ax=ax, alpha=0.8)
    means = table.groupby("muscle")["dice"].mean().reindex(order)
    ax.scatter(range(len(order)), means, marker="_", s=600, color="k", zorder=3,
               label="mean (both sides)")
    ax.set(ylabel="Dice vs truth", xlabel="", ylim=(min(0.6, table.dice.min() - 0.02), 1.0))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def plot_slice_positions(stacks: Mapping[str, Grid],
                         excluded: Mapping[str, Sequence[int]] | None = None) -> plt.Figure:
    """Slab positions of each series along z.

    Parameters
    ----------
    stacks : mapping of str to Grid
        Series name → its grid (slice centres from the affine, slab thickness in mm).
    excluded : mapping of str to sequence of int, optional
        Per series name, slice indices not covered by the T2-weighted stack: drawn hatched.

    Returns
    -------
    matplotlib.figure.Figure
        One row per series; each slab a box of its thickness at its world z (mm). Row
        labels give thickness / gap in mm.
    """
    excluded = excluded or {}
    fig, ax = plt.subplots(figsize=(10, 0.7 + 0.6 * len(stacks)))
    names = []
    for row, (name, grid) in enumerate(stacks.items()):
        z = np.asarray(grid.slice_z(), dtype=float)
        thick = float(grid.slice_thickness)
        gap = float(np.median(np.abs(np.diff(z)))) - thick if z.size > 1 else 0.0
        names.append(f"{name} ({thick:g}/{gap:g} mm)")
        out = set(excluded.get(name, ()))
        for k, zc in enumerate(z):
            ax.add_patch(Rectangle((zc - thick / 2, row - 0.3), thick, 0.6,
                                   facecolor="none" if k in out else f"C{row}",
                                   edgecolor=f"C{row}", hatch="///" if k in out else None,
                                   alpha=0.8))
    zs = np.concatenate([np.asarray(g.slice_z(), float) for g in stacks.values()])
    ax.set(xlim=(zs.min() - 12, zs.max() + 12), ylim=(-0.6, len(stacks) - 0.4),
           yticks=range(len(stacks)), yticklabels=names, xlabel="z (mm, superior →)")
    ax.set_title("slab positions, thickness/gap (hatched: outside the T2-weighted stack, "
                 "excluded)")
    fig.tight_layout()
    return fig


def representative_slice(slice_table: pd.DataFrame) -> int:
    """A target slice worth showing: the middle one of those in a gap of the source stack.

    Parameters
    ----------
    slice_table : pandas.DataFrame
        :meth:`qmri_kernels.masks.LabelTransfer.slice_table` (columns ``slice``,
        ``status``).

    Returns
    -------
    int
        The middle ``"in gap"`` slice; if there is none, the middle covered slice; if
        nothing is covered, the middle slice.
    """
    for wanted in (("in gap",), ("in gap", "in slab")):
        ks = slice_table.slice[slice_table.status.isin(wanted)].to_numpy()
        if ks.size:
            return int(ks[ks.size // 2])
    return int(slice_table.slice.iloc[len(slice_table) // 2])


def plot_transferred_masks(panels: Sequence[tuple[str, np.ndarray, np.ndarray, float, tuple]],
                           highlight: Sequence[int] = ()) -> plt.Figure:
    """Maps with transferred label contours.

    Parameters
    ----------
    panels : sequence of (title, map_slice, label_slice, z_mm, (vmin, vmax, unit, cmap))
        ``map_slice`` (nx, ny) in display units (e.g. % or ms), ``label_slice`` (nx, ny)
        int on the same grid, ``z_mm`` the slice's world z; the map is shown where the
        labels are non-zero, muscle outlines in the label colours.
    highlight : sequence of int
        Labels drawn with a thick white contour (the biopsied muscle).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per entry, each with its colour bar.
    """
    cmap = label_colormap()
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 3.4), squeeze=False)
    for ax, (title, img, lab, z, (lo, hi, unit, cm)) in zip(axes[0], panels):
        crop = _crop(lab > 0)
        shown = np.where(lab > 0, img, np.nan)   # outside the labels (and the body): blank
        im = show_axial(ax, shown[crop], cmap=cm, vmin=lo, vmax=hi)
        sub = lab[crop]
        for value in np.unique(sub[sub > _FIRST_MUSCLE]):
            ax.contour((sub == value).T.astype(float), levels=[0.5],
                       colors=[cmap(int(value))], linewidths=0.8)
        for value in highlight:
            if (sub == value).any():
                ax.contour((sub == value).T.astype(float), levels=[0.5], colors="w",
                           linewidths=2.0)
        ax.set_title(f"{title}, z = {z:+.1f} mm")
        fig.colorbar(im, ax=ax, shrink=0.8, label=unit)
    fig.tight_layout()
    return fig


def plot_end_to_end(table: pd.DataFrame,
                    band: Mapping[str, float] | None = None) -> plt.Figure:
    """The biopsied muscle's error per subject: FF (percentage points) and water T2 (ms).

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``subject``, ``ff_error_pp`` and ``water_t2_error_ms``
        (:func:`qmri_kernels.validation.segmentation.biopsy_end_to_end`).
    band : mapping of str to float, optional
        Half-width of a shaded band around 0 per column (``"ff_error_pp"``: pp,
        ``"water_t2_error_ms"``: ms), e.g. a quarter of the spread between patients.

    Returns
    -------
    matplotlib.figure.Figure
        Two bar charts, one bar per subject.
    """
    band = dict(band or {})
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.4), sharex=True)
    x = np.arange(len(table))
    for ax, col, unit in ((ax1, "ff_error_pp", "FF error (percentage points)"),
                          (ax2, "water_t2_error_ms", "water T2 error (ms)")):
        values = table[col].to_numpy(dtype=float)
        ax.bar(x, values, color="C0")
        half = band.get(col)
        if half:
            ax.axhspan(-half, half, color="C2", alpha=0.12, lw=0)
        ax.axhline(0, color="k", lw=0.8)
        lim = max(1.5 * (half or 0.0), float(np.nanmax(np.abs(values))) * 1.15, 1e-3)
        ax.set(ylabel=unit, ylim=(-lim, lim), xticks=x,
               xticklabels=[f"sub-{s}" for s in table.subject])
        ax.tick_params(axis="x", rotation=90)
    fig.tight_layout()
    return fig
