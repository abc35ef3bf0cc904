"""ROI statistics of quantitative maps inside muscle labels, as a tidy table.

One row per subject × reader × muscle × side × map, with the mean, median, standard deviation
and voxel count of the map inside the muscle's label (DESIGN.md §4: tidy CSV that pandas,
seaborn and pingouin read directly). The library's maps are in SI units (PDFF as a fraction,
T2 in s); the table converts them to the units the paper reports and names the unit in the
``map`` value (``ff_percent``, ``water_t2_ms``). The biopsied muscle (Wang 2023: the whole
biopsied rectus femoris or vastus lateralis) and its contralateral twin are flagged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..labels import MUSCLES, SIDES, label_index
from .geometry import check_same_grid

__all__ = ["MAP_UNITS", "ROI_COLUMNS", "roi_statistics", "write_roi_table"]

#: Library map name -> (table name with unit, factor from SI to that unit).
MAP_UNITS: dict[str, tuple[str, float]] = {
    "pdff": ("ff_percent", 100.0),
    "epg_fat_fraction": ("epg_ff_percent", 100.0),
    "water_t2": ("water_t2_ms", 1000.0),
    "t2": ("t2_ms", 1000.0),
    "r2star": ("r2star_per_s", 1.0),
    "fieldmap": ("b0_hz", 1.0),
    "b1": ("b1_ratio", 1.0),
}

#: Columns of the table returned by :func:`roi_statistics`, in order.
ROI_COLUMNS: tuple[str, ...] = ("subject", "reader", "muscle", "side", "label", "map", "mean",
                                "median", "sd", "n_voxels", "biopsied", "contralateral")


def roi_statistics(labels: Any, maps: Mapping[str, Any], *, subject: Any, reader: str,
                   biopsy_muscle: str | None = None, biopsy_side: str | None = None,
                   units: Mapping[str, tuple[str, float]] | None = None,
                   muscles: Iterable[str] = MUSCLES) -> pd.DataFrame:
    """Mean, median, SD and voxel count of each map inside each muscle label.

    Parameters
    ----------
    labels : image or (array, affine)
        The label volume on the maps' grid: a nibabel image, or a pair of an (nx, ny, nz)
        integer array and its (4, 4) affine.
    maps : mapping of str to image or (array, affine)
        Quantitative maps in SI units keyed by library name (``"pdff"``, ``"water_t2"``, ...;
        see :data:`MAP_UNITS` or pass ``units``). Each must be on the labels' grid. NaN voxels
        (outside a fit mask, failed fits) are left out of the statistics and the count.
    subject : str or qmri_kernels.manifest.SubjectEntry
        Subject label (``"01"``); a manifest entry also supplies the biopsy site.
    reader : str
        Who made the mask (``"R1"``, ``"R2"``, ``"network"``).
    biopsy_muscle, biopsy_side : str, optional
        Biopsied muscle (abbreviation in :data:`~qmri_kernels.labels.MUSCLES`) and
        side; taken from ``subject`` when it is a manifest entry.
    units : mapping of str to (str, float), optional
        Extra or overriding entries of :data:`MAP_UNITS`.
    muscles : iterable of str
        Muscles to report (default: all eleven, both sides).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ROI_COLUMNS`: ``mean``, ``median``, ``sd`` (sample SD, ddof=1) in the
        unit named by ``map``; ``n_voxels`` (finite voxels used); ``label`` the label index;
        ``biopsied`` / ``contralateral`` booleans. Every muscle × side × map has a row; an
        empty ROI has ``n_voxels`` 0 and NaN statistics.

    Raises
    ------
    GridMismatchError
        If a map's shape or affine differs from the labels' (named, with both).
    ValueError
        If a map name has no unit, labels are not integers, or the biopsy site is invalid.
    TypeError
        If a volume is given without its affine.
    """
    biopsy_muscle, biopsy_side, subject_id = _biopsy(subject, biopsy_muscle, biopsy_side)
    table_units = dict(MAP_UNITS)
    table_units.update(units or {})
    lab, lab_aff = _volume(labels, "labels")
    if not (np.issubdtype(lab.dtype, np.integer)
            or (np.all(np.isfinite(lab)) and np.all(lab == np.rint(lab)))):
        raise ValueError("labels must hold integer label indices")
    lab = lab.astype(np.int64)
    muscles = tuple(muscles)
    for m in muscles:
        if m not in MUSCLES:
            raise ValueError(f"unknown muscle {m!r} in muscles; expected from {MUSCLES}")
    rows = []
    for name, vol in maps.items():
        if name not in table_units:
            raise ValueError(f"map {name!r} has no unit: use one of {sorted(table_units)} or "
                             "pass units={name: (column_name_with_unit, factor_from_SI)}")
        data, aff = _volume(vol, f"map {name!r}")
        check_same_grid(lab.shape, lab_aff, data.shape, aff, name_a="labels",
                        name_b=f"map {name!r}")
        if data.ndim != 3:
            raise ValueError(f"map {name!r} must be 3-D, got shape {data.shape}")
        table_name, factor = table_units[name]
        finite = np.isfinite(data)
        for side in SIDES:
            for muscle in muscles:
                idx = label_index(muscle, side)
                values = data[(lab == idx) & finite].astype(float) * factor
                n = values.size
                rows.append({
                    "subject": subject_id, "reader": reader, "muscle": muscle, "side": side,
                    "label": idx, "map": table_name,
                    "mean": float(values.mean()) if n else np.nan,
                    "median": float(np.median(values)) if n else np.nan,
                    "sd": float(values.std(ddof=1)) if n > 1 else np.nan,
                    "n_voxels": int(n),
                    "biopsied": muscle == biopsy_muscle and side == biopsy_side,
                    "contralateral": muscle == biopsy_muscle and biopsy_side is not None
                    and side != biopsy_side,
                })
    return pd.DataFrame(rows, columns=list(ROI_COLUMNS))


def write_roi_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write an ROI table (one or many subjects) as tidy CSV; returns the path.

    Parameters
    ----------
    table : pandas.DataFrame
        As :func:`roi_statistics` returns (or several concatenated): at least the
        columns of :data:`ROI_COLUMNS`, units in the ``map`` names; all columns are
        written, in the table's order, floats with 6 significant digits.
    path : str or Path
        Output CSV (overwritten); missing parent folders are created.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If ``table`` lacks a column of :data:`ROI_COLUMNS`.
    """
    missing = [c for c in ROI_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"table is missing ROI columns {missing}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, float_format="%.6g")
    return path


def _biopsy(subject: Any, muscle: str | None, side: str | None) -> tuple:
    if hasattr(subject, "biopsy_muscle") and hasattr(subject, "id"):
        muscle = subject.biopsy_muscle if muscle is None else muscle
        side = subject.biopsy_side if side is None else side
        subject = subject.id
    if not isinstance(subject, str) or not subject:
        raise TypeError(f"subject must be a non-empty str or a manifest SubjectEntry, got "
                        f"{subject!r}")
    if (muscle is None) != (side is None):
        raise ValueError("give both biopsy_muscle and biopsy_side, or neither")
    if muscle is not None:
        label_index(muscle, side)  # raises ValueError naming the bad muscle or side
    return muscle, side, subject


def _volume(vol: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(vol, "affine") and hasattr(vol, "get_fdata"):
        data = np.asanyarray(vol.dataobj)
        return np.asarray(data), np.asarray(vol.affine, dtype=float)
    if isinstance(vol, tuple) and len(vol) == 2:
        return np.asarray(vol[0]), np.asarray(vol[1], dtype=float)
    raise TypeError(f"{name} must be a nibabel image or an (array, affine) pair: the grid is "
                    "checked through the affine, never assumed")
