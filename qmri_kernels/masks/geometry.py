"""Voxel grids of label volumes and maps, and the check that two of them are the same grid.

A mask is only meaningful on the grid it was made on. Every function of
:mod:`qmri_kernels.masks` that combines a label volume with a map first checks that both
have the same shape and the same voxel-to-world affine, and raises
:class:`GridMismatchError` naming both otherwise — a mask from the T2-weighted series applied
to the PDFF map by slice index is the error this guards against.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..grids import Grid

__all__ = ["GridMismatchError", "AFFINE_TOLERANCE_MM", "check_same_grid", "grid_from_image",
           "as_grid"]

#: Largest difference (mm) between two affines' entries that still counts as the same grid.
AFFINE_TOLERANCE_MM: float = 1e-3


class GridMismatchError(ValueError):
    """A label volume and a map (or two volumes) that are not on the same voxel grid."""


def _format_affine(affine: np.ndarray) -> str:
    rows = ("[" + ", ".join(f"{v:.4g}" for v in row) + "]" for row in np.asarray(affine)[:3])
    return "[" + ", ".join(rows) + "]"


def check_same_grid(shape_a: tuple[int, ...], affine_a: Any, shape_b: tuple[int, ...],
                    affine_b: Any, *, name_a: str = "labels", name_b: str = "map",
                    atol: float = AFFINE_TOLERANCE_MM) -> None:
    """Raise unless two volumes share one voxel grid (shape and affine).

    Parameters
    ----------
    shape_a, shape_b : tuple of int
        Spatial shapes (the first three axes are compared; trailing axes such as echoes are
        ignored).
    affine_a, affine_b : (4, 4) array-like
        Voxel-to-world (RAS mm) affines.
    name_a, name_b : str
        What the two volumes are, for the message (e.g. ``"labels"``, ``"map 'pdff'"``).
    atol : float
        Tolerance in mm on every affine entry.

    Raises
    ------
    GridMismatchError
        Naming both volumes with their shapes and affines.
    ValueError
        If an affine is not (4, 4).
    """
    aff_a = _as_affine(affine_a, name_a)
    aff_b = _as_affine(affine_b, name_b)
    sa, sb = tuple(int(s) for s in shape_a[:3]), tuple(int(s) for s in shape_b[:3])
    if sa != sb:
        raise GridMismatchError(
            f"{name_a} has shape {sa} but {name_b} has shape {sb}: they are not on the same "
            f"grid ({name_a} affine {_format_affine(aff_a)}, {name_b} affine "
            f"{_format_affine(aff_b)}); resample the labels onto the map's grid with "
            "qmri_kernels.masks.transfer_labels")
    if not np.allclose(aff_a, aff_b, rtol=0.0, atol=atol):
        raise GridMismatchError(
            f"{name_a} and {name_b} both have shape {sa} but different affines: {name_a} "
            f"{_format_affine(aff_a)} vs {name_b} {_format_affine(aff_b)} (tolerance {atol} "
            "mm); they sample different positions — resample the labels onto the map's grid "
            "with qmri_kernels.masks.transfer_labels")


def _as_affine(affine: Any, name: str) -> np.ndarray:
    aff = np.asarray(affine, dtype=float)
    if aff.shape != (4, 4):
        raise ValueError(f"affine of {name} must be (4, 4), got shape {aff.shape}")
    if not np.all(np.isfinite(aff)):
        raise ValueError(f"affine of {name} has non-finite entries")
    return aff


def grid_from_image(image: Any, slice_thickness: float | None = None) -> Grid:
    """The :class:`~qmri_kernels.grids.Grid` of a NIfTI image.

    Parameters
    ----------
    image : nibabel.spatialimages.SpatialImage
        Anything with ``.shape`` and ``.affine`` (a 3-D or 4-D image).
    slice_thickness : float, optional
        Slab thickness in mm (the DICOM ``SliceThickness``, in the JSON sidecar). NIfTI
        headers only store the slice *spacing*; when omitted the slices are taken as
        contiguous (thickness = spacing along the third axis).

    Returns
    -------
    Grid
        Shape ``image.shape[:3]`` (nx, ny, nz), the image's affine (voxel centre → RAS
        mm) and the slab thickness in mm.

    Raises
    ------
    ValueError
        If the image has fewer than 3 dimensions, its affine is not a finite (4, 4)
        array, or ``slice_thickness`` is not positive.
    """
    shape = tuple(int(s) for s in image.shape[:3])
    if len(shape) != 3:
        raise ValueError(f"image must be at least 3-D, got shape {image.shape}")
    affine = _as_affine(image.affine, "image")
    spacing = float(np.linalg.norm(affine[:3, 2]))
    thickness = spacing if slice_thickness is None else float(slice_thickness)
    if not thickness > 0:
        raise ValueError(f"slice_thickness must be positive, got {slice_thickness}")
    return Grid(shape, affine, thickness)


def as_grid(grid: Any, name: str) -> Grid:
    """Accept a :class:`Grid` or an image with ``.shape``/``.affine``; else a clear error.

    Parameters
    ----------
    grid : Grid or image
        A :class:`~qmri_kernels.grids.Grid` (returned as is) or anything with ``.shape``
        and ``.affine`` (converted by :func:`grid_from_image`, slices taken as
        contiguous).
    name : str
        What the argument is called by the caller (``"source"``, ``"target"``), used in
        the error message.

    Returns
    -------
    Grid
        The grid of ``grid``.

    Raises
    ------
    TypeError
        If ``grid`` is neither a Grid nor has ``.shape`` and ``.affine``.
    ValueError
        As :func:`grid_from_image` for an image with a bad shape or affine.
    """
    if isinstance(grid, Grid):
        return grid
    if hasattr(grid, "affine") and hasattr(grid, "shape"):
        return grid_from_image(grid)
    raise TypeError(f"{name} must be a qmri_kernels.grids.Grid or an image with "
                    f".shape and .affine, got {type(grid).__name__}")
