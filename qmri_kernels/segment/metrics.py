"""Overlap between a segmentation and a reference."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["dice", "dice_per_label"]


def dice(a: Any, b: Any) -> float:
    """Dice coefficient 2|A∩B| / (|A| + |B|) of two boolean masks (Dice 1945, Ecology 26:297).

    Parameters
    ----------
    a, b : array-like, same shape
        Masks, any shape; converted with ``astype(bool)`` (non-zero is inside).

    Returns
    -------
    float
        In [0, 1] (fraction; 1 = identical); NaN when both masks are empty (undefined,
        not perfect).

    Raises
    ------
    ValueError
        If the shapes differ.
    """
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"masks have different shapes {a.shape} and {b.shape}")
    total = int(a.sum()) + int(b.sum())
    return float("nan") if total == 0 else 2.0 * int((a & b).sum()) / total


def dice_per_label(pred: Any, truth: Any, labels: Iterable[int]) -> dict[int, float]:
    """Dice of each label between two label volumes of the same grid.

    Parameters
    ----------
    pred, truth : ndarray of int, same shape
        Label volumes (e.g. (nx, ny, nz) of :mod:`qmri_kernels.labels` indices) on the
        same grid.
    labels : iterable of int
        Label values to score.

    Returns
    -------
    dict of int to float
        label → Dice in [0, 1] (NaN if the label is in neither volume).

    Raises
    ------
    ValueError
        If the shapes differ.
    """
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape:
        raise ValueError(f"pred has shape {pred.shape} but truth has shape {truth.shape}")
    return {int(v): dice(pred == v, truth == v) for v in labels}
