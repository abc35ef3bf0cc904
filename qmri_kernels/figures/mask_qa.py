"""Figures of the chapter "Mask QA": two readers' corrected masks compared.

Every function takes tables (never a file) and returns the Matplotlib figure it drew (the
Bland–Altman plot of R1 against R2 is
:func:`qmri_kernels.figures.results.plot_bland_altman`):

- :func:`plot_reader_dice` — Dice of the biopsied muscle and its contralateral twin between
  the readers and between each reader and the network, per subject;
- :func:`plot_edit_shift` — how far each reader's corrections moved a subject's value from
  the network's.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


__all__ = ["plot_reader_dice", "plot_edit_shift"]

#: Measure → (name, unit of a difference).
_MEASURES: dict[str, tuple[str, str]] = {
    "ff_percent": ("FF", "percentage points"),
    "water_t2_ms": ("water T2", "ms"),
}


def _measures(table: pd.DataFrame) -> list[str]:
    present = list(table.columns.get_level_values("measure").unique())
    unknown = [m for m in present if m not in _MEASURES]
    if unknown:
        raise ValueError(f"measures {unknown} have no label; expected {list(_MEASURES)}")
    return present


def plot_reader_dice(dice: pd.DataFrame) -> plt.Figure:
    """Dice of the biopsied muscle and of its contralateral twin, per subject and pair.

    Parameters
    ----------
    dice : pandas.DataFrame
        :func:`qmri_kernels.masks.overlap.reader_dice_table` (columns ``subject``,
        ``reader_a``, ``reader_b``, ``dice``, ``biopsied``, ``contralateral``); rows of
        other muscles are ignored.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels (biopsied, contralateral): x the subject, y the Dice (0–1), one marker
        series per reader pair (``"auto"`` shown as "network").

    Raises
    ------
    ValueError
        If the table has no biopsied rows.
    """
    rows = dice[dice["biopsied"] | dice["contralateral"]]
    if not rows["biopsied"].any():
        raise ValueError("dice: no rows of the biopsied muscle")
    names = {"auto": "network"}
    pairs = list(dict.fromkeys(zip(rows["reader_a"], rows["reader_b"])))
    subjects = sorted(rows["subject"].astype(str).unique())
    pos = {s: i for i, s in enumerate(subjects)}
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    markers = "osD^v"
    for ax, flag, title in ((axes[0], "biopsied", "biopsied muscle"),
                            (axes[1], "contralateral", "contralateral muscle")):
        part = rows[rows[flag]]
        for n, (ra, rb) in enumerate(pairs):
            sel = part[(part["reader_a"] == ra) & (part["reader_b"] == rb)]
            ax.plot([pos[str(s)] + 0.12 * (n - (len(pairs) - 1) / 2) for s in sel["subject"]],
                    sel["dice"], markers[n % len(markers)], ms=5, ls="none",
                    label=f"{names.get(ra, ra)} vs {names.get(rb, rb)}")
        ax.set_xticks(range(len(subjects)), subjects)
        ax.set(xlabel="subject", title=title)
        ax.grid(axis="y", lw=0.5, alpha=0.5)
    low = float(np.nanmin(rows["dice"])) if len(rows) else 0.0
    axes[0].set(ylabel="Dice", ylim=(min(0.8, np.floor(low * 20) / 20), 1.0))
    axes[1].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_edit_shift(shift: pd.DataFrame, band: Mapping[str, float] | None = None, *,
                    where: str = "biopsied") -> plt.Figure:
    """Each reader's value minus the network's, per subject, one panel per measure.

    Parameters
    ----------
    shift : pandas.DataFrame
        :func:`qmri_kernels.results.readers.edit_shift`: index ``subject``, columns
        ``(measure, reader)``.
    band : mapping of str to float, optional
        Measure → half-width of a grey band around 0 (e.g. a quarter of the spread between
        patients), in the measure's unit.
    where : str
        Which muscle the values are of, for the titles ("biopsied", "contralateral").

    Returns
    -------
    matplotlib.figure.Figure
    """
    measures = _measures(shift)
    subjects = [str(s) for s in shift.index]
    x = np.arange(len(subjects))
    fig, axes = plt.subplots(1, len(measures), figsize=(5.5 * len(measures), 3.8),
                             squeeze=False)
    for ax, measure in zip(axes[0], measures):
        name, dunit = _MEASURES[measure]
        readers = list(shift[measure].columns)
        if band and measure in band:
            w = float(band[measure])
            ax.axhspan(-w, w, color="0.88", zorder=0, label=f"±{w:.2g} {dunit}")
        ax.axhline(0, color="0.4", lw=0.8)
        for n, reader in enumerate(readers):
            ax.plot(x + 0.15 * (n - (len(readers) - 1) / 2), shift[measure][reader],
                    "os^D"[n % 4], ms=5, ls="none", label=reader, color=f"C{n}")
        ax.set_xticks(x, subjects)
        ax.set(xlabel="subject", ylabel=f"reader − network ({dunit})",
               title=f"{name}, {where} muscle: reader − network")
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig
