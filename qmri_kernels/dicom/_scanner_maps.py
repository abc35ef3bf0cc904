"""Ingest of scanner-computed maps: pixels → SI units → ``desc-scanner…`` derivatives.

The series are found and classified by :func:`~.classify.classify` (``scanner_map`` set,
see :mod:`.vendor_maps`); :func:`convert` reads, checks and converts them before anything
is written, :func:`write` stores them as the derivatives ``scanner_<kind>`` of
:data:`qmri_kernels.derivatives.MAPS` (e.g. ``sub-01_desc-scanner_PDFFmap``), each sidecar
saying which series and which vendor convention the values come from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .check import check_series
from .deidentify import deidentify
from .errors import DicomError
from .group import Series
from .sidecar import provenance, sidecar
from .sort import sort_series
from .vendor_maps import map_scaling, to_si
from .volume import assemble

__all__ = ["ScannerMap", "convert", "write", "map_name", "one_per_kind"]


@dataclass(frozen=True, eq=False)
class ScannerMap:
    """One converted scanner map.

    Attributes
    ----------
    kind : str
        ``pdff``, ``water``, ``fat``, ``r2star`` or ``t2``.
    data : (nx, ny, nz) ndarray of float32
        SI units (fraction, a.u., 1/s, s).
    affine : (4, 4) ndarray
        Voxel centre → RAS mm.
    sidecar : dict
        JSON sidecar (de-identified header fields, the scaling used, provenance).
    """

    kind: str
    data: np.ndarray
    affine: np.ndarray
    sidecar: dict


def map_name(kind: str) -> str:
    """Library name of the derivative of a scanner map (``"pdff"`` → ``"scanner_pdff"``)."""
    return f"scanner_{kind}"


def convert(series: Series, kind: str, pseudonym: str) -> ScannerMap:
    """Read one scanner-map series and convert it to SI units.

    Parameters
    ----------
    series : Series
        A series :func:`~.classify.classify` gave ``scanner_map=kind``.
    kind : str
        The map kind.
    pseudonym : str
        ``"sub-01"``: replaces the identity in the de-identified header.

    Returns
    -------
    ScannerMap

    Raises
    ------
    DicomError
        The checks of :func:`~.check.check_series`, more than one image per slice, or
        values that do not follow the series' scaling convention (:func:`.to_si`).
    """
    check_series(series)
    sorted_series = sort_series(series)
    volume = assemble(sorted_series)
    if volume.data.shape[3] != 1:
        raise DicomError(f"{series.label}: a scanner {kind} map with "
                         f"{volume.data.shape[3]} images per slice; one was expected")
    first = series.headers[0]
    scaling = map_scaling(first, kind)
    stored = volume.data[..., 0]
    if scaling.slope is None:
        values = stored.astype(np.float64) * volume.slope + volume.inter
    elif np.issubdtype(stored.dtype, np.integer):
        values = stored.astype(np.float64)   # Real World Values map the stored values
    else:
        raise DicomError(f"{series.label}: per-image rescale with a Real World Value "
                         "Mapping; the stored values cannot be recovered")
    data = to_si(values, scaling, name=series.label)
    try:
        clean, removed = deidentify(first.dataset, pseudonym)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise DicomError(f"{first.name}: malformed header element ({exc})") from None
    prov = provenance(series_uid=series.series_uid, series_number=series.number,
                      n_images=len(series.headers), removed=sorted(removed),
                      pseudonym=pseudonym, phase_convention=None)
    side = sidecar(clean, echo_number=None, echo_time=None, spacing=sorted_series.spacing,
                   units=scaling.units, provenance_block=prov)
    side["ScannerMap"] = {"Kind": kind, "Vendor": scaling.vendor,
                          "Scaling": scaling.convention, "FactorToSI": scaling.factor,
                          "Note": "computed by the scanner, not by this book's fits"}
    return ScannerMap(kind, data, volume.affine, side)


def write(out_dir: str | os.PathLike, label: str, maps: list[ScannerMap]) -> list[Path]:
    """Write the converted maps as derivatives and remove scanner maps no longer exported.

    Parameters
    ----------
    out_dir : path-like
        The derivative root the ingest writes to.
    label : str
        Subject label (``"01"``).
    maps : list of ScannerMap
        At most one per kind.

    Returns
    -------
    list of Path
        NIfTI and JSON files written.
    """
    from .. import derivatives as D
    from .vendor_maps import KINDS

    items = {map_name(m.kind): (m.data, m.affine, m.sidecar) for m in maps}
    out: list[Path] = []
    if items:
        for path in D.write_maps(out_dir, label, items).values():
            out += [path, path.with_name(path.name[: -len(".nii.gz")] + ".json")]
    for kind in KINDS:                     # a map no longer in the export is stale
        if map_name(kind) not in items:
            path = D.map_path(out_dir, label, map_name(kind))
            path.unlink(missing_ok=True)
            path.with_name(path.name[: -len(".nii.gz")] + ".json").unlink(missing_ok=True)
    return sorted(out)


def one_per_kind(planned: list[tuple[Series, "Classification"]]
                 ) -> list[tuple[Series, "Classification"]]:
    """Keep the first scanner map of each kind (by series number); later ones are left
    alone with the reason (two maps of one kind would be written to the same file)."""
    from .classify import Classification

    first: dict[str, Series] = {}
    out = []
    for s, c in planned:
        if c.scanner_map is not None:
            if c.scanner_map in first:
                c = Classification(None, f"a second scanner {c.scanner_map} map "
                                         f"({first[c.scanner_map].label} gives it); left alone")
            else:
                first[c.scanner_map] = s
        out.append((s, c))
    return out
