"""The biopsied and contralateral muscle's measurements per reader, from the ROI table."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

__all__ = ["MEASURES", "biopsy_measurements", "reader_mean", "readers_present"]

#: The two measurements the paper correlates (ROI-table map names, unit in the name).
MEASURES: tuple[str, str] = ("ff_percent", "water_t2_ms")


def biopsy_measurements(roi: pd.DataFrame, readers: Sequence[str] = ("R1", "R2"), *,
                        where: str = "biopsied") -> pd.DataFrame:
    """Mean FF (%) and water T2 (ms) of the biopsied (or contralateral) muscle, per reader.

    Parameters
    ----------
    roi : pandas.DataFrame
        The pipeline's tidy ROI table (:data:`qmri_kernels.masks.ROI_COLUMNS`; one row per
        subject × reader × muscle × side × map).
    readers : sequence of str
        Readers to take (e.g. ``("R1", "R2")`` or ``("auto",)``).
    where : {"biopsied", "contralateral"}
        Which muscle.

    Returns
    -------
    pandas.DataFrame
        Index ``subject``; columns ``(measure, reader)`` — a two-level column index with
        measures :data:`MEASURES` — holding the ROI means.

    Raises
    ------
    ValueError
        If ``where`` is unknown, a reader has no rows, or a subject lacks a value.
    """
    if where not in ("biopsied", "contralateral"):
        raise ValueError(f"where must be 'biopsied' or 'contralateral', got {where!r}")
    rows = roi[roi[where].astype(bool) & roi["map"].isin(MEASURES)
               & roi["reader"].isin(readers)]
    missing = [r for r in readers if r not in set(rows["reader"])]
    if missing:
        raise ValueError(f"readers: no {where} rows for {missing} in the ROI table "
                         f"(readers present: {sorted(set(roi['reader']))})")
    wide = rows.pivot_table(index="subject", columns=["map", "reader"], values="mean")
    wide = wide.reindex(columns=pd.MultiIndex.from_product([MEASURES, list(readers)]))
    if wide.isna().any().any():
        gaps = wide.columns[wide.isna().any()].tolist()
        raise ValueError(f"roi: the {where} muscle has no value for {gaps} in some subjects")
    wide.columns.names = ["measure", "reader"]
    return wide


def reader_mean(measurements: pd.DataFrame) -> pd.DataFrame:
    """The readers' mean of each measure (what enters the correlations when they agree).

    Parameters
    ----------
    measurements : pandas.DataFrame
        :func:`biopsy_measurements`.

    Returns
    -------
    pandas.DataFrame
        Index ``subject``; one column per measure.
    """
    return measurements.T.groupby(level="measure").mean().T[list(MEASURES)]


def readers_present(roi: pd.DataFrame, wanted: Sequence[str] = ("R1", "R2")) -> tuple[str, ...]:
    """Which of ``wanted`` have biopsied-muscle rows in the ROI table.

    Parameters
    ----------
    roi : pandas.DataFrame
        The pipeline's tidy ROI table.
    wanted : sequence of str
        Readers asked for, in order.

    Returns
    -------
    tuple of str
        ``wanted`` if all of them are present, else ``()`` — the readers' analyses need
        both readers.

    Examples
    --------
    >>> readers_present(pd.DataFrame({"reader": ["auto", "R1"], "biopsied": [True, True]}))
    ()
    """
    have = set(roi.loc[roi["biopsied"].astype(bool), "reader"])
    return tuple(wanted) if set(wanted) <= have else ()
