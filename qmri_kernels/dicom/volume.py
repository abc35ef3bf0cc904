"""From a sorted series to a voxel array and its affine (DICOM LPS → NIfTI RAS).

Voxel ``(i, j, k)`` is pixel ``(row j, column i)`` of slice ``k`` (slices sorted along the
normal), the order dcm2niix and nibabel use before any flip. The affine maps voxel centres
to RAS mm:

.. math::

    A_{LPS} = [\\hat r\\Delta_c,\\; \\hat c\\Delta_r,\\; (P_{n-1}-P_0)/(n-1),\\; P_0],
    \\qquad A_{RAS} = \\mathrm{diag}(-1,-1,1,1)\\,A_{LPS}

with :math:`\\hat r, \\hat c` the row and column direction cosines of
ImageOrientationPatient, :math:`\\Delta_r, \\Delta_c` = PixelSpacing (row spacing first) and
:math:`P_k` the ImagePositionPatient of slice k (DICOM PS3.3 C.7.6.2.1.1; Brett et al.,
nibabel "DICOM orientation" notes).

Intensities: ``value = stored · RescaleSlope + RescaleIntercept`` (PS3.3 C.11.1). When one
slope and intercept hold for the whole series the stored integers are kept and the rescale
goes into the NIfTI ``scl_slope``/``scl_inter`` (lossless, half the size of float32, as
dcm2niix does); otherwise the rescaled values are stored as float32. Phase images are
converted to radians (see :func:`phase_convention`).

Pixels: native pixel data is read from its offset in the file (a frame of a multi-frame
file at its own offset); compressed pixel data is decoded by pydicom and its plug-ins
(:mod:`.decoders`), each multi-frame file once per series.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pydicom
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from .errors import DicomError
from .headers import ImageHeader
from .sort import SortedSeries

__all__ = ["Volume", "affine_ras", "read_pixels", "rescale", "phase_convention", "assemble",
           "LPS_TO_RAS"]

#: Flip of x and y between DICOM patient coordinates (LPS) and NIfTI world (RAS).
LPS_TO_RAS: np.ndarray = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass(frozen=True, eq=False)
class Volume:
    """A series as an array.

    Attributes
    ----------
    data : (nx, ny, nz, n_echoes) ndarray
        Stored integers (with ``slope``/``inter``) or float32 values (slope 1, inter 0).
    slope, inter : float
        Physical value = ``data · slope + inter`` (radians for phase).
    affine : (4, 4) ndarray
        Voxel centre → RAS mm.
    units : str
        ``"rad"`` for phase, ``"arbitrary"`` otherwise.
    phase_convention : str or None
        How stored phase became radians.
    """

    data: np.ndarray
    slope: float
    inter: float
    affine: np.ndarray
    units: str
    phase_convention: str | None


def affine_ras(sorted_series: SortedSeries) -> np.ndarray:
    """Voxel-centre → RAS mm affine of a sorted series.

    Parameters
    ----------
    sorted_series : SortedSeries
        Images sorted along the slice normal (:func:`.sort.sort_series`); the first image
        of each slice supplies ImageOrientationPatient, PixelSpacing and
        ImagePositionPatient.

    Returns
    -------
    (4, 4) ndarray
        Maps voxel indices ``(i, j, k, 1)`` to RAS coordinates in mm (the formula in the
        module docstring; DICOM PS3.3 C.7.6.2.1.1). With a single slice the slice step is
        the normal times SpacingBetweenSlices (else SliceThickness, else 1 mm).
    """
    first = sorted_series.images[0][0]
    iop = first.orientation
    row_cos, col_cos = iop[:3], iop[3:]
    d_row, d_col = (float(v) for v in first.pixel_spacing)
    nz = len(sorted_series.images)
    p0 = first.position
    if nz > 1:
        step = (sorted_series.images[-1][0].position - p0) / (nz - 1)
    else:
        ds = first.dataset
        gap = ds.get("SpacingBetweenSlices") or ds.get("SliceThickness") or 1.0
        step = sorted_series.normal * float(gap)
    lps = np.eye(4)
    lps[:3, 0] = row_cos * d_col
    lps[:3, 1] = col_cos * d_row
    lps[:3, 2] = step
    lps[:3, 3] = p0
    return LPS_TO_RAS @ lps


_NATIVE = {ImplicitVRLittleEndian: "<", ExplicitVRLittleEndian: "<", ExplicitVRBigEndian: ">"}


def _native_dtype(header: ImageHeader) -> np.dtype | None:
    """dtype for reading the pixel data straight from the file, or ``None`` (use pydicom)."""
    ds = header.dataset
    order = _NATIVE.get(header.transfer_syntax)
    try:
        bits = int(ds.get("BitsAllocated", 0))
        stored = int(ds.get("BitsStored", 0))
        signed = int(ds.get("PixelRepresentation", 0))
        samples = int(ds.get("SamplesPerPixel", 1))
    except (TypeError, ValueError):
        return None
    if header.frame is None and header.n_frames != 1:
        return None
    if (order is None or header.pixel_offset is None or bits not in (8, 16, 32)
            or stored != bits or samples != 1 or header.rows is None or header.columns is None
            or header.pixel_length < header.n_frames * header.rows * header.columns * bits // 8):
        return None
    return np.dtype(f"{order}{'i' if signed else 'u'}{bits // 8}")


def _decode(header: ImageHeader) -> np.ndarray:
    """All frames of ``header``'s file decoded by pydicom, shape (n_frames, rows, columns)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(header.path, force=not header.preamble)
            if "PixelData" not in ds:
                raise ValueError("no pixel data")
            arr = ds.pixel_array
    except Exception as exc:  # pydicom and its plug-ins raise many types for broken data
        ts = UID(header.transfer_syntax)
        detail = " ".join(str(exc).split())[:160]
        raise DicomError(f"{header.name}: pixel data ({ts.name}) cannot be read or decoded — "
                         f"corrupt or truncated file ({type(exc).__name__}: {detail})") from None
    frames = arr.reshape((1, *arr.shape)) if header.n_frames == 1 and arr.ndim == 2 else arr
    if frames.shape != (header.n_frames, header.rows, header.columns):
        raise DicomError(f"{header.name}: pixel array shape {arr.shape} does not match "
                         f"NumberOfFrames x Rows x Columns {header.n_frames}x{header.rows}x"
                         f"{header.columns}")
    return frames


def read_pixels(header: ImageHeader, cache: dict | None = None) -> np.ndarray:
    """Stored pixel values of one image (or one frame), shape (rows, columns), integer dtype.

    Native pixel data (uncompressed, all bits used) is read straight from its offset in
    the file (frame ``k`` of a multi-frame file at ``k`` frame lengths further on);
    anything else is decoded by pydicom with its plug-ins (:mod:`.decoders`).

    Parameters
    ----------
    header : ImageHeader
        The image (or one frame of a multi-frame file) to read.
    cache : dict, optional
        Decoded multi-frame files by path: pass the same dict for all frames of a series
        so that each compressed file is decoded once.

    Returns
    -------
    (rows, columns) ndarray
        Stored (not rescaled) pixel values in native byte order, integer dtype as in the
        file (BitsAllocated, PixelRepresentation); apply :func:`rescale` for physical
        values.

    Raises
    ------
    DicomError
        Pixel data missing, truncated or undecodable (the file is named).
    """
    dtype = _native_dtype(header)
    if dtype is not None:
        count = header.rows * header.columns
        offset = header.pixel_offset + (header.frame or 0) * count * dtype.itemsize
        try:
            arr = np.fromfile(header.path, dtype=dtype, count=count, offset=offset)
        except OSError as exc:
            raise DicomError(f"{header.name}: pixel data cannot be read ({exc})") from None
        if arr.size != count:
            raise DicomError(f"{header.name}: pixel data truncated ({arr.size} of {count} "
                             "pixels)")
        return arr.reshape(header.rows, header.columns).astype(dtype.newbyteorder("="),
                                                               copy=False)
    if header.frame is None:
        return _decode(header)[0]
    if cache is not None and header.path in cache:
        return cache[header.path][header.frame]
    frames = _decode(header)
    if cache is not None:
        cache[header.path] = frames
    return frames[header.frame]


def rescale(header: ImageHeader) -> tuple[float, float]:
    """(RescaleSlope, RescaleIntercept) of an image; (1, 0) when absent.

    Parameters
    ----------
    header : ImageHeader
        The image whose dataset holds RescaleSlope / RescaleIntercept (PS3.3 C.11.1).

    Returns
    -------
    slope : float
        Physical units per stored unit (1.0 when absent or empty).
    inter : float
        Physical value of stored 0 (0.0 when absent or empty).

    Raises
    ------
    DicomError
        Slope or intercept not a number, slope zero, or either not finite.
    """
    ds = header.dataset
    slope_value, inter_value = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    try:
        slope = 1.0 if slope_value in (None, "") else float(slope_value)
        inter = 0.0 if inter_value in (None, "") else float(inter_value)
    except (TypeError, ValueError) as exc:
        raise DicomError(f"{header.name}: malformed rescale ({exc})") from None
    if not np.isfinite(slope) or slope == 0 or not np.isfinite(inter):
        raise DicomError(f"{header.name}: invalid RescaleSlope {slope} / intercept {inter}")
    return slope, inter


def phase_convention(low: float, high: float, header: ImageHeader) -> tuple[float, str]:
    """Factor from rescaled phase values to radians, and the convention's name.

    Parameters
    ----------
    low, high : float
        Smallest and largest rescaled value of the whole series.
    header : ImageHeader
        First image (Manufacturer, RescaleType).

    Returns
    -------
    factor : float
        Radians per rescaled unit.
    convention : str
        Human-readable name of the convention recognised (for the sidecar and messages).

    Raises
    ------
    DicomError
        Values outside every known range.

    Notes
    -----
    Vendors store phase differently: already radians through the rescale (this book's
    writer; ``RescaleType`` "rad"), GE's integers in −3142…3142 (radians × 1000), Siemens'
    12-bit −4096…4094 after rescale (π/4096 per unit; dcm2niix and Siemens documentation).
    The largest magnitude decides when the manufacturer does not: a phase image spans
    nearly all of [−π, π) in its noisy background.
    """
    m = max(abs(low), abs(high))
    rescale_type = str(header.dataset.get("RescaleType", "")).strip().lower()
    manufacturer = str(header.dataset.get("Manufacturer", "")).upper()
    if rescale_type in ("rad", "radian", "radians") or m <= np.pi * (1 + 1e-6):
        return 1.0, "radians (rescaled values)"
    if "SIEMENS" in manufacturer and m <= 4096 * (1 + 1e-6):
        return np.pi / 4096, "Siemens 12-bit (value x pi/4096)"
    if m <= 1000 * np.pi * (1 + 1e-3) + 1:
        return 1e-3, "milliradians (GE: radians x 1000)"
    if m <= 4096 * (1 + 1e-6):
        return np.pi / 4096, "12-bit (value x pi/4096)"
    raise DicomError(f"{header.name}: phase values span [{low:g}, {high:g}], which is no known "
                     "phase convention (radians, radians x 1000, 12-bit)")


def assemble(sorted_series: SortedSeries) -> Volume:
    """Read all pixels of a sorted series into a :class:`Volume`.

    Parameters
    ----------
    sorted_series : SortedSeries
        Images on a regular (slice, echo) grid of shape ``(nx, ny, nz, n_echoes)``.

    Returns
    -------
    Volume
        ``data`` of shape (nx, ny, nz, n_echoes): the stored integers with one series-wide
        ``slope``/``inter``, or float32 rescaled values (slope 1, inter 0) when images differ
        in rescale; phase series get slope and intercept in radians (:func:`phase_convention`);
        ``affine`` from :func:`affine_ras`.

    Raises
    ------
    DicomError
        A file's pixel data cannot be read, or phase values are in no known convention.
    """
    nx, ny, nz, ne = sorted_series.shape
    first = sorted_series.images[0][0]
    scales = {rescale(h) for row in sorted_series.images for h in row}
    stored = None
    values = None
    decoded: dict = {}  # compressed multi-frame files, decoded once
    for k, row in enumerate(sorted_series.images):
        for e, h in enumerate(row):
            px = read_pixels(h, decoded).T
            if stored is None:
                stored = np.empty((nx, ny, nz, ne), dtype=px.dtype)
                if len(scales) > 1:
                    values = np.empty((nx, ny, nz, ne), dtype=np.float32)
            stored[:, :, k, e] = px
            if values is not None:
                slope, inter = rescale(h)
                values[:, :, k, e] = px * slope + inter
    if values is None:
        slope, inter = next(iter(scales))
        lo_raw, hi_raw = float(stored.min()), float(stored.max())
        low, high = sorted((lo_raw * slope + inter, hi_raw * slope + inter))
        data = stored
        if not np.issubdtype(data.dtype, np.integer):
            data, slope, inter = (data * slope + inter).astype(np.float32), 1.0, 0.0
    else:
        low, high = float(values.min()), float(values.max())
        data, slope, inter = values, 1.0, 0.0
    convention = None
    units = "arbitrary"
    if sorted_series.series.part == "phase":
        factor, convention = phase_convention(low, high, first)
        slope, inter = slope * factor, inter * factor
        units = "rad"
    return Volume(data=data, slope=float(slope), inter=float(inter),
                  affine=affine_ras(sorted_series), units=units, phase_convention=convention)
