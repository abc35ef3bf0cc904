"""Decide what an image is (magnitude/phase/real/imaginary) and what a series is for.

Roles of the thigh protocol (Wang et al. 2023, Methods):

``megre``
    multi-echo gradient echo for fat-water separation (IDEAL-IQ raw echoes): scanning
    sequence GR without SE, at least 3 echo times (a 3-point Dixon is the minimum for a
    field-map fit; Reeder et al. 2004, MRM 51:35), any image part. The fit needs complex
    echoes — magnitude and phase, or real and imaginary — to estimate the field map;
    :func:`complex_parts_note` says so when an export holds less.
``mese``
    multi-echo spin echo for T2 mapping: scanning sequence SE (no GR, no IR), at least
    3 echo times, magnitude. One slice is enough (single-slice T2 mapping is common).
``t2w``
    T2-weighted structural stack: SE (fast spin echo; no GR, no IR), one echo with
    TE ≥ 60 ms and TR ≥ 1.5 s, magnitude, and at least :data:`T2W_MIN_SLICES` slices.
    The slice count matters because the test for T2 weighting is weak (any long-TE,
    long-TR spin echo passes): a lone such slice is a key image, a test or quality-control
    image or a reformat, not the structural stack the segmentation runs on, and one slice
    has no slice direction of its own. It is therefore reported as unclassified, never
    guessed. Two slices are the threshold rather than three because a higher one would
    turn a damaged stack (three slices, the middle one lost) into a silently skipped
    series, where with two the spacing check names the missing slice.

Maps the scanner computed itself (GE IDEAL-IQ fat fraction, water, fat, R2*; Siemens and
Philips fat fractions; vendor T2 maps; :mod:`.vendor_maps`) have no role either, but a
``scanner_map`` kind: ingest converts them to SI units and writes them as ``desc-scanner``
derivatives. A derived map whose scaling the headers do not give is reported as
unclassified with that reason, never converted by a guess.

Everything else (localizers, other derived images, phase images of spin-echo series,
multi-frame files without functional groups, contrasts the protocol does not use) has no
role: it is reported, with the reason, and left alone. ``ingest(..., roles=...)`` assigns a
role by hand where the headers cannot tell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pydicom.uid import UID

from .headers import ImageHeader
from .parts import PART_ORDER, image_part
from .vendor_maps import ScalingUnknown, map_scaling, series_kind

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .group import Series

__all__ = ["ROLES", "PART_ORDER", "image_part", "Classification", "classify",
           "complex_parts_note", "n_slices", "T2W_MIN_TE", "T2W_MIN_TR", "T2W_MIN_SLICES",
           "MIN_ECHOES"]

ROLES: tuple[str, ...] = ("megre", "mese", "t2w")
#: Minimum echo time of a T2-weighted image, s.
T2W_MIN_TE: float = 0.060
#: Minimum repetition time of a T2-weighted image, s.
T2W_MIN_TR: float = 1.5
#: Minimum number of slices of a T2-weighted series (a stack, not a lone key or test image).
T2W_MIN_SLICES: int = 2
#: Minimum number of echo times of a multi-echo series.
MIN_ECHOES: int = 3


@dataclass(frozen=True)
class Classification:
    """Role of a series (``None``: no role) and the reason, for the report.

    ``scanner_map`` is the kind of a scanner-computed map (``"pdff"``, ``"water"``,
    ``"fat"``, ``"r2star"``, ``"t2"``; :mod:`.vendor_maps`) whose scaling is known; such a
    series has no role and is written as a ``desc-scanner`` derivative.
    """

    role: str | None
    reason: str
    scanner_map: str | None = None


def _scanning_sequence(header: ImageHeader) -> set[str]:
    value = header.dataset.get("ScanningSequence") or []
    items = [value] if isinstance(value, str) else list(value)
    return {str(v).strip().upper() for v in items}


def n_slices(series: Series) -> int:
    """Number of distinct slice positions (along the first image's normal, 0.01 mm).

    Images without ImagePositionPatient or ImageOrientationPatient are not counted.

    Parameters
    ----------
    series : Series
        The images of one series and part (:class:`~qmri_kernels.dicom.group.Series`);
        positions in LPS mm.

    Returns
    -------
    int
        Distinct positions along the normal of the first placed image's orientation,
        rounded to 0.01 mm; 0 if no image has both attributes.
    """
    placed = [h for h in series.headers if h.position is not None and h.orientation is not None]
    if not placed:
        return 0
    normal = np.cross(placed[0].orientation[:3], placed[0].orientation[3:])
    return len({round(float(h.position @ normal), 2) for h in placed})


def _ms(value: float | None) -> str:
    return "?" if value is None else f"{value * 1e3:.0f} ms"


def classify(series: Series) -> Classification:
    """The role of ``series`` in the thigh protocol, from its headers only.

    Parameters
    ----------
    series : Series

    Returns
    -------
    Classification
        ``role`` in :data:`ROLES` or ``None``, and a one-line reason (for a series left
        alone: why, and how to assign a role by hand when the headers are what is wrong).
        A scanner-computed map of known scaling has ``scanner_map`` set (and no role); a
        ``DERIVED`` map takes precedence over a role, an ``ORIGINAL`` image keeps its role.
    """
    result = _classify_role(series)
    kind = series_kind(series)
    first = series.headers[0]
    if kind is None or (result.role is not None and first.image_type[:1] != ("DERIVED",)):
        return result
    if series.part != "mag":
        return result
    try:
        scaling = map_scaling(first, kind)
    except ScalingUnknown as exc:
        return Classification(None, f"derived {kind} map of unknown scaling, not converted "
                                    f"({exc}); convert it yourself or export it with a Real "
                                    "World Value Mapping")
    return Classification(None, f"scanner-computed {kind} map ({scaling.convention}), "
                                "written as a desc-scanner derivative", scanner_map=kind)


def _classify_role(series: Series) -> Classification:
    first = series.headers[0]
    unsplit = [h for h in series.headers if h.n_frames > 1 and h.frame is None]
    if unsplit:
        sop = UID(unsplit[0].sop_class).name if unsplit[0].sop_class else "unknown SOP class"
        return Classification(None, f"multi-frame {sop} without per-frame functional "
                                    "groups: its frames cannot be placed; convert them with "
                                    "dcm2niix")
    seq = _scanning_sequence(first)
    if not seq:
        return Classification(None, "no ScanningSequence (nor EchoPulseSequence): the pulse "
                                    "sequence is unknown")
    times = {round(h.echo_time, 7) for h in series.headers if h.echo_time is not None}
    numbers = {h.echo_number for h in series.headers if h.echo_number is not None}
    n_echoes = len(times) if times else len(numbers)
    tr, te = first.repetition_time, first.echo_time
    name = "/".join(sorted(seq))
    if "GR" in seq and "SE" not in seq and n_echoes >= MIN_ECHOES:
        return Classification("megre", f"gradient echo with {n_echoes} echo times")
    if "SE" in seq and "GR" not in seq and "IR" not in seq:
        if series.part != "mag":
            return Classification(None, f"{series.part} images of a spin-echo series")
        if n_echoes >= MIN_ECHOES:
            return Classification("mese", f"spin echo with {n_echoes} echo times")
        if n_echoes == 1 and te is not None and tr is not None and te >= T2W_MIN_TE \
                and tr >= T2W_MIN_TR:
            contrast = f"spin echo, TE {_ms(te)}, TR {_ms(tr)}"
            slices = n_slices(series)
            if slices < T2W_MIN_SLICES:
                return Classification(
                    None, f"{contrast} (T2-weighted contrast) but {slices} slice(s): a "
                          f"T2-weighted series needs at least {T2W_MIN_SLICES} slices (a "
                          "stack to segment; a lone slice is a key, test or reformatted "
                          f"image); give roles={{{series.number}: 't2w'}} to ingest it anyway")
            return Classification("t2w", f"{contrast}, {slices} slices")
        if n_echoes == 1:
            return Classification(None, f"spin echo, TE {_ms(te)}, TR {_ms(tr)}: not "
                                        f"T2-weighted (needs TE ≥ {T2W_MIN_TE * 1e3:.0f} ms "
                                        f"and TR ≥ {T2W_MIN_TR * 1e3:.0f} ms); not a role of "
                                        "the thigh protocol")
    return Classification(None, f"{name} with {n_echoes} echo time(s), TR {_ms(tr)}: not a "
                                "role of the thigh protocol (needs a gradient echo with ≥ "
                                f"{MIN_ECHOES} echoes, a spin echo with ≥ {MIN_ECHOES} "
                                "echoes, or a long-TE, long-TR spin echo)")


def complex_parts_note(parts: Iterable[str]) -> str | None:
    """What the fat-water fit cannot do with the image parts of a subject's MEGRE.

    Parameters
    ----------
    parts : iterable of str
        The image parts found (``"mag"``, ``"phase"``, ``"real"``, ``"imag"``).

    Returns
    -------
    str or None
        ``None`` when the echoes are complex (magnitude and phase, or real and imaginary)
        or there are none; otherwise a sentence saying what is missing and what the fit
        can and cannot do.

    Notes
    -----
    The fit (:class:`qmri_kernels.fatwater.FatWaterModel`) is complex-based: it needs the
    phase evolution across echoes to estimate the field map (B0) and so to tell water
    from fat over the whole 0–100 % fat-fraction range. Magnitude echoes alone allow only a
    magnitude fit, which estimates R2* and a fat fraction but cannot tell a fat fraction
    f from 1 − f (Bydder et al. 2008, Magn Reson Imaging 26:347; Yu et al. 2011, Magn
    Reson Med 66:199) and gives no field map.
    """
    found = set(parts)
    if not found or {"mag", "phase"} <= found or {"real", "imag"} <= found:
        return None
    words = {"mag": "magnitude", "phase": "phase", "real": "real", "imag": "imaginary"}
    have = " and ".join(words[p] for p in PART_ORDER if p in found)
    return (f"multi-echo gradient echo with {have} images only: its echoes are written, but "
            "the fat-water fit needs complex echoes (magnitude and phase, or real and "
            "imaginary) to estimate the field map (B0) and separate water from fat. From "
            "magnitude echoes alone a fit can estimate only R2* and a fat fraction that "
            "cannot tell f from 1 − f, with no field map (magnitude fitting, Bydder et al. "
            "2008), and this book's fit does not do that. Export the series with its phase "
            "(or real and imaginary) images.")
