"""In-plane erosion of label volumes, to keep fascia and partial-volume voxels out of ROIs.

Axial thigh series have thick slices with gaps (6 mm slices, 3–7 mm gaps in Wang 2023), so
erosion works slice by slice in the slice plane: a 3-D erosion would strip whole slices off the
ends of a muscle for no anatomical reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from scipy import ndimage

__all__ = ["erode_labels", "disk_footprint"]


def disk_footprint(radius_mm: float, spacing_mm: tuple[float, float]) -> np.ndarray:
    """In-plane disk of pixel offsets within ``radius_mm``, as a (a, b, 1) structuring element.

    Parameters
    ----------
    radius_mm : float
        Radius in mm (non-negative; a negative radius gives an empty footprint).
    spacing_mm : (2,) tuple of float
        Pixel spacing along the first two axes, mm.

    Returns
    -------
    (2 ra + 1, 2 rb + 1, 1) ndarray of bool
        ``True`` at offsets (a, b) with (a·dx)² + (b·dy)² ≤ radius², where
        ra = floor(radius / dx) and rb = floor(radius / dy); radius 0 gives the single
        centre pixel.

    Raises
    ------
    ValueError
        If a spacing is not positive.

    Examples
    --------
    >>> disk_footprint(1.0, (1.0, 1.0))[:, :, 0].astype(int)
    array([[0, 1, 0],
           [1, 1, 1],
           [0, 1, 0]])
    """
    dx, dy = (float(s) for s in spacing_mm)
    if not (dx > 0 and dy > 0):
        raise ValueError(f"spacing_mm must be positive, got {spacing_mm}")
    ra, rb = int(np.floor(radius_mm / dx + 1e-9)), int(np.floor(radius_mm / dy + 1e-9))
    a, b = np.meshgrid(np.arange(-ra, ra + 1), np.arange(-rb, rb + 1), indexing="ij")
    disk = (a * dx) ** 2 + (b * dy) ** 2 <= radius_mm ** 2 * (1 + 1e-9)
    return disk[:, :, None]


def erode_labels(labels: Any, radius_mm: float, spacing_mm: tuple[float, float], *,
                 labels_to_erode: Iterable[int] | None = None) -> np.ndarray:
    """Erode each label in-plane: keep voxels with no other label within ``radius_mm``.

    A voxel of label ``l`` survives when every voxel centre of its slice within
    ``radius_mm`` (in-plane Euclidean distance) also has label ``l`` (a binary erosion with
    a disk, done per label; outside the field of view counts as another label). Eroded voxels
    become background (0). Inputs are not modified.

    Parameters
    ----------
    labels : (nx, ny, nz) array-like of int
        Label volume; axis 2 is the slice axis.
    radius_mm : float
        Erosion radius in mm; 0 returns a copy. One pixel (``radius_mm`` = pixel size)
        removes the voxels that touch another label along a pixel edge.
    spacing_mm : (2,) tuple of float
        In-plane pixel spacing (mm) along axes 0 and 1.
    labels_to_erode : iterable of int, optional
        Labels to erode; default every non-zero label. Others are left as they are.

    Returns
    -------
    (nx, ny, nz) ndarray
        Same dtype as ``labels``.

    Raises
    ------
    ValueError
        If ``labels`` is not 3-D or ``radius_mm`` is negative or not finite.

    Examples
    --------
    >>> lab = np.zeros((6, 6, 1), int); lab[1:5, 1:5] = 7
    >>> int(erode_labels(lab, 1.0, (1.0, 1.0)).sum() // 7)   # 4x4 square -> 2x2
    4
    """
    lab = np.array(labels, copy=True)
    if lab.ndim != 3:
        raise ValueError(f"labels must be a 3-D volume (nx, ny, nz), got shape {lab.shape}")
    radius_mm = float(radius_mm)
    if not (np.isfinite(radius_mm) and radius_mm >= 0):
        raise ValueError(f"radius_mm must be finite and non-negative, got {radius_mm}")
    footprint = disk_footprint(radius_mm, spacing_mm)
    if footprint.size == 1:
        return lab
    todo = [v for v in np.unique(lab) if v != 0] if labels_to_erode is None else \
        [int(v) for v in labels_to_erode]
    out = lab.copy()
    for value in todo:
        mask = lab == value
        if not mask.any():
            continue
        kept = ndimage.binary_erosion(mask, structure=footprint, border_value=0)
        out[mask & ~kept] = 0
    return out
