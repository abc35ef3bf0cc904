"""The disagreements of two blinded readers as tables for adjudication.

After both readers have locked, :meth:`~qmri_kernels.scores.ScoreStore.comparison` unblinds
them side by side; the (subject, item) pairs on which they differ go to adjudication (a
consensus meeting or a third reader), as in REDCap's double data entry (Harris et al. 2009).
Two views of the same list:

- :func:`disagreement_table` — one row per disagreement, the larger differences first;
- :func:`adjudication_sheet` — one row per subject and one narrow column per item, the two
  scores where they differ and nothing where they agree: the whole cohort on one page.

References
----------
- Harris PA, Taylor R, Thielke R, Payne J, Gonzalez N, Conde JG (2009). Research electronic
  data capture (REDCap). J Biomed Inform 42:377–381. doi:10.1016/j.jbi.2008.08.010
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ._checks import ScoreError
from .scale import ITEM_LABELS, ITEMS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .store import Comparison

__all__ = ["ITEM_SHORT", "disagreement_table", "adjudication_sheet"]

#: Item → a short column title (the sheet's columns must fit a printed page).
ITEM_SHORT: dict[str, str] = {
    "myofiber_size_variation": "fiber size", "necrosis": "necrosis",
    "inflammatory_cells": "inflam. cells", "connective_tissue": "conn. tissue", "fat": "fat",
    "acp": "ACP", "cd4": "CD4", "cd68": "CD68", "mhc1": "MHC-1", "complement": "C5b-9",
}


def _check(comparison) -> tuple[str, str]:
    readers = getattr(comparison, "readers", None)
    if readers is None or not hasattr(comparison, "disagreements"):
        raise ScoreError("comparison must be a Comparison (ScoreStore.comparison()), got "
                         f"{type(comparison).__name__}")
    return readers


def _selected(comparison, subjects: Iterable[str] | None) -> list:
    """The comparison's disagreements of ``subjects`` (all if None)."""
    found = comparison.disagreements()
    if subjects is None:
        return found
    keep = {str(s) for s in subjects}
    return [d for d in found if d.subject in keep]


def disagreement_table(comparison: Comparison, subjects: Iterable[str] | None = None
                       ) -> pd.DataFrame:
    """Every (subject, item) on which the two readers differ, one row each.

    Parameters
    ----------
    comparison : Comparison
        :meth:`ScoreStore.comparison` (both readers locked).
    subjects : iterable of str, optional
        Only these subjects (e.g. the manifest's); default all of the comparison.

    Returns
    -------
    pandas.DataFrame
        Columns ``subject``, ``item`` (stored name), ``finding`` (its name for people), one
        nullable-integer column per reader, ``difference`` (absolute, nullable: missing if
        a reader did not score the item); sorted by difference (largest first), subject
        and the paper's item order.

    Raises
    ------
    ScoreError
        If ``comparison`` is not a :class:`Comparison`.
    """
    import pandas as pd

    a, b = _check(comparison)
    rows = [{"subject": d.subject, "item": d.item, "finding": ITEM_LABELS[d.item],
             a: d.scores[a], b: d.scores[b], "difference": d.difference}
            for d in _selected(comparison, subjects)]
    table = pd.DataFrame(rows, columns=["subject", "item", "finding", a, b, "difference"])
    table = table.astype({a: "Int64", b: "Int64", "difference": "Int64"})
    order = table["item"].map({item: i for i, item in enumerate(ITEMS)})
    return (table.assign(_order=order, _d=table["difference"].fillna(99))
            .sort_values(["_d", "subject", "_order"], ascending=[False, True, True],
                         kind="stable")
            .drop(columns=["_order", "_d"]).reset_index(drop=True))


def adjudication_sheet(comparison: Comparison, subjects: Iterable[str] | None = None, *,
                       empty: str = "", totals: bool = True) -> pd.DataFrame:
    """The disagreements as one compact sheet: subjects × items, "a / b" where they differ.

    Parameters
    ----------
    comparison : Comparison
        :meth:`ScoreStore.comparison` (both readers locked).
    subjects : iterable of str, optional
        Only these subjects (e.g. the manifest's); default all of the comparison.
    empty : str
        What a cell shows where the readers agree.
    totals : bool
        Add a last row ``"differ"`` with the number of disagreements of each item.

    Returns
    -------
    pandas.DataFrame
        Index ``subject`` (every subject of the comparison); one column per item titled by
        :data:`ITEM_SHORT`, in the paper's order; cells ``"2 / 3"`` (first reader / second,
        ``"–"`` for a missing score) or ``empty``. The columns' name says the readers'
        order (``"R3 / R4"``). With ``totals``, a last row ``"differ"`` holds each item's
        number of disagreements (as text, like the other cells).

    Raises
    ------
    ScoreError
        If ``comparison`` is not a :class:`Comparison`.
    """
    import pandas as pd

    a, b = _check(comparison)
    rows = sorted(set(comparison.table["subject"]))
    if subjects is not None:
        keep = {str(s) for s in subjects}
        rows = [s for s in rows if s in keep]
    columns = [ITEM_SHORT[i] for i in ITEMS]
    sheet = pd.DataFrame(empty, index=pd.Index(rows, name="subject"), columns=columns)
    found = _selected(comparison, rows)
    for d in found:
        va, vb = ("–" if v is None else str(v) for v in (d.scores[a], d.scores[b]))
        sheet.loc[d.subject, ITEM_SHORT[d.item]] = f"{va} / {vb}"
    if totals:
        counts = {c: 0 for c in columns}
        for d in found:
            counts[ITEM_SHORT[d.item]] += 1
        sheet.loc["differ"] = [str(counts[c]) for c in columns]
    sheet.columns.name = f"{a} / {b}"
    return sheet
