"""Figures of the chapter "How far to trust the numbers": the error budget and what it
does to a correlation.

Both take the tables of :mod:`qmri_kernels.validation.error_budget` (DataFrames in, a
Matplotlib figure out; no file is read).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..scores.scale import ITEM_LABELS

__all__ = ["plot_tornado", "plot_attenuation"]

_PANELS = (("ff_error_pp", "FF error (percentage points)"),
           ("water_t2_error_ms", "water T2 error (ms)"))
_MEASURE_NAMES = {"ff_percent": "FF", "water_t2_ms": "water T2"}


def plot_tornado(budget: pd.DataFrame, order=None) -> plt.Figure:
    """Tornado plot of the error budget: one horizontal bar per source, FF and water T2.

    Each bar is the mean error of a source over the patients (for noise: over patients and
    repeats); the whisker spans ± one SD, the dots are the patients' own errors (noise: the
    mean over the repeats).

    Parameters
    ----------
    budget : pandas.DataFrame
        :func:`qmri_kernels.validation.error_budget.error_budget` (columns ``source``,
        ``label``, ``subject``, ``ff_error_pp``, ``water_t2_error_ms``).
    order : sequence of str, optional
        Labels from top to bottom (default: the order of first appearance).

    Returns
    -------
    matplotlib.figure.Figure
        Two panels sharing the source axis.

    Raises
    ------
    ValueError
        If ``budget`` is empty.
    """
    if budget.empty:
        raise ValueError("budget is empty")
    labels = list(dict.fromkeys(budget["label"])) if order is None else list(order)
    y = np.arange(len(labels))
    subj = budget.groupby(["label", "subject"], sort=False)[[c for c, _ in _PANELS]].mean()
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 0.42 * len(labels) + 1.6), sharey=True)
    for ax, (col, title) in zip(axes, _PANELS):
        stats = budget.groupby("label")[col].agg(["mean", "std"]).reindex(labels)
        colours = ["0.75" if not np.isfinite(m) else ("C0" if m >= 0 else "C3")
                   for m in stats["mean"]]
        ax.barh(y, stats["mean"].fillna(0.0), color=colours, height=0.6, zorder=2)
        ax.errorbar(stats["mean"], y, xerr=stats["std"], fmt="none", ecolor="k",
                    elinewidth=1, capsize=3, zorder=3)
        for i, lab in enumerate(labels):
            if lab in subj.index.get_level_values(0):
                v = subj.loc[lab, col].to_numpy(dtype=float)
                v = v[np.isfinite(v)]
                jitter = np.linspace(-0.18, 0.18, v.size) if v.size > 1 else np.zeros(v.size)
                ax.plot(v, i + jitter, "o", ms=3, color="k", alpha=0.55, zorder=4)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_xlabel(title)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, labels)
    axes[0].invert_yaxis()
    fig.tight_layout()
    return fig


def plot_attenuation(reliabilities: pd.DataFrame, attenuation: pd.DataFrame) -> plt.Figure:
    """What the errors do to a correlation: attenuation per source, and the paper's ρ.

    Left: the factor √reliability by which each source alone (and all acting sources
    combined) multiplies a correlation of FF or water T2 with an exact score (no bar
    where a source does not act on that measure), in the order of ``reliabilities``.
    Right: the
    paper's ten correlations (|ρ| or its bounds, grey) and the same correlations seen
    through the combined errors (coloured).

    Parameters
    ----------
    reliabilities : pandas.DataFrame
        :func:`qmri_kernels.validation.error_budget.reliability`.
    attenuation : pandas.DataFrame
        :func:`qmri_kernels.validation.error_budget.attenuation_vs_paper`.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels.
    """
    rel = reliabilities[reliabilities["source"] != "end_to_end"]
    labels = list(dict.fromkeys(rel["label"]))
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(11, 0.35 * max(len(labels), 10) + 2.2),
                                 gridspec_kw={"width_ratios": [1, 1.1]})
    y = np.arange(len(labels))
    for k, (measure, name) in enumerate(_MEASURE_NAMES.items()):
        f = rel[rel["measure"] == measure].set_index("label")["factor"].reindex(labels)
        ok = f.notna().to_numpy()
        a0.barh(y[ok] + (k - 0.5) * 0.38, f[ok], height=0.38, color=f"C{k}", label=name)
    if "combined" in set(rel["source"]):
        a0.axhline(labels.index(rel.loc[rel["source"] == "combined", "label"].iloc[0]) - 0.5,
                   color="k", lw=0.8)
    a0.set_yticks(y, labels)
    a0.invert_yaxis()
    lo = float(np.nanmin(rel["factor"])) if rel["factor"].notna().any() else 0.9
    a0.set_xlim(min(0.8, lo - 0.02), 1.0)
    a0.set_xlabel("attenuation factor √reliability")
    a0.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    a0.grid(axis="x", alpha=0.3)
    yy = np.arange(len(attenuation))
    names = [f"{_MEASURE_NAMES[m]} ~ {ITEM_LABELS.get(i, i)}"
             for m, i in zip(attenuation["measure"], attenuation["item"])]
    colours = ["C0" if m == "ff_percent" else "C1" for m in attenuation["measure"]]
    high = attenuation["rho_high"].clip(upper=1.0)
    a1.hlines(yy - 0.15, attenuation["rho_low"], high, color="0.65", lw=4)
    a1.scatter(attenuation["rho_low"], yy - 0.15, color="0.45", s=22, zorder=3,
               label="the paper (|ρ| or the bounds its p implies)")
    a1.hlines(yy + 0.15, attenuation["rho_seen_low"], attenuation["rho_seen_high"],
              color=colours, lw=2.5)
    a1.scatter(attenuation["rho_seen_low"], yy + 0.15, color=colours, s=22, zorder=3,
               label="the same seen through these errors")
    a1.set_yticks(yy, names)
    a1.yaxis.tick_right()
    a1.invert_yaxis()
    a1.set_xlim(0, 1.02)
    a1.set_xlabel("|Spearman ρ|")
    a1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1, frameon=False,
              fontsize="small")
    a1.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
