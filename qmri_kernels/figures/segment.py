"""Figures of the chapter "Segmentation and measurement"."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from ..phantom.labels import MUSCLES
from .cohort import label_colormap, show_axial

__all__ = ["plot_training_log", "plot_segmentations", "plot_dice", "plot_slice_positions",
           "plot_transferred_masks", "plot_end_to_end"]


def _crop(mask: np.ndarray, margin: int = 6) -> tuple[slice, slice]:
    ii, jj = np.nonzero(mask)
    if ii.size == 0:
        return slice(None), slice(None)
    return (slice(max(ii.min() - margin, 0), ii.max() + margin + 1),
            slice(max(jj.min() - margin, 0), jj.max() + margin + 1))


def plot_training_log(sidecar: dict) -> plt.Figure:
    """Training loss and validation Dice per epoch, from a weights sidecar's ``log``."""
    log = pd.DataFrame(sidecar["log"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax1.plot(log.epoch, log.loss, "o-")
    ax1.set(xlabel="epoch", ylabel="loss (cross-entropy + soft Dice)", title="training loss")
    for col, name in (("val_dice_muscle_mean", "mean of 22 muscles"),
                      ("val_dice_rf", "rectus femoris"), ("val_dice_vl", "vastus lateralis")):
        ax2.plot(log.epoch, log[col], "o-", label=name)
    ax2.axhline(0.90, color="0.5", ls=":", lw=1)
    ax2.axhline(0.85, color="0.5", ls="--", lw=1)
    first, last = sidecar["training"]["val_seeds"]
    ax2.set(xlabel="epoch", ylabel="Dice", ylim=(0, 1),
            title=f"validation Dice ({last - first + 1} phantom subjects, no post-processing)")
    ax2.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_segmentations(image: np.ndarray, predicted: np.ndarray, truth: np.ndarray,
                       slices: Sequence[int], z_mm: Sequence[float] | None = None,
                       title: str = "") -> plt.Figure:
    """T2-weighted slices, the network's labels over them, and the truth labels.

    Rows: the chosen slices; columns: image, network, truth (radiological view).
    """
    cmap = label_colormap()
    n = len(slices)
    fig, axes = plt.subplots(n, 3, figsize=(13, 2.6 * n), squeeze=False)
    crop = _crop(truth[..., slices[n // 2]] > 0)
    vmax = float(np.percentile(image, 99.5))
    for row, k in zip(axes, slices):
        img = image[crop[0], crop[1], k]
        show_axial(row[0], img, cmap="gray", vmin=0, vmax=vmax)
        for ax, lab in ((row[1], predicted), (row[2], truth)):
            show_axial(ax, img, cmap="gray", vmin=0, vmax=vmax)
            sl = lab[crop[0], crop[1], k]
            show_axial(ax, np.ma.masked_where(sl <= 4, sl), cmap=cmap, vmin=0,
                       vmax=cmap.N - 1, alpha=0.6)
        z = "" if z_mm is None else f", z = {z_mm[k]:+.0f} mm"
        row[0].set_title(f"T2-weighted, slice {k}{z}")
        row[1].set_title("network (post-processed)")
        row[2].set_title("truth")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_dice(table: pd.DataFrame) -> plt.Figure:
    """Dice per muscle and side over subjects (columns ``muscle``, ``side``, ``dice``)."""
    fig, ax = plt.subplots(figsize=(11, 3.8))
    order = list(MUSCLES)
    import seaborn as sns
    sns.stripplot(data=table, x="muscle", y="dice", hue="side", order=order, dodge=True,
                  size=4, ax=ax, alpha=0.8)
    means = table.groupby("muscle")["dice"].mean().reindex(order)
    ax.scatter(range(len(order)), means, marker="_", s=600, color="k", zorder=3,
               label="mean (both sides)")
    ax.axhline(0.90, color="0.5", ls=":", lw=1)
    ax.axhline(0.85, color="0.5", ls="--", lw=1)
    ax.set(ylabel="Dice vs truth", xlabel="", ylim=(min(0.6, table.dice.min() - 0.02), 1.0))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def plot_slice_positions(stacks: dict[str, tuple[np.ndarray, float]],
                         excluded: dict[str, Sequence[int]] | None = None) -> plt.Figure:
    """Slab positions of each series along z: ``stacks[name] = (slice_z_mm, thickness_mm)``.

    Excluded target slices (outside the T2-weighted extent) are drawn hatched.
    """
    excluded = excluded or {}
    fig, ax = plt.subplots(figsize=(10, 0.7 + 0.6 * len(stacks)))
    for row, (name, (z, thick)) in enumerate(stacks.items()):
        for k, zc in enumerate(np.asarray(z, dtype=float)):
            out = k in set(excluded.get(name, ()))
            ax.add_patch(Rectangle((zc - thick / 2, row - 0.3), thick, 0.6,
                                   facecolor="none" if out else f"C{row}",
                                   edgecolor=f"C{row}", hatch="///" if out else None,
                                   alpha=0.8))
    zs = np.concatenate([np.asarray(z, float) for z, _ in stacks.values()])
    ax.set(xlim=(zs.min() - 12, zs.max() + 12), ylim=(-0.6, len(stacks) - 0.4),
           yticks=range(len(stacks)), yticklabels=list(stacks),
           xlabel="z (mm, superior →)")
    ax.set_title("slab positions (hatched: not covered by the T2-weighted stack, excluded)")
    fig.tight_layout()
    return fig


def plot_transferred_masks(panels: Sequence[tuple[str, np.ndarray, np.ndarray, float, tuple]],
                           highlight: Sequence[int] = ()) -> plt.Figure:
    """Maps with transferred label contours.

    Parameters
    ----------
    panels : sequence of (title, map_slice, label_slice, z_mm, (vmin, vmax, unit, cmap))
        2-D slices in array order (i → patient left, j → posterior); the map is shown where
        the labels are non-zero.
    highlight : sequence of int
        Labels drawn with a thick white contour (the biopsied muscle).
    """
    cmap = label_colormap()
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 3.4), squeeze=False)
    for ax, (title, img, lab, z, (lo, hi, unit, cm)) in zip(axes[0], panels):
        crop = _crop(lab > 0)
        shown = np.where(lab > 0, img, np.nan)   # outside the labels (and the body): blank
        im = show_axial(ax, shown[crop], cmap=cm, vmin=lo, vmax=hi)
        sub = lab[crop]
        for value in np.unique(sub[sub > 10]):
            color = cmap(int(value))
            ax.contour((sub == value).T.astype(float), levels=[0.5], colors=[color],
                       linewidths=0.8)
        for value in highlight:
            if (sub == value).any():
                ax.contour((sub == value).T.astype(float), levels=[0.5], colors="w",
                           linewidths=2.0)
        ax.set_title(f"{title}, z = {z:+.1f} mm")
        fig.colorbar(im, ax=ax, shrink=0.8, label=unit)
    fig.tight_layout()
    return fig


def plot_end_to_end(table: pd.DataFrame) -> plt.Figure:
    """Biopsied-muscle error per subject: FF (pp) and water T2 (ms), with the bars.

    ``table`` has columns ``subject``, ``ff_error_pp`` and ``water_t2_error_ms``.
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.4), sharex=True)
    x = np.arange(len(table))
    for ax, col, bar, unit in ((ax1, "ff_error_pp", 1.0, "FF error (percentage points)"),
                               (ax2, "water_t2_error_ms", 2.0, "water T2 error (ms)")):
        ax.bar(x, table[col], color="C0")
        ax.axhspan(-bar, bar, color="C2", alpha=0.12, lw=0)
        ax.axhline(0, color="k", lw=0.8)
        lim = max(1.5 * bar, float(np.nanmax(np.abs(table[col]))) * 1.15)
        ax.set(ylabel=unit, ylim=(-lim, lim), xticks=x,
               xticklabels=[f"sub-{s}" for s in table.subject])
        ax.tick_params(axis="x", rotation=90)
    fig.tight_layout()
    return fig
