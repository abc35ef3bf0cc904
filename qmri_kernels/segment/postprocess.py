"""Clean-up of a network segmentation: one connected piece per muscle, no holes.

A per-pixel classifier can leave stray islands of a muscle's class elsewhere in the slice and
small holes inside a muscle. Both are anatomically impossible for the thigh muscles at the
slice level (each muscle's cross-section is one simply connected region), so the islands are
removed and enclosed holes filled. Thick axial slices with gaps are treated one slice at a
time by default: connectivity across an 18 mm slice spacing says little about anatomy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from scipy import ndimage

from ..labels import muscle_labels

__all__ = ["keep_largest_component", "fill_holes", "postprocess", "MUSCLE_LABELS"]

#: Label indices of the side-specific muscles (the default labels to clean).
MUSCLE_LABELS: tuple[int, ...] = tuple(lab.index for lab in muscle_labels())


def _check(labels: Any) -> np.ndarray:
    lab = np.asarray(labels)
    if lab.ndim not in (2, 3):
        raise ValueError(f"labels must be 2-D or 3-D (nx, ny[, nz]), got shape {lab.shape}")
    if not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"labels must be an integer array, got dtype {lab.dtype}")
    return lab


def _slices(lab: np.ndarray, per_slice: bool):
    if lab.ndim == 2:
        yield (slice(None), slice(None))
    elif per_slice:
        for k in range(lab.shape[2]):
            yield (slice(None), slice(None), k)
    else:
        yield (slice(None),) * 3


def keep_largest_component(labels: Any, labels_to_process: Iterable[int] | None = None, *,
                           per_slice: bool = True) -> np.ndarray:
    """Keep only the largest connected component of each label; the rest becomes 0.

    Parameters
    ----------
    labels : (nx, ny) or (nx, ny, nz) ndarray of int
        Label image (axis 2 is the slice axis).
    labels_to_process : iterable of int, optional
        Labels to clean (default :data:`MUSCLE_LABELS`; the bilateral non-muscle labels such
        as subcutaneous fat legitimately have one piece per leg).
    per_slice : bool
        Components within each slice (face connectivity in-plane) rather than in 3-D.

    Returns
    -------
    ndarray
        A new array, same dtype; removed voxels are background (0). Ties between equally
        large components keep the one found first in array order.

    Examples
    --------
    >>> lab = np.zeros((6, 6), np.int16); lab[0:3, 0:3] = 11; lab[5, 5] = 11
    >>> int((keep_largest_component(lab) == 11).sum())
    9
    """
    lab = _check(labels)
    out = lab.copy()
    todo = MUSCLE_LABELS if labels_to_process is None else tuple(int(v) for v in
                                                                 labels_to_process)
    for sl in _slices(lab, per_slice):
        plane = lab[sl]
        for value in todo:
            mask = plane == value
            if not mask.any():
                continue
            comp, n = ndimage.label(mask)
            if n <= 1:
                continue
            sizes = np.bincount(comp.ravel())[1:]
            keep = int(np.argmax(sizes)) + 1
            view = out[sl]
            view[mask & (comp != keep)] = 0
    return out


def fill_holes(labels: Any, labels_to_fill: Iterable[int] | None = None, *,
               per_slice: bool = True) -> np.ndarray:
    """Fill background holes enclosed by a single label with that label.

    A hole is a connected region not belonging to the label but fully enclosed by it
    (:func:`scipy.ndimage.binary_fill_holes`). Only holes made entirely of background (0)
    are filled: a hole holding another structure (the femur inside a muscle ring, another
    muscle) is anatomy, not an error, and is left alone.

    Parameters
    ----------
    labels : (nx, ny) or (nx, ny, nz) ndarray of int
        Label image (axis 2 is the slice axis).
    labels_to_fill : iterable of int, optional
        Labels whose holes are filled (default :data:`MUSCLE_LABELS`).
    per_slice : bool
        Holes within each slice rather than in 3-D.

    Returns
    -------
    ndarray
        A new array, same dtype.

    Examples
    --------
    >>> lab = np.full((5, 5), 11, np.int16); lab[2, 2] = 0
    >>> int(fill_holes(lab)[2, 2])
    11
    """
    lab = _check(labels)
    out = lab.copy()
    todo = MUSCLE_LABELS if labels_to_fill is None else tuple(int(v) for v in labels_to_fill)
    for sl in _slices(lab, per_slice):
        for value in todo:
            plane = out[sl]
            mask = plane == value
            if not mask.any():
                continue
            holes = ndimage.binary_fill_holes(mask) & ~mask
            if not holes.any():
                continue
            comp, n = ndimage.label(holes)
            # a hole component is filled only if all its voxels are background
            nonzero = ndimage.sum_labels(plane != 0, comp, index=np.arange(1, n + 1))
            fill = np.flatnonzero(nonzero == 0) + 1
            plane[np.isin(comp, fill)] = value
    return out


def postprocess(labels: Any, labels_to_process: Iterable[int] | None = None, *,
                per_slice: bool = True) -> np.ndarray:
    """:func:`keep_largest_component` then :func:`fill_holes` (islands removed become holes
    that are filled when enclosed by one muscle).

    Parameters
    ----------
    labels : (nx, ny) or (nx, ny, nz) ndarray of int
        Label image (axis 2 is the slice axis), :mod:`qmri_kernels.labels` indices.
    labels_to_process : iterable of int, optional
        Labels to clean and fill (default :data:`MUSCLE_LABELS`).
    per_slice : bool
        Work within each slice rather than in 3-D.

    Returns
    -------
    ndarray
        A new array, same shape and dtype; the input is not modified.

    Raises
    ------
    ValueError
        If ``labels`` is not 2-D or 3-D or not an integer array.

    Examples
    --------
    >>> lab = np.full((5, 5), 11, np.int16); lab[2, 2] = 0; lab[0, 0] = 12
    >>> out = postprocess(lab, [11, 12])
    >>> int(out[2, 2]), int(out[0, 0])
    (11, 12)
    """
    todo = None if labels_to_process is None else tuple(labels_to_process)
    return fill_holes(keep_largest_component(labels, todo, per_slice=per_slice), todo,
                      per_slice=per_slice)
