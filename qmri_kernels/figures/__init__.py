"""Figures of the book: one style, set by :func:`set_style`, and one module per chapter.

Notebook cells call these functions; each returns the Matplotlib figure it drew.
"""

from __future__ import annotations

import matplotlib as mpl

__all__ = ["set_style"]


def set_style() -> None:
    """The book's figure style (call once at the top of a chapter)."""
    import seaborn as sns

    sns.set_theme(context="notebook", style="ticks", palette="colorblind")
    mpl.rcParams.update({
        "figure.dpi": 100, "savefig.dpi": 100, "figure.figsize": (8, 4.5),
        "image.interpolation": "nearest", "image.origin": "upper",
        "axes.titlesize": "medium", "font.size": 10,
    })
