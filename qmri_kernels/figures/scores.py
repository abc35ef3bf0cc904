"""Figures of the chapter "Histopathology scores".

Every function takes tables (never a file or a store) and returns the Matplotlib figure it
drew.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..scores.scale import ITEM_LABELS, ITEMS, SCALE

__all__ = ["plot_score_distributions"]


def plot_score_distributions(scores: pd.DataFrame, readers: Sequence[str] = ("R3", "R4")
                             ) -> plt.Figure:
    """How often each reader gave each score, one small panel per item.

    Parameters
    ----------
    scores : pandas.DataFrame
        Tidy scores, one row per subject × reader × item: columns ``subject``, ``reader``,
        ``item`` (:data:`qmri_kernels.scores.ITEMS`), ``score`` (0–4), e.g.
        :meth:`qmri_kernels.scores.ScoreStore.table`. Other readers' rows are ignored.
    readers : sequence of str
        The readers to draw, side by side in each panel.

    Returns
    -------
    matplotlib.figure.Figure
        Two rows of five panels in the paper's item order; x the score (0 normal … 4
        severe), y the number of biopsies; each reader's mean score in the panel title.

    Raises
    ------
    ValueError
        If a column is missing or a reader has no rows.
    """
    missing = {"reader", "item", "score"} - set(scores.columns)
    if missing:
        raise ValueError(f"scores: missing columns {sorted(missing)}")
    readers = list(readers)
    absent = [r for r in readers if not (scores["reader"] == r).any()]
    if absent:
        raise ValueError(f"scores: no rows for reader(s) {absent}; have "
                         f"{sorted(scores['reader'].unique())}")
    levels = np.array(sorted(SCALE))
    width = 0.8 / len(readers)
    fig, axes = plt.subplots(2, 5, figsize=(12.5, 5.6), sharex=True, sharey=True)
    n_max = 1
    for ax, item in zip(axes.flat, ITEMS):
        means = []
        for n, reader in enumerate(readers):
            s = scores.loc[(scores["reader"] == reader) & (scores["item"] == item), "score"]
            s = s.astype(int)
            counts = np.array([(s == k).sum() for k in levels])
            n_max = max(n_max, int(counts.max()))
            ax.bar(levels + (n - (len(readers) - 1) / 2) * width, counts, width=width,
                   color=f"C{n}", label=reader)
            means.append(f"{s.mean():.1f}" if len(s) else "–")
        title = textwrap.fill(ITEM_LABELS[item], 22)
        ax.set_title(f"{title}\nmean {' / '.join(means)}", fontsize=9)
        ax.set_xticks(levels)
    for ax in axes[1]:
        ax.set_xlabel("score")
    for ax in axes[:, 0]:
        ax.set_ylabel("biopsies")
    axes[0, 0].set_ylim(0, n_max + 1)
    axes[0, -1].legend(fontsize=8, loc="upper right")
    fig.text(0.5, 0.005, "   ".join(f"{k} {w}" for k, w in SCALE.items()), ha="center",
             fontsize=8, color="0.35")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig
