"""Figures of the chapters "Agreement" and "Correlation".

- :func:`plot_bland_altman` — R1 against R2 for FF and water T2 (Bland & Altman 1986);
- :func:`plot_figure2` — the paper's Figure 2: the four scatter plots of a qMRI value
  against a histopathology score, with Spearman's ρ and p;
- :func:`plot_biopsy_panels` — T2-weighted image, FF map and water-T2 map of a few
  patients with the biopsied muscle outlined, in the manner of the paper's Figures 3–5.

Every function takes arrays or tables (never a file) and returns the Matplotlib figure it
drew. Slices are in NIfTI voxel order and shown in radiological view
(:func:`qmri_kernels.figures.synthetic.show_axial`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..scores.scale import ITEM_LABELS
from .synthetic import show_axial

__all__ = ["plot_bland_altman", "plot_figure2", "plot_biopsy_panels", "MEASURE_AXIS",
           "PANEL_DISPLAY"]

#: Axis label of each measure.
MEASURE_AXIS: dict[str, str] = {"ff_percent": "FF (%)", "water_t2_ms": "water T2 (ms)"}

#: Image panels: key → (title, colour map, vmin, vmax, colour-bar label); ``None`` limits
#: of the T2-weighted image are set from its intensities.
PANEL_DISPLAY: dict[str, tuple[str, str, float | None, float | None, str]] = {
    "t2w": ("T2-weighted", "gray", None, None, "signal (a.u.)"),
    "ff_percent": ("FF map", "magma", 0.0, 40.0, "FF (%)"),
    "water_t2_ms": ("water T2 map", "viridis", 20.0, 100.0, "water T2 (ms)"),
}

_OUTLINE = "#00e5ff"   # cyan: stands out on gray, magma and viridis alike


def plot_bland_altman(measurements: pd.DataFrame, table: pd.DataFrame,
                      readers: Sequence[str] = ("R1", "R2")) -> plt.Figure:
    """Bland–Altman plots of two readers' biopsied-muscle values, one panel per measure.

    Parameters
    ----------
    measurements : pandas.DataFrame
        Index ``subject``; columns ``(measure, reader)``
        (:func:`qmri_kernels.results.biopsy_measurements`).
    table : pandas.DataFrame
        :func:`qmri_kernels.results.bland_altman` of the same readers (index ``measure``;
        ``bias``, ``loa_low``, ``loa_high``).
    readers : (2,) sequence of str
        The difference drawn is ``readers[0] − readers[1]``.

    Returns
    -------
    matplotlib.figure.Figure
        x: mean of the two readers; y: their difference (unit of the measure); solid line
        the bias, dashed the 95 % limits of agreement; points labelled by subject.
    """
    a, b = readers
    measures = list(table.index)
    fig, axes = plt.subplots(1, len(measures), figsize=(5.2 * len(measures), 3.9),
                             squeeze=False)
    for ax, measure in zip(axes[0], measures):
        x = (measurements[(measure, a)] + measurements[(measure, b)]) / 2
        d = measurements[(measure, a)] - measurements[(measure, b)]
        ax.scatter(x, d, s=28, color="C0", zorder=3)
        for subject, xi, di in zip(measurements.index, x, d):
            ax.annotate(str(subject), (xi, di), xytext=(3, 3), textcoords="offset points",
                        fontsize=7, color="0.35")
        row = table.loc[measure]
        for y, style, text in ((row["bias"], "-", "bias"), (row["loa_low"], "--", "−1.96 SD"),
                               (row["loa_high"], "--", "+1.96 SD")):
            if np.isfinite(y):
                ax.axhline(y, color="C3", ls=style, lw=1)
                ax.annotate(f"{text} {y:+.2f}", (1.0, y), xycoords=("axes fraction", "data"),
                            xytext=(-4, 2), textcoords="offset points", ha="right",
                            fontsize=8, color="C3")
        ax.axhline(0, color="0.6", lw=0.6)
        unit = MEASURE_AXIS.get(measure, measure)
        ax.set(xlabel=f"mean of {a} and {b}, {unit}", ylabel=f"{a} − {b}, {unit}",
               title=unit.split(" (")[0])
    fig.tight_layout()
    return fig


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def plot_figure2(mri: pd.DataFrame, scores: pd.DataFrame, correlations: pd.DataFrame,
                 tests: Sequence[tuple[str, str]], *, jitter: float = 0.08,
                 seed: int = 0) -> plt.Figure:
    """The paper's Figure 2: qMRI values against histopathology scores, one panel a test.

    Parameters
    ----------
    mri : pandas.DataFrame
        Index ``subject``; ``ff_percent`` and ``water_t2_ms`` (the readers' mean).
    scores : pandas.DataFrame
        Index ``subject``; one column per item, the pathologists' mean score (0–4, in
        half steps).
    correlations : pandas.DataFrame
        :func:`qmri_kernels.results.study_correlations` (``measure``, ``item``, ``rho``,
        ``p_t``); the panels' ρ and p come from it.
    tests : sequence of (str, str)
        (measure, item) of each panel, e.g. :data:`qmri_kernels.results.FIGURE2_TESTS`.
    jitter : float
        Half-width (score points) of the uniform horizontal jitter that separates equal
        scores; the statistics use the scores as they are.
    seed : int
        Seed of the jitter.

    Returns
    -------
    matplotlib.figure.Figure
        Panels a, b, … in a grid of two columns: x the score (0–4), y the measure; ρ and
        SPSS p in each panel.
    """
    rng = np.random.default_rng(seed)
    corr = correlations.set_index(["measure", "item"])
    ncols = 2 if len(tests) > 1 else 1
    nrows = -(-len(tests) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.0 * ncols, 3.8 * nrows),
                             squeeze=False)
    for ax, (measure, item), letter in zip(axes.flat, tests, "abcdefghij"):
        x = scores[item].reindex(mri.index).to_numpy(float)
        y = mri[measure].to_numpy(float)
        ax.scatter(x + rng.uniform(-jitter, jitter, x.size), y, s=30, color="C0",
                   edgecolor="w", linewidth=0.5, zorder=3)
        row = corr.loc[(measure, item)] if (measure, item) in corr.index else None
        text = ("ρ undefined" if row is None or not np.isfinite(row["rho"])
                else f"ρ = {row['rho']:.3f}, {_p_text(row['p_t'])}")
        ax.text(0.03, 0.95, text, transform=ax.transAxes, va="top", fontsize=9,
                bbox={"boxstyle": "round", "fc": "w", "ec": "0.8"})
        ax.set(xlim=(-0.4, 4.4), xticks=range(5),
               xlabel=f"{ITEM_LABELS.get(item, item)} score (mean of two pathologists)",
               ylabel=MEASURE_AXIS.get(measure, measure))
        ax.set_title(f"({letter})", loc="left", fontweight="bold")
    for ax in list(axes.flat)[len(tests):]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def _box(image: np.ndarray, body: np.ndarray | None, margin: int = 4) -> tuple[slice, slice]:
    """Bounding box of the body on a slice (``body`` if given, else the finite, non-zero
    pixels)."""
    inside = (np.asarray(body, dtype=bool) if body is not None
              else np.isfinite(image) & (np.nan_to_num(image) != 0))
    ii, jj = np.nonzero(inside)
    if ii.size == 0:
        return slice(None), slice(None)
    return (slice(max(ii.min() - margin, 0), ii.max() + margin + 1),
            slice(max(jj.min() - margin, 0), jj.max() + margin + 1))


def plot_biopsy_panels(rows: Sequence, captions: Mapping[str, str] | None = None,
                       values: Mapping[str, Mapping[str, float]] | None = None
                       ) -> plt.Figure:
    """T2-weighted image, FF map and water-T2 map per patient, biopsied muscle outlined.

    Parameters
    ----------
    rows : sequence of qmri_kernels.results.inputs.BiopsySlices
        One per patient: ``images`` and ``outlines`` keyed ``"t2w"``, ``"ff_percent"``,
        ``"water_t2_ms"`` ((nx, ny) arrays; maps in % and ms), ``z_mm``, ``spacing_mm``
        ((dx, dy) mm), ``subject``, ``muscle``, and ``bodies`` (the body on each slice,
        which sets the crop; without it, the finite non-zero pixels do).
    captions : mapping of str to str, optional
        Subject → row caption (default ``sub-<subject>``).
    values : mapping of str to mapping of str to float, optional
        Subject → {measure: value} written under the row's maps (the biopsied muscle's
        FF in % and water T2 in ms).

    Returns
    -------
    matplotlib.figure.Figure
        One row per patient, three columns, each panel with its colour bar; the biopsied
        muscle outlined in cyan, the slice's z in the panel title.
    """
    captions = captions or {}
    values = values or {}
    keys = list(PANEL_DISPLAY)
    fig, axes = plt.subplots(len(rows), len(keys), figsize=(4.6 * len(keys),
                                                             3.5 * len(rows)),
                             squeeze=False)
    for r, row in enumerate(rows):
        for c, key in enumerate(keys):
            ax = axes[r, c]
            title, cmap, lo, hi, unit = PANEL_DISPLAY[key]
            image, outline = row.images[key], row.outlines[key]
            crop = _box(image, getattr(row, "bodies", {}).get(key))
            shown = image[crop]
            if lo is None:
                finite = shown[np.isfinite(shown)]
                lo, hi = 0.0, float(np.percentile(finite, 99.5)) if finite.size else 1.0
            dx, dy = row.spacing_mm[key]
            im = show_axial(ax, shown, cmap=cmap, vmin=lo, vmax=hi, aspect=dy / dx)
            if outline[crop].any():
                ax.contour(outline[crop].T.astype(float), levels=[0.5], colors=_OUTLINE,
                           linewidths=1.3)
            label = f"{title}, z = {row.z_mm[key]:+.0f} mm"
            measured = values.get(row.subject, {}).get(key)
            if measured is not None and np.isfinite(measured):
                label += f"\nbiopsied muscle: {measured:.1f} {unit.split('(')[-1][:-1]}"
            ax.set_title(label, fontsize=9)
            fig.colorbar(im, ax=ax, shrink=0.75, label=unit)
        axes[r, 0].text(-0.04, 0.5, f"{captions.get(row.subject, 'sub-' + row.subject)}\n"
                        f"{row.muscle}", transform=axes[r, 0].transAxes, rotation=90,
                        ha="right", va="center", fontsize=9)
    fig.tight_layout()
    return fig
