"""Checks on a subject's images and on each series to convert, with errors that name files.

Every check raises :class:`~qmri_kernels.dicom.errors.DicomError` naming the series and a
file (relative to the ingest root) and saying what is wrong. Identity values (patient IDs,
study UIDs) are compared but never printed.
"""

from __future__ import annotations

import numpy as np
from pydicom.uid import (DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian,
                         ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless)

from .decoders import check_decodable
from .errors import DicomError
from .group import Series
from .headers import ImageHeader

__all__ = ["SUPPORTED_TRANSFER_SYNTAXES", "check_subject", "check_series", "check_spacing",
           "ORIENTATION_TOL", "SPACING_TOL_MM"]

#: Transfer syntaxes whose pixel data pydicom decodes with NumPy alone (the compressed ones
#: need a decoder plug-in: :mod:`~qmri_kernels.dicom.decoders`).
SUPPORTED_TRANSFER_SYNTAXES: frozenset[str] = frozenset({
    ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian, RLELossless})
#: Largest allowed difference of direction cosines within a series.
ORIENTATION_TOL: float = 1e-4
#: Absolute part of the slice-position tolerance, mm (plus 0.2 % of the spacing).
SPACING_TOL_MM: float = 0.01


def check_subject(headers: list[ImageHeader], where: str) -> None:
    """One patient and one study in a subject's folder.

    Parameters
    ----------
    headers : list of ImageHeader
        All images found under the subject's folder.
    where : str
        The folder, for the message.

    Raises
    ------
    DicomError
        Images of two patients (PatientID, or PatientName if there is no ID) or of two
        studies (StudyInstanceUID) are mixed; two example files are named.
    """
    for attribute, what in (("patient_key", "patients (PatientID differs)"),
                            ("study_uid", "studies (StudyInstanceUID differs)")):
        first: dict[str, ImageHeader] = {}
        for h in headers:
            key = getattr(h, attribute)
            if key is None:
                continue
            first.setdefault(key, h)
            if len(first) > 1:
                a, b = list(first.values())[:2]
                raise DicomError(f"{where}: images of two different {what} in one subject's "
                                 f"folder, e.g. {a.name} and {b.name}; give each subject "
                                 "its own folder")


def _fail(series: Series, header: ImageHeader, problem: str) -> DicomError:
    return DicomError(f"{series.label}: {header.name}: {problem}")


def check_series(series: Series) -> None:
    """Pixel format, geometry tags and in-series consistency of a series to convert.

    Parameters
    ----------
    series : Series
        One series and image part; every image is checked against the first (orientation
        within :data:`ORIENTATION_TOL` of the direction cosines, pixel spacing within
        that fraction of the spacing in mm).

    Raises
    ------
    DicomError
        Transfer syntax without a decoder here (named, with the package to install:
        :func:`~qmri_kernels.dicom.decoders.check_decodable`); a multi-frame file without
        per-frame functional groups; not single-sample greyscale (MONOCHROME2) or
        BitsAllocated not 8, 16 or 32; missing
        ImagePositionPatient / ImageOrientationPatient / PixelSpacing / Rows / Columns;
        orientation, pixel spacing or matrix differing from the series' first image.
    """
    ref = series.headers[0]
    for h in series.headers:
        if h.transfer_syntax not in SUPPORTED_TRANSFER_SYNTAXES:
            check_decodable(h.transfer_syntax, f"{series.label}: {h.name}")
        if h.n_frames > 1 and h.frame is None:
            raise _fail(series, h, f"{h.n_frames} frames without per-frame functional groups: "
                                   "the frames cannot be placed in space; convert the file "
                                   "with dcm2niix")
        ds = h.dataset
        if int(ds.get("SamplesPerPixel", 1) or 1) != 1 or \
                str(ds.get("PhotometricInterpretation", "MONOCHROME2")) != "MONOCHROME2":
            raise _fail(series, h, "not a single-sample MONOCHROME2 image "
                                   f"({ds.get('PhotometricInterpretation')})")
        if int(ds.get("BitsAllocated", 16) or 16) not in (8, 16, 32):
            raise _fail(series, h, f"BitsAllocated {ds.get('BitsAllocated')} not supported")
        for attr, keyword in (("position", "ImagePositionPatient"),
                              ("orientation", "ImageOrientationPatient"),
                              ("pixel_spacing", "PixelSpacing"), ("rows", "Rows"),
                              ("columns", "Columns")):
            if getattr(h, attr) is None:
                raise _fail(series, h, f"no {keyword}; the image cannot be placed in space")
        if (h.rows, h.columns) != (ref.rows, ref.columns):
            raise _fail(series, h, f"matrix {h.rows}x{h.columns} differs from {ref.name} "
                                   f"({ref.rows}x{ref.columns})")
        if np.max(np.abs(h.orientation - ref.orientation)) > ORIENTATION_TOL:
            raise _fail(series, h, f"ImageOrientationPatient {np.round(h.orientation, 4).tolist()} "
                                   f"differs from {ref.name} "
                                   f"({np.round(ref.orientation, 4).tolist()})")
        if np.max(np.abs(h.pixel_spacing - ref.pixel_spacing)) > \
                ORIENTATION_TOL * float(np.max(ref.pixel_spacing)):
            raise _fail(series, h, f"PixelSpacing {h.pixel_spacing.tolist()} differs from "
                                   f"{ref.name} ({ref.pixel_spacing.tolist()})")
    iop = ref.orientation
    if abs(np.linalg.norm(iop[:3]) - 1) > 1e-3 or abs(np.linalg.norm(iop[3:]) - 1) > 1e-3 \
            or abs(float(iop[:3] @ iop[3:])) > 1e-3:
        raise _fail(series, ref, f"ImageOrientationPatient {iop.tolist()} is not two "
                                 "orthogonal unit vectors")
    if np.any(ref.pixel_spacing <= 0):
        raise _fail(series, ref, f"PixelSpacing {ref.pixel_spacing.tolist()} is not positive")


def check_spacing(series: Series, positions: np.ndarray, offsets: np.ndarray,
                  slice_files: list[ImageHeader]) -> float:
    """Even slice spacing (no missing slice) and slices stacked along their normal.

    Parameters
    ----------
    series : Series
        The series the slices belong to (named in messages).
    positions : (nz,) array
        Slice positions along the normal, mm, ascending.
    offsets : (nz,) array
        In-plane distance of each slice's ImagePositionPatient from the line through the
        first slice along the normal, mm (0 for a proper stack).
    slice_files : list of ImageHeader
        One file per slice, for the messages.

    Returns
    -------
    float
        The slice spacing, mm (``nan`` for a single slice).

    Raises
    ------
    DicomError
        A gap that is a multiple of the spacing (missing slices, named by their
        neighbours), otherwise uneven spacing, or slices shifted within their plane
        (gantry tilt / sheared stack).
    """
    bad = int(np.argmax(offsets)) if offsets.size else 0
    if offsets.size and offsets[bad] > SPACING_TOL_MM * 10:
        raise _fail(series, slice_files[bad], f"slice is shifted {offsets[bad]:.2f} mm within "
                                              "its plane: the slices are not stacked along "
                                              "their normal (gantry tilt?)")
    if positions.size < 2:
        return float("nan")
    diffs = np.diff(positions)
    step = float(diffs.min())
    tol = SPACING_TOL_MM + 0.002 * step
    for k, d in enumerate(diffs):
        if abs(d - step) <= tol:
            continue
        a, b = slice_files[k], slice_files[k + 1]
        ratio = d / step
        if abs(ratio - round(ratio)) * step <= tol:
            n_missing = int(round(ratio)) - 1
            raise _fail(series, b, f"{n_missing} slice(s) missing: {d:.2f} mm between the "
                                   f"slices at {positions[k]:.2f} mm ({a.name}) and "
                                   f"{positions[k + 1]:.2f} mm, where the spacing is "
                                   f"{step:.2f} mm")
        raise _fail(series, b, f"uneven slice spacing: {d:.2f} mm after the slice at "
                               f"{positions[k]:.2f} mm ({a.name}), {step:.2f} mm elsewhere")
    # a short stack can lose a slice without becoming uneven (3 slices → 2): compare the
    # spacing with the header's SpacingBetweenSlices
    header = series.headers[0].dataset.get("SpacingBetweenSlices")
    try:
        stated = abs(float(header)) if header not in (None, "") else 0.0
    except (TypeError, ValueError):
        stated = 0.0
    if stated > 0:
        ratio = step / stated
        if round(ratio) >= 2 and abs(ratio - round(ratio)) * stated <= tol:
            k = int(np.argmax(diffs))
            raise _fail(series, slice_files[k + 1],
                        f"slice(s) missing: the slices are {step:.2f} mm apart but "
                        f"SpacingBetweenSlices is {stated:.2f} mm (between the slices at "
                        f"{positions[k]:.2f} mm ({slice_files[k].name}) and "
                        f"{positions[k + 1]:.2f} mm)")
    return float(np.mean(diffs))
