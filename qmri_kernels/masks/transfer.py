"""Carry a label volume from one series' grid onto another's, in world coordinates.

The muscles are segmented on the axial T2-weighted series (8 mm slabs, 10 mm gaps, Wang 2023)
and measured on the PDFF (6 mm / 3 mm gap) and T2 (6 mm / 7 mm gap) maps, whose slices lie
elsewhere along the thigh. Slice ``k`` of one series is not slice ``k`` of another; the
labels are therefore carried over through the affines: every target voxel centre is mapped to
world (RAS mm) and from there into the source stack's continuous voxel coordinates.

What "covered" means
--------------------
A target voxel is *covered* when its centre lies within the source stack's acquired extent:
in-plane inside the source field of view, and through-plane between the outer faces of the
first and last source slabs (centre ± half the slab thickness). Voxels outside are not
extrapolated: their label is 0 and :attr:`LabelTransfer.covered` is ``False``; target slices
with no covered voxel are listed in :attr:`LabelTransfer.excluded_slices` and in
:meth:`LabelTransfer.slice_table`. Inside the extent, target slices that fall into a gap between
two source slabs are covered: the gap (10 mm for the T2-weighted series) is shorter than the
distance over which thigh muscle cross-sections change appreciably, and the labels there are
interpolated from the two neighbouring slabs (below) rather than copied from the nearer one.

Interpolation
-------------
``method="shape"`` (default) is shape-based interpolation (Raya & Udupa 1990; Herman et al.
1992): each label's segmentation on each source slice is turned into an in-plane signed
distance map in mm (negative inside, positive outside); the maps are interpolated linearly
in-plane and between slab centres (each slab's segmentation is taken as the cross-section at
its centre plane; beyond the outermost centres, up to the slab faces, the outermost slab is
used unchanged), and each target voxel takes the label with the smallest negative
interpolated distance — the label it lies deepest inside — or background (0) if it lies
inside none. A label present on one slab and absent on the next tapers linearly to a point
at the empty slab's centre. A muscle boundary thus moves smoothly between two slabs instead
of jumping halfway. Structures thinner than the distance they move between two slabs (the
intermuscular fat, about a pixel wide) cannot be interpolated this way and close up in the
gaps; :func:`~qmri_kernels.masks.erode_labels` (``erode_mm``) keeps such border voxels out of
an ROI. ``method="nearest"`` takes the label of the nearest source voxel (nearest slab
through-plane); it is exact only when target slices coincide with source slices and is kept
for comparison.

References
----------
Raya SP, Udupa JK (1990). Shape-based interpolation of multidimensional objects. IEEE Trans
Med Imaging 9(1):32–42. doi:10.1109/42.52980

Herman GT, Zheng J, Bucholtz CA (1992). Shape-based interpolation. IEEE Comput Graph Appl
12(3):69–79. doi:10.1109/38.135915
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage

from ..grids import Grid
from .erosion import erode_labels
from .geometry import as_grid

__all__ = ["LabelTransfer", "transfer_labels", "METHODS", "signed_distance_2d"]

#: Interpolation methods of :func:`transfer_labels`.
METHODS: tuple[str, ...] = ("shape", "nearest")
_EPS = 1e-6


@dataclass(frozen=True)
class LabelTransfer:
    """Labels carried onto a target grid, with what the source covered.

    Attributes
    ----------
    labels : (nx, ny, nz) ndarray of int16
        Labels on the target grid; 0 (background) where not covered.
    covered : (nx, ny, nz) ndarray of bool
        Target voxels whose centre lies inside the source stack's acquired extent.
    grid : Grid
        The target grid.
    source_grid : Grid
        The grid the labels came from.
    method : str
        ``"shape"`` or ``"nearest"``.
    erode_mm : float
        In-plane erosion radius applied after the transfer (0: none).
    """

    labels: np.ndarray
    covered: np.ndarray
    grid: Grid
    source_grid: Grid
    method: str
    erode_mm: float

    @property
    def excluded_slices(self) -> tuple[int, ...]:
        """Target slice indices with no covered voxel (no labels there: not extrapolated)."""
        return tuple(int(k) for k in np.flatnonzero(~self.covered.any(axis=(0, 1))))

    @property
    def covered_slices(self) -> tuple[int, ...]:
        """Target slice indices with at least one covered voxel."""
        return tuple(int(k) for k in np.flatnonzero(self.covered.any(axis=(0, 1))))

    def slice_table(self) -> pd.DataFrame:
        """One row per target slice: where it lies relative to the source slabs.

        Columns: ``slice`` (target index k), ``z_mm`` (world z of the slice centre),
        ``source_position`` (continuous source slice index of the slice centre),
        ``nearest_source_slice``, ``distance_to_source_slab_mm`` (0 inside a slab, else the
        distance to the nearest slab face), ``covered_fraction`` (of the slice's voxels) and
        ``status`` (``"in slab"``, ``"in gap"`` or ``"excluded"``).

        Returns
        -------
        pandas.DataFrame
            ``nz`` rows (target slices) with the columns above; positions are taken at
            the in-plane centre of each target slice, distances in mm.
        """
        src = self.source_grid
        nx, ny, nz = self.grid.shape
        centre = np.array([(nx - 1) / 2, (ny - 1) / 2])
        ks = np.arange(nz)
        ijk = np.column_stack([np.full(nz, centre[0]), np.full(nz, centre[1]), ks])
        world = ijk @ self.grid.affine[:3, :3].T + self.grid.affine[:3, 3]
        w = _world_to_voxel(world, src.affine)[:, 2]
        spacing = _slice_spacing(src.affine)
        nearest = np.clip(np.rint(w), 0, src.shape[2] - 1).astype(int)
        dist = np.maximum(np.abs(w - nearest) * spacing - src.slice_thickness / 2, 0.0)
        frac = self.covered.mean(axis=(0, 1))
        status = np.where(frac == 0, "excluded", np.where(dist > _EPS, "in gap", "in slab"))
        return pd.DataFrame({"slice": ks, "z_mm": world[:, 2], "source_position": w,
                             "nearest_source_slice": nearest,
                             "distance_to_source_slab_mm": dist, "covered_fraction": frac,
                             "status": status})

    def summary(self) -> str:
        """One line for logs and notebooks.

        Returns
        -------
        str
            How many target slices are covered, the method (and erosion, mm), and the
            indices of the excluded slices, e.g. ``"16 of 18 target slices covered by
            the source stack (shape interpolation); excluded (outside the source
            extent): [0, 17]"``.
        """
        ex = self.excluded_slices
        return (f"{len(self.covered_slices)} of {self.grid.shape[2]} target slices covered "
                f"by the source stack ({self.method} interpolation"
                + (f", eroded {self.erode_mm:g} mm" if self.erode_mm else "") + "); "
                + (f"excluded (outside the source extent): {list(ex)}" if ex
                   else "none excluded"))


def transfer_labels(labels: Any, source: Grid | Any, target: Grid | Any, *,
                    method: str = "shape", erode_mm: float = 0.0) -> LabelTransfer:
    """Resample a label volume from ``source`` onto ``target`` through world coordinates.

    Parameters
    ----------
    labels : (nx, ny, nz) array-like of int
        Label volume on the source grid (e.g. the segmentation of the T2-weighted series),
        non-negative integers (float arrays holding integers, as NIfTI readers return, are
        accepted).
    source, target : Grid or image
        Source and target grids (shape, affine, slice thickness). A nibabel image is accepted
        and treated as contiguous slices (its thickness is unknown to NIfTI); pass a
        :class:`~qmri_kernels.grids.Grid` built with the DICOM ``SliceThickness`` for
        the source so that the covered extent is right.
    method : {"shape", "nearest"}
        Shape-based (signed-distance) interpolation, or nearest source voxel. See the module
        docstring.
    erode_mm : float
        If positive, erode every non-background label in-plane on the target grid by this
        radius (mm) after the transfer (:func:`~qmri_kernels.masks.erode_labels`), keeping
        fascia and partial-volume voxels at muscle borders out of the ROI.

    Returns
    -------
    LabelTransfer
        ``labels`` (int16) and ``covered`` on the target grid, with the excluded slices.

    Raises
    ------
    ValueError
        If ``labels`` does not have the source grid's shape, holds negative or non-integer
        values, ``method`` is unknown, ``erode_mm`` is negative, or the source grid is not a
        stack of parallel slices (slice axis not perpendicular to the slice plane).

    Examples
    --------
    >>> from qmri_kernels.grids import axial_grid
    >>> src = axial_grid((32, 32), 64.0, slice_thickness=8.0, gap=10.0, n_slices=3)
    >>> dst = axial_grid((32, 32), 64.0, slice_thickness=6.0, gap=3.0, n_slices=8)
    >>> out = transfer_labels(np.ones(src.shape, int), src, dst)
    >>> out.excluded_slices  # |z| = 22.5, 31.5 mm: beyond the outer slab faces at ±22 mm
    (0, 1, 6, 7)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    erode_mm = float(erode_mm)
    if not erode_mm >= 0:
        raise ValueError(f"erode_mm must be non-negative, got {erode_mm}")
    src = as_grid(source, "source")
    dst = as_grid(target, "target")
    lab = _as_label_array(labels, src.shape)
    spacing = _slice_spacing(src.affine)
    half = src.slice_thickness / (2.0 * spacing)  # half slab in source slice-index units
    nx, ny, nz = src.shape

    # target voxel centres -> source continuous voxel coordinates, shape (mx, my, mz, 3)
    m = np.linalg.inv(src.affine) @ dst.affine
    ijk = np.stack(np.meshgrid(*(np.arange(s, dtype=float) for s in dst.shape),
                               indexing="ij"), axis=-1)
    uvw = ijk @ m[:3, :3].T + m[:3, 3]
    covered = ((uvw[..., 0] >= -0.5 - _EPS) & (uvw[..., 0] <= nx - 0.5 + _EPS)
               & (uvw[..., 1] >= -0.5 - _EPS) & (uvw[..., 1] <= ny - 0.5 + _EPS)
               & (uvw[..., 2] >= -half - _EPS) & (uvw[..., 2] <= nz - 1 + half + _EPS))
    pts = uvw[covered]
    del uvw, ijk
    pts[:, 2] = np.clip(pts[:, 2], 0.0, nz - 1)  # outer half slabs: the outermost slab

    if method == "nearest":
        idx = np.rint(pts).astype(np.intp)
        idx[:, 0] = np.clip(idx[:, 0], 0, nx - 1)
        idx[:, 1] = np.clip(idx[:, 1], 0, ny - 1)
        values = lab[idx[:, 0], idx[:, 1], idx[:, 2]]
    else:
        values = _shape_based(lab, pts, src.zooms[:2])
    out = np.zeros(dst.shape, dtype=np.int16)
    out[covered] = values

    if erode_mm > 0:
        out = erode_labels(out, erode_mm, dst.zooms[:2])
    out[~covered] = 0
    return LabelTransfer(labels=out, covered=covered, grid=dst, source_grid=src,
                         method=method, erode_mm=erode_mm)


def signed_distance_2d(mask: np.ndarray, spacing: tuple[float, float],
                       absent: float) -> np.ndarray:
    """In-plane signed distance (mm) of a 2-D mask: negative inside, positive outside.

    Inside voxels get minus the distance to the nearest outside voxel centre, outside voxels
    the distance to the nearest inside voxel centre, so under linear interpolation the zero
    level lies halfway between an inside and an outside voxel centre.

    Parameters
    ----------
    mask : (nx, ny) ndarray of bool
        One label of one slice.
    spacing : (2,) tuple of float
        Pixel spacing in mm.
    absent : float
        Value returned everywhere when ``mask`` is empty (a large positive distance, mm).

    Returns
    -------
    (nx, ny) ndarray of float32
        Signed distance in mm (negative inside ``mask``); ``absent`` everywhere for an
        empty mask.
    """
    if not mask.any():
        return np.full(mask.shape, absent, dtype=np.float32)
    if mask.all():  # no boundary in the plane: the field of view's edge is the boundary
        mask = np.pad(mask, 1, constant_values=False)
        d_in = ndimage.distance_transform_edt(mask, sampling=spacing)[1:-1, 1:-1]
        return (-d_in).astype(np.float32)
    d_out = ndimage.distance_transform_edt(~mask, sampling=spacing)
    d_in = ndimage.distance_transform_edt(mask, sampling=spacing)
    return (d_out - d_in).astype(np.float32)


def _shape_based(lab: np.ndarray, pts: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Label with the smallest negative interpolated signed distance at each point.

    Points are in source voxel coordinates. Background (0) does not compete: a point is
    background unless some label's interpolated distance is negative there (the point is
    inside it); where two labels' interpolated shapes overlap, the one the point lies deeper
    inside wins.

    Between slab centres k0 and k0 + 1 the two slices' signed distances (bilinear in-plane)
    are blended linearly. A label absent from one of the two slices is taken to taper to a
    point there: the absent slice's distance is the present slice's minus its minimum, which
    is zero only at the present shape's deepest point, so the cross-section shrinks linearly
    to nothing at the empty slice instead of vanishing next to the present one.

    A blend can only be negative where one of the two slices is inside the label, so each
    label is evaluated only within its bounding box (plus one pixel of outside), which is
    exact and keeps the cost proportional to the labels' size.
    """
    nx, ny, nz = lab.shape
    absent = float(np.hypot(nx * spacing[0], ny * spacing[1]))
    values = np.zeros(len(pts), dtype=np.int16)
    if len(pts) == 0:
        return values
    best = np.zeros(len(pts), dtype=np.float32)   # a label must reach below 0 to win
    k0_all = np.clip(np.floor(pts[:, 2]), 0, max(nz - 2, 0)).astype(np.intp)
    k1_all = np.minimum(k0_all + 1, nz - 1)
    frac_all = (pts[:, 2] - k0_all).astype(np.float32)
    frac_all[k0_all == k1_all] = 0.0
    sp = (float(spacing[0]), float(spacing[1]))
    for value in np.unique(lab):
        if value == 0:
            continue
        masks = lab == value
        ii, jj = np.nonzero(masks.any(axis=2))
        i0, i1 = ii.min() - 1, ii.max() + 2          # one pixel of outside on each side
        j0, j1 = jj.min() - 1, jj.max() + 2
        sel = np.flatnonzero((pts[:, 0] >= i0) & (pts[:, 0] <= i1 - 1)
                             & (pts[:, 1] >= j0) & (pts[:, 1] <= j1 - 1))
        if sel.size == 0:
            continue
        crop = np.zeros((i1 - i0, j1 - j0, nz), dtype=bool)
        si0, sj0 = max(i0, 0), max(j0, 0)
        crop[si0 - i0:min(i1, nx) - i0, sj0 - j0:min(j1, ny) - j0] = \
            masks[si0:min(i1, nx), sj0:min(j1, ny)]
        present = crop.any(axis=(0, 1))
        sdf = np.empty(crop.shape, dtype=np.float32)
        for k in range(nz):
            sdf[:, :, k] = signed_distance_2d(crop[:, :, k], sp, absent)
        deepest = sdf.min(axis=(0, 1))
        k0, k1, frac = k0_all[sel], k1_all[sel], frac_all[sel]
        u, v = pts[sel, 0] - i0, pts[sel, 1] - j0
        d0 = ndimage.map_coordinates(sdf, np.stack([u, v, k0.astype(float)]), order=1,
                                     mode="nearest", output=np.float32)
        d1 = ndimage.map_coordinates(sdf, np.stack([u, v, k1.astype(float)]), order=1,
                                     mode="nearest", output=np.float32)
        taper0 = ~present[k0] & present[k1]   # absent at k0: taper from k1
        taper1 = present[k0] & ~present[k1]
        d0[taper0] = d1[taper0] - deepest[k1[taper0]]
        d1[taper1] = d0[taper1] - deepest[k0[taper1]]
        d = (1.0 - frac) * d0 + frac * d1
        better = d < best[sel]
        best[sel[better]] = d[better]
        values[sel[better]] = value
    return values


def _world_to_voxel(world: np.ndarray, affine: np.ndarray) -> np.ndarray:
    inv = np.linalg.inv(affine)
    return world @ inv[:3, :3].T + inv[:3, 3]


def _slice_spacing(affine: np.ndarray) -> float:
    """Distance between slice centres (mm); checks the grid is a stack of parallel slices."""
    c0, c1, c2 = (np.asarray(affine[:3, a], dtype=float) for a in range(3))
    normal = np.cross(c0, c1)
    spacing = float(np.linalg.norm(c2))
    if np.linalg.norm(normal) == 0 or spacing == 0:
        raise ValueError(f"source affine is singular: {np.asarray(affine)[:3].tolist()}")
    cos = abs(float(normal @ c2)) / (np.linalg.norm(normal) * spacing)
    if cos < 1 - 1e-6:
        raise ValueError("source grid is not a stack of parallel slices: its slice axis "
                         f"(affine column 3 {c2.tolist()}) is not perpendicular to the slice "
                         "plane (sheared / gantry-tilted stack)")
    return spacing


def _as_label_array(labels: Any, shape: tuple[int, int, int]) -> np.ndarray:
    lab = np.asarray(labels)
    if lab.shape != tuple(shape):
        raise ValueError(f"labels have shape {lab.shape} but the source grid has shape "
                         f"{tuple(shape)}: pass the labels of the source series")
    if not (np.issubdtype(lab.dtype, np.integer) or np.issubdtype(lab.dtype, np.bool_)):
        if not np.issubdtype(lab.dtype, np.floating):
            raise ValueError(f"labels must be integers, got dtype {lab.dtype}")
        if not np.all(np.isfinite(lab)) or np.any(lab != np.rint(lab)):
            raise ValueError("labels must hold integer label indices; got non-integer values")
    lab = lab.astype(np.int64)
    if lab.size and lab.min() < 0:
        raise ValueError(f"labels must be non-negative, found {int(lab.min())}")
    if lab.size and lab.max() > np.iinfo(np.int16).max:
        raise ValueError(f"label {int(lab.max())} does not fit int16")
    return lab.astype(np.int16)
