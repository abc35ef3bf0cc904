"""Sort a series' images into a (slice, echo) table: slices along the normal, echoes by TE.

Slices are ordered by the projection of ImagePositionPatient on the slice normal
(row × column direction cosines, PS3.3 C.7.6.2.1.1), never by InstanceNumber, file name or
SliceLocation, which vendors fill differently. The frames of an enhanced multi-frame file
arrive here as images of their own (:mod:`.enhanced`) and are sorted the same way, by
position and echo time, never by frame number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .check import SPACING_TOL_MM, check_spacing
from .errors import DicomError
from .group import Series
from .headers import ImageHeader

__all__ = ["SortedSeries", "sort_series"]


@dataclass(frozen=True, eq=False)
class SortedSeries:
    """A series as a complete (slice, echo) table.

    Attributes
    ----------
    series : Series
    normal : (3,) ndarray
        Unit slice normal, LPS.
    positions : (nz,) ndarray
        Slice positions along the normal, mm, ascending.
    spacing : float
        Centre-to-centre slice distance, mm (``nan`` for one slice).
    echo_times : (n_echoes,) ndarray
        Seconds, ascending (``nan`` if the files give none).
    images : tuple of tuple of ImageHeader
        ``images[k][e]``: slice k, echo e.
    """

    series: Series
    normal: np.ndarray
    positions: np.ndarray
    spacing: float
    echo_times: np.ndarray
    images: tuple[tuple[ImageHeader, ...], ...]

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(columns, rows, slices, echoes) — the NIfTI array shape."""
        h = self.images[0][0]
        return (int(h.columns), int(h.rows), len(self.images), len(self.echo_times))


def _echo_key(h: ImageHeader, use_time: bool) -> float:
    if use_time:
        return round(float(h.echo_time), 7)
    return float(h.echo_number if h.echo_number is not None else 1)


def sort_series(series: Series) -> SortedSeries:
    """Sort ``series`` (already passed :func:`~qmri_kernels.dicom.check.check_series`).

    Parameters
    ----------
    series : Series
        One series and image part; duplicate images (same SOPInstanceUID and frame) are
        counted once.

    Returns
    -------
    SortedSeries
        ``images[k][e]`` for slice k (ascending position along the normal, mm) and echo e
        (ascending echo time in s, or EchoNumbers when a file lacks EchoTime); slice
        spacing from :func:`~qmri_kernels.dicom.check.check_spacing`.

    Raises
    ------
    DicomError
        A slice lacks an echo that other slices have (missing echo, named by slice
        position and echo time), two images claim the same slice and echo, a slice is
        missing (uneven spacing) or the stack is sheared.
    """
    # the same image twice (same SOPInstanceUID, and frame of a multi-frame file) is one
    unique: set[tuple[str, int | None]] = set()
    headers = []
    for h in series.headers:
        key = (h.sop_instance_uid, h.frame)
        if h.sop_instance_uid and key in unique:
            continue
        if h.sop_instance_uid:
            unique.add(key)
        headers.append(h)
    iop = headers[0].orientation
    normal = np.cross(iop[:3], iop[3:])
    normal = normal / np.linalg.norm(normal)
    dist = np.array([float(h.position @ normal) for h in headers])
    order = np.argsort(dist, kind="stable")
    slices: list[list[ImageHeader]] = []
    centres: list[float] = []
    for idx in order:
        if slices and dist[idx] - centres[-1] <= SPACING_TOL_MM:
            slices[-1].append(headers[idx])
        else:
            slices.append([headers[idx]])
            centres.append(float(dist[idx]))
    use_time = all(h.echo_time is not None for h in headers)
    keys = sorted({_echo_key(h, use_time) for h in headers})
    table: list[tuple[ImageHeader, ...]] = []
    for k, members in enumerate(slices):
        cells: dict[float, ImageHeader] = {}
        for h in members:
            key = _echo_key(h, use_time)
            if key in cells:
                raise DicomError(f"{series.label}: {cells[key].name} and {h.name} are two "
                                 f"images of the same slice ({centres[k]:.2f} mm) and echo")
            cells[key] = h
        missing = [key for key in keys if key not in cells]
        if missing:
            what = (f"TE {missing[0] * 1e3:.2f} ms" if use_time else f"echo {int(missing[0])}")
            raise DicomError(f"{series.label}: slice {k + 1} of {len(slices)} at "
                             f"{centres[k]:.2f} mm (e.g. {members[0].name}) has no image for "
                             f"{what}: {len(missing)} of {len(keys)} echoes missing")
        table.append(tuple(cells[key] for key in keys))
    positions = np.array(centres)
    firsts = [row[0] for row in table]
    p0 = firsts[0].position
    offsets = np.array([float(np.linalg.norm((h.position - p0) - ((h.position - p0) @ normal)
                                             * normal)) for h in firsts])
    spacing = check_spacing(series, positions, offsets, firsts)
    echo_times = np.array(keys, dtype=float) if use_time else np.full(len(keys), np.nan)
    return SortedSeries(series=series, normal=normal, positions=positions, spacing=spacing,
                        echo_times=echo_times, images=tuple(table))
