"""The thigh label table: index, name, abbreviation, side and display colour.

The table follows the BIDS ``dseg.tsv`` convention (columns ``index``, ``name``,
``abbreviation``, ``color``) so that other tools read the label volumes. Muscles carry one
label per side: right muscles are 11–21, left muscles 31–41, in the order of
:data:`MUSCLES`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Label", "MUSCLES", "MUSCLE_NAMES", "SIDES", "LABELS", "label_index",
           "label_by_index", "muscle_labels", "write_dseg_tsv"]


@dataclass(frozen=True)
class Label:
    """One row of the label table."""

    index: int
    name: str
    abbreviation: str
    side: str | None
    color: str


#: Muscle abbreviations in label order.
MUSCLES: tuple[str, ...] = ("RF", "VL", "VI", "VM", "SAR", "GRA", "AL", "AM", "BF", "ST", "SM")
#: Full names of :data:`MUSCLES`.
MUSCLE_NAMES: dict[str, str] = {
    "RF": "rectus femoris", "VL": "vastus lateralis", "VI": "vastus intermedius",
    "VM": "vastus medialis", "SAR": "sartorius", "GRA": "gracilis",
    "AL": "adductor longus", "AM": "adductor magnus", "BF": "biceps femoris",
    "ST": "semitendinosus", "SM": "semimembranosus",
}
SIDES: tuple[str, str] = ("right", "left")
_SIDE_OFFSET = {"right": 10, "left": 30}
_MUSCLE_COLORS = ("#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4",
                  "#42d4f4", "#f032e6", "#bfef45", "#469990", "#9a6324")


def _build() -> tuple[Label, ...]:
    rows = [
        Label(1, "subcutaneous fat and skin", "SCF", None, "#fde5a6"),
        Label(2, "femoral cortex", "COR", None, "#ffffff"),
        Label(3, "femoral marrow", "MAR", None, "#c8a165"),
        Label(4, "intermuscular fat and fascia", "IMF", None, "#f4d03f"),
    ]
    for side in SIDES:
        for m, (abbr, color) in enumerate(zip(MUSCLES, _MUSCLE_COLORS), start=1):
            rows.append(Label(_SIDE_OFFSET[side] + m, f"{side} {MUSCLE_NAMES[abbr]}",
                              f"{abbr}_{side[0].upper()}", side, color))
    return tuple(rows)


#: All labels except background (0).
LABELS: tuple[Label, ...] = _build()


def label_index(muscle: str, side: str) -> int:
    """Label index of ``muscle`` (abbreviation, e.g. ``"RF"``) on ``side`` ("left"/"right").

    Parameters
    ----------
    muscle : str
        Abbreviation from :data:`MUSCLES` (``"RF"``, ``"VL"`` ... ``"SM"``), case-sensitive.
    side : {"right", "left"}
        The patient's side.

    Returns
    -------
    int
        11–21 for right muscles, 31–41 for left ones, in the order of :data:`MUSCLES`.

    Raises
    ------
    ValueError
        If the muscle or the side is unknown.

    Examples
    --------
    >>> label_index("RF", "right"), label_index("SM", "left")
    (11, 41)
    """
    if muscle not in MUSCLES:
        raise ValueError(f"unknown muscle {muscle!r}; expected one of {', '.join(MUSCLES)}")
    if side not in _SIDE_OFFSET:
        raise ValueError(f"unknown side {side!r}; expected 'left' or 'right'")
    return _SIDE_OFFSET[side] + MUSCLES.index(muscle) + 1


def label_by_index(index: int) -> Label:
    """The :class:`Label` with ``index``.

    Parameters
    ----------
    index : int
        Label value in a ``dseg`` volume (1–4 tissues, 11–21 right and 31–41 left muscles;
        0, background, has no row).

    Returns
    -------
    Label
        The row of :data:`LABELS`.

    Raises
    ------
    KeyError
        If no label has this index (background 0 included).

    Examples
    --------
    >>> label_by_index(31).abbreviation
    'RF_L'
    """
    for lab in LABELS:
        if lab.index == index:
            return lab
    raise KeyError(f"no label with index {index}")


def muscle_labels(side: str | None = None) -> tuple[Label, ...]:
    """Muscle labels, of one side or both.

    Parameters
    ----------
    side : {None, "right", "left"}
        None: both sides (right first). Any other string gives an empty tuple.

    Returns
    -------
    tuple of Label
        The muscle rows of :data:`LABELS` (tissue labels 1–4 excluded), in label order:
        11 per side.

    Examples
    --------
    >>> [lab.index for lab in muscle_labels("left")][:3]
    [31, 32, 33]
    """
    return tuple(lab for lab in LABELS if lab.side is not None and (side is None or lab.side == side))


def write_dseg_tsv(path: str | Path) -> Path:
    """Write the label table as a BIDS ``dseg.tsv`` (index, name, abbreviation, color).

    Parameters
    ----------
    path : str or Path
        Output file, overwritten if present; its folder must exist.

    Returns
    -------
    Path
        ``path``. The file is tab-separated, one header row then one row per entry of
        :data:`LABELS` (background 0 is not listed), colours as ``#rrggbb``.

    Raises
    ------
    OSError
        If the file cannot be written (e.g. the folder does not exist).
    """
    path = Path(path)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(["index", "name", "abbreviation", "color"])
        for lab in LABELS:
            w.writerow([lab.index, lab.name, lab.abbreviation, lab.color])
    return path
