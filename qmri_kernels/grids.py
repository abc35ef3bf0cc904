"""Voxel grids of axial slice stacks in world (RAS, mm) coordinates.

A :class:`Grid` is what a series' NIfTI header says: a shape and a voxel-to-world affine
(voxel centres, NIfTI RAS+ millimetres). The phantom is sampled on a grid; every series of
the protocol has its own grid over the same thigh, so later steps must match in world
coordinates, never by slice index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Grid", "axial_grid"]


@dataclass(frozen=True)
class Grid:
    """A 3-D voxel grid.

    Parameters
    ----------
    shape : (3,) tuple of int
        (nx, ny, nz).
    affine : (4, 4) ndarray
        Voxel index (i, j, k) → world RAS mm of the voxel centre.
    slice_thickness : float
        Slab thickness along k in mm (may be less than the slice spacing: a gap).
    """

    shape: tuple[int, int, int]
    affine: np.ndarray
    slice_thickness: float

    def __post_init__(self) -> None:
        aff = np.array(self.affine, dtype=float)
        if aff.shape != (4, 4):
            raise ValueError(f"affine must be (4, 4), got {aff.shape}")
        aff.setflags(write=False)
        object.__setattr__(self, "affine", aff)
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))

    @property
    def zooms(self) -> np.ndarray:
        """Voxel spacing along i, j, k in mm, shape (3,)."""
        return np.linalg.norm(self.affine[:3, :3], axis=0)

    def slice_world(self, k: int) -> np.ndarray:
        """World RAS coordinates (mm) of the voxel centres of slice ``k``.

        Parameters
        ----------
        k : int
            Slice index along the third axis; not range-checked (a ``k`` outside
            ``0..nz-1`` extrapolates the affine).

        Returns
        -------
        (nx, ny, 3) ndarray of float
            ``[i, j]`` holds the (x, y, z) position in mm of voxel ``(i, j, k)``.
        """
        nx, ny, _ = self.shape
        i, j = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
        ijk = np.stack([i, j, np.full_like(i, k)], axis=-1).astype(float)
        return ijk @ self.affine[:3, :3].T + self.affine[:3, 3]

    def slice_z(self) -> np.ndarray:
        """World z (mm, superior positive) of each slice centre.

        Returns
        -------
        (nz,) ndarray of float
            z of voxel ``(0, 0, k)``: ``affine[2, 2] * k + affine[2, 3]``. For an axial
            stack (no obliquity) this is the z of the whole slice.
        """
        k = np.arange(self.shape[2])
        return self.affine[2, 2] * k + self.affine[2, 3]


def axial_grid(matrix: tuple[int, int] = (256, 256), fov_mm: float = 420.0,
               slice_thickness: float = 6.0, gap: float = 3.0, n_slices: int = 18,
               z_centre: float = 0.0) -> Grid:
    """An axial slice stack as a scanner writes it.

    Index i runs towards the patient's left, j towards posterior and k towards superior —
    the NIfTI view of DICOM ImageOrientationPatient (1, 0, 0, 0, 1, 0) with slices sorted
    by increasing z.

    Parameters
    ----------
    matrix : (2,) tuple of int
        In-plane (nx, ny).
    fov_mm : float
        Square field of view in mm (42 cm in Wang 2023).
    slice_thickness, gap : float
        Slab thickness and gap between slabs, mm; slice spacing = thickness + gap.
    n_slices : int
        Number of slices.
    z_centre : float
        World z of the stack centre, mm.

    Returns
    -------
    Grid
        Shape ``(nx, ny, n_slices)``; voxel size ``fov_mm / nx`` × ``fov_mm / ny`` ×
        (thickness + gap) mm, with the in-plane centre on the isocentre and the stack
        centred on ``z_centre``.

    Raises
    ------
    ValueError
        If ``matrix`` has fewer than 2 voxels along an axis, ``n_slices`` < 1,
        ``slice_thickness`` or ``fov_mm`` is not positive, or ``gap`` is negative.
    """
    nx, ny = int(matrix[0]), int(matrix[1])
    if nx < 2 or ny < 2 or n_slices < 1:
        raise ValueError(f"matrix {matrix} and n_slices {n_slices} must be positive")
    if slice_thickness <= 0 or gap < 0 or fov_mm <= 0:
        raise ValueError("slice_thickness and fov_mm must be positive, gap non-negative")
    dx, dy = fov_mm / nx, fov_mm / ny
    dz = slice_thickness + gap
    aff = np.diag([-dx, -dy, dz, 1.0])
    # centre voxel (n-1)/2 sits on the isocentre in x, y and on z_centre in z
    aff[:3, 3] = [dx * (nx - 1) / 2, dy * (ny - 1) / 2, z_centre - dz * (n_slices - 1) / 2]
    return Grid((nx, ny, n_slices), aff, float(slice_thickness))
