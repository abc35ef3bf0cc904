"""Maps the scanner computed itself: recognise them from their headers and convert to SI.

Sites often export the scanner's own reconstruction of a quantitative acquisition (GE
IDEAL-IQ's water, fat, fat fraction and R2*; Siemens Dixon / qDixon fat fractions; Philips
mDIXON-Quant; vendor T2 maps) and only sometimes the raw echoes. Such a *derived* series is
not an input of a fit; it is a map in its own right, in a vendor unit. This module says
which map a series is (:func:`map_kind`), how its stored values become SI units
(:func:`map_scaling`) and does the conversion (:func:`to_si`): fat fractions as fractions
in [0, 1], R2* in 1/s, T2 in s, water and fat signals in arbitrary units.

Kinds (the ``kind`` strings, also the ``scanner_<kind>`` map names of
:data:`qmri_kernels.derivatives.MAPS`): ``pdff``, ``water``, ``fat``, ``r2star``, ``t2``.

Recognition (:func:`map_kind`)
------------------------------
A series is a map when its ImageType (0008,0008) names one in its third value onwards
(``FF``, ``FAT_FRACTION``, ``FAT FRACTION``, ``PDFF``; ``WATER``, ``W``; ``FAT``, ``F``;
``R2STAR``, ``R2_STAR``, ``R2*``; ``T2``, ``T2_MAP``, ``T2MAP``; DICOM PS3.3 C.7.6.1.1.2
leaves these values to the vendor), when Philips' private image type (2005,1011) (creator
``Philips MR Imaging DD 001``) does, or — for ``DERIVED`` images only — when the
SeriesDescription (0008,103E) does (``IDEAL IQ FF``, ``WATER``, ``FAT``, ``R2*``,
``T2 MAP``). GE writes the image part (0/1/2/3: magnitude, phase, real, imaginary) in its
private image-type element (0043,102F) (creator ``GEMS_PARM_01``; dcm2niix's GE notes): a
map must be a magnitude-type image there, never a phase, real or imaginary one. The
one-letter values (``W``, ``F``) count only with a ``DIXON`` or ``DERIVED`` value beside
them (Siemens writes ``DERIVED\\PRIMARY\\DIXON\\W`` for a Dixon water image).

Scaling (:func:`map_scaling`), first match wins
-----------------------------------------------
1. A Real World Value Mapping (0040,9096) with UCUM units (PS3.3 C.7.6.16.2.11): value =
   stored · RealWorldValueSlope + RealWorldValueIntercept, in the unit of its
   MeasurementUnitsCodeSequence (``%``, ``1``/``{ratio}``, ``ms``, ``s``, ``/s``/``Hz``).
   Philips writes its physical values this way; its RescaleSlope is a display scale
   (dcm2niix issue #189, the "PV, DV, FP" discussion of Philips scaling). A Philips map
   without this mapping has no scale this module knows: it is never guessed.
2. The vendor's convention, on RescaleSlope / RescaleIntercept (PS3.3 C.11.1):

   ==========  ======  =======================================  ==================
   vendor      kind    stored (after rescale)                   factor to SI
   ==========  ======  =======================================  ==================
   GE          pdff    percent × 10, 0–1000 (IDEAL-IQ "FF")     1/1000
   GE          r2star  1/s                                      1
   GE, Siem.   t2      ms                                       1/1000
   Siemens     pdff    percent × 10, 0–1000 (Dixon "FF")        1/1000
   any         water,  signal (arbitrary units)                 1
               fat
   ==========  ======  =======================================  ==================

   GE's IDEAL-IQ (Reeder et al. 2005; Yu et al. 2008, the product's multi-peak, T2*-
   corrected reconstruction) exports its fat-fraction series as integer percent × 10 so
   that 0.1 pp survives the integer store; Siemens' Dixon fat-fraction images use the same
   0–1000 range. The range is checked after conversion (:data:`FRACTION_RANGE`): a map
   that does not fit its convention raises instead of being rescaled by a guess.

Anything else — a derived map of an unknown vendor, a map kind without a convention for
its vendor, an unknown UCUM unit — raises :class:`ScalingUnknown` (a
:class:`~qmri_kernels.dicom.DicomError`) with the reason; ingest reports such a series as
unclassified, with that reason, and leaves it alone.

References
----------
DICOM PS3.3 (2024) C.7.6.1.1.2 Image Type, C.7.6.16.2.11 Real World Value Mapping,
C.11.1 Modality LUT. Reeder SB et al. 2005, Magn Reson Med 54:636 (IDEAL). Yu H et al.
2008, Magn Reson Med 60:1122 (multi-peak, T2* IDEAL). Liu CY et al. 2007, Magn Reson Med
58:354 (magnitude discrimination).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import DicomError
from .headers import ImageHeader

if TYPE_CHECKING:
    from .group import Series

__all__ = ["KINDS", "KIND_UNITS", "FRACTION_RANGE", "Scaling", "ScalingUnknown",
           "map_kind", "map_scaling", "vendor", "to_si", "UCUM_FACTORS", "series_kind"]

#: Map kinds and their SI unit (the sidecar ``Units``).
KIND_UNITS: dict[str, str] = {"pdff": "1", "water": "arbitrary", "fat": "arbitrary",
                              "r2star": "1/s", "t2": "s"}
KINDS: tuple[str, ...] = tuple(KIND_UNITS)
#: Allowed range of a converted fat fraction; a map outside it has the wrong scale.
FRACTION_RANGE: tuple[float, float] = (-0.05, 1.05)

#: UCUM unit code → (SI unit, factor), by kind family.
UCUM_FACTORS: dict[str, tuple[str, float]] = {
    "%": ("1", 0.01), "1": ("1", 1.0), "{ratio}": ("1", 1.0), "{fraction}": ("1", 1.0),
    "ms": ("s", 1e-3), "s": ("s", 1.0),
    "/s": ("1/s", 1.0), "s-1": ("1/s", 1.0), "1/s": ("1/s", 1.0), "Hz": ("1/s", 1.0),
    "/ms": ("1/s", 1e3),
}

# ImageType values (3rd value on) naming a map kind; one-letter ones need DIXON/DERIVED.
_TYPE_TOKENS: dict[str, str] = {
    "FF": "pdff", "FAT_FRACTION": "pdff", "FAT FRACTION": "pdff", "FATFRACTION": "pdff",
    "PDFF": "pdff", "FATFRAC": "pdff",
    "WATER": "water", "FAT": "fat",
    "R2STAR": "r2star", "R2_STAR": "r2star", "R2*": "r2star", "R2STAR_MAP": "r2star",
    "T2_MAP": "t2", "T2MAP": "t2", "T2 MAP": "t2", "T2": "t2",
}
_LETTER_TOKENS: dict[str, str] = {"W": "water", "F": "fat"}
# SeriesDescription patterns (DERIVED images only), checked in this order.
_DESCRIPTION = (
    ("pdff", re.compile(r"(?<![A-Z0-9])(PDFF|FF|FAT[ _-]?FRAC(TION)?)(?![A-Z0-9])")),
    ("r2star", re.compile(r"(?<![A-Z0-9])R2(\*|[ _-]?STAR)")),
    ("t2", re.compile(r"(?<![A-Z0-9])T2[ _-]?MAP(?![A-Z0-9])")),
    ("water", re.compile(r"(?<![A-Z0-9])WATER(?![A-Z0-9])")),
    ("fat", re.compile(r"(?<![A-Z0-9])FAT(?![A-Z0-9])")),
)
_PHILIPS_CREATOR = "Philips MR Imaging DD 001"
_GE_CREATOR = "GEMS_PARM_01"

# vendor convention: (vendor, kind) -> (factor to SI, description)
_CONVENTIONS: dict[tuple[str, str], tuple[float, str]] = {
    ("GE", "pdff"): (1e-3, "GE IDEAL-IQ fat fraction: percent x 10 (0-1000)"),
    ("GE", "r2star"): (1.0, "GE IDEAL-IQ R2*: 1/s"),
    ("GE", "t2"): (1e-3, "GE T2 map: ms"),
    ("SIEMENS", "pdff"): (1e-3, "Siemens Dixon fat fraction: percent x 10 (0-1000)"),
    ("SIEMENS", "t2"): (1e-3, "Siemens T2 map: ms"),
}


class ScalingUnknown(DicomError):
    """A derived map whose stored values cannot be put into SI units from its headers."""


@dataclass(frozen=True)
class Scaling:
    """How a map's rescaled values become SI units.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    vendor : str
        ``"GE"``, ``"SIEMENS"``, ``"PHILIPS"`` or the Manufacturer as written.
    units : str
        SI unit of the result (:data:`KIND_UNITS`).
    factor : float
        SI value = factor · (slope · stored + intercept).
    slope, intercept : float or None
        Real World Value slope and intercept replacing the Rescale ones (``None``: use the
        image's RescaleSlope / RescaleIntercept).
    convention : str
        Where the scale comes from, for the sidecar.
    """

    kind: str
    vendor: str
    units: str
    factor: float
    slope: float | None
    intercept: float | None
    convention: str


def vendor(header: ImageHeader) -> str:
    """``"GE"``, ``"SIEMENS"``, ``"PHILIPS"``, or the Manufacturer (upper case) as written.

    Parameters
    ----------
    header : ImageHeader

    Returns
    -------
    str
        ``""`` when the header has no Manufacturer.
    """
    name = str(header.dataset.get("Manufacturer") or "").strip().upper()
    if name.startswith("GE") or "GENERAL ELECTRIC" in name:
        return "GE"
    for known in ("SIEMENS", "PHILIPS"):
        if known in name:
            return known
    return name


def _private(header: ImageHeader, group: int, element: int, creator: str):
    try:
        return header.dataset.get_private_item(group, element, creator).value
    except (KeyError, ValueError, TypeError, AttributeError):
        return None


def _values(value) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, (str, bytes, int, float)) else list(value)
    out = []
    for v in items:
        v = v.decode(errors="ignore") if isinstance(v, bytes) else str(v)
        out.append(v.strip().upper())
    return out


def map_kind(header: ImageHeader) -> str | None:
    """Which scanner-computed map an image is, from its headers; ``None`` if none.

    Parameters
    ----------
    header : ImageHeader
        One image of the series (all images of a series share these headers).

    Returns
    -------
    str or None
        A kind of :data:`KINDS`, or ``None`` for an image that is not a recognised map
        (raw echoes, structural images, GE phase/real/imaginary images, in- and opposed-
        phase images).

    Notes
    -----
    Evidence, in order: ImageType values from the third on; Philips' private image type
    (2005,1011); for ``DERIVED`` images, the SeriesDescription. See the module notes.
    """
    ge_part = _private(header, 0x0043, 0x2F, _GE_CREATOR) if vendor(header) == "GE" else None
    try:
        if ge_part is not None and int(ge_part) in (1, 2, 3):
            return None                   # GE phase / real / imaginary image: not a map
    except (TypeError, ValueError):
        pass
    types = list(header.image_type)
    derived = bool(types) and types[0] == "DERIVED"
    rest = types[2:]
    if any(t in ("IN_PHASE", "OUT_PHASE", "IP", "OP", "OPP") for t in rest):
        return None
    for t in rest:
        if t in _TYPE_TOKENS and not (t == "T2" and not derived):
            return _TYPE_TOKENS[t]
    if derived or "DIXON" in rest:
        for t in rest:
            if t in _LETTER_TOKENS:
                return _LETTER_TOKENS[t]
    if vendor(header) == "PHILIPS":
        for t in _values(_private(header, 0x2005, 0x11, _PHILIPS_CREATOR)):
            if t in _TYPE_TOKENS:
                return _TYPE_TOKENS[t]
    if derived:
        text = header.series_description.upper()
        if re.search(r"(IN|OUT|OPP(OSED)?)[ _-]?PHASE", text):
            return None
        for kind, pattern in _DESCRIPTION:
            if pattern.search(text):
                return kind
    return None


def _rwvm(header: ImageHeader) -> tuple[float, float, str] | None:
    """(slope, intercept, UCUM code) of the first Real World Value Mapping, or None."""
    ds = header.dataset
    seq = ds.get("RealWorldValueMappingSequence")
    if not seq:
        return None
    item = seq[0]
    units = item.get("MeasurementUnitsCodeSequence")
    code = str(units[0].get("CodeValue", "")).strip() if units else ""
    try:
        slope = float(item.get("RealWorldValueSlope", 1.0))
        intercept = float(item.get("RealWorldValueIntercept", 0.0))
    except (TypeError, ValueError) as exc:
        raise ScalingUnknown(f"{header.name}: malformed Real World Value Mapping "
                             f"({exc})") from None
    return slope, intercept, code


def map_scaling(header: ImageHeader, kind: str) -> Scaling:
    """How the stored values of a ``kind`` map become SI units.

    Parameters
    ----------
    header : ImageHeader
        First image of the series.
    kind : str
        From :func:`map_kind`.

    Returns
    -------
    Scaling

    Raises
    ------
    ScalingUnknown
        No Real World Value Mapping and no vendor convention for this vendor and kind, a
        UCUM unit this module does not know, or one that does not fit the kind (a
        fat fraction in ms); the message names the file and says what is missing.
    """
    if kind not in KIND_UNITS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    who = vendor(header)
    units = KIND_UNITS[kind]
    mapping = _rwvm(header)
    if mapping is not None:
        slope, intercept, code = mapping
        if kind in ("water", "fat") and code in ("", "1", "{counts}", "{arbitrary}"):
            return Scaling(kind, who, units, 1.0, slope, intercept,
                           "Real World Value Mapping (signal, arbitrary units)")
        if code not in UCUM_FACTORS:
            raise ScalingUnknown(f"{header.name}: {kind} map with Real World Value units "
                                 f"{code!r}, which is no unit this ingest knows "
                                 f"({', '.join(UCUM_FACTORS)}); not converted")
        si, factor = UCUM_FACTORS[code]
        if si != units:
            raise ScalingUnknown(f"{header.name}: {kind} map with Real World Value units "
                                 f"{code!r} ({si}), which cannot be a {kind} in {units}")
        return Scaling(kind, who, units, factor, slope, intercept,
                       f"Real World Value Mapping, UCUM {code!r}")
    if kind in ("water", "fat"):
        return Scaling(kind, who, units, 1.0, None, None,
                       "signal (arbitrary units), RescaleSlope/Intercept")
    if (who, kind) in _CONVENTIONS:
        factor, text = _CONVENTIONS[(who, kind)]
        return Scaling(kind, who, units, factor, None, None, text)
    where = ("Philips writes physical values in a Real World Value Mapping (0040,9096), and "
             "this image has none" if who == "PHILIPS" else
             f"no convention is known for a {kind} map of manufacturer {who or '(none)'!r} "
             "and the image has no Real World Value Mapping (0040,9096)")
    raise ScalingUnknown(f"{header.name}: scanner {kind} map of unknown scaling: {where}; "
                         "its values are not guessed")


def to_si(values: np.ndarray, scaling: Scaling, *, name: str = "map") -> np.ndarray:
    """Rescaled values of a map → SI units (float32), with the fat-fraction range check.

    Parameters
    ----------
    values : (nx, ny, nz) array-like
        ``stored · RescaleSlope + RescaleIntercept`` — or, for a :class:`Scaling` with a
        Real World Value slope, the stored values themselves.
    scaling : Scaling
        From :func:`map_scaling`.
    name : str
        How messages name the series.

    Returns
    -------
    (nx, ny, nz) ndarray of float32
        Fractions for ``pdff``, 1/s for ``r2star``, s for ``t2``, signal for ``water``
        and ``fat``.

    Raises
    ------
    ScalingUnknown
        A fat fraction outside :data:`FRACTION_RANGE` after conversion, a negative R2* or
        T2 beyond noise: the series does not follow the convention it was taken for.

    Examples
    --------
    >>> s = Scaling("pdff", "GE", "1", 1e-3, None, None, "GE IDEAL-IQ")
    >>> to_si(np.array([[[0, 73, 1000]]]), s).tolist()
    [[[0.0, 0.0729999989271164, 1.0]]]
    """
    arr = np.asarray(values, dtype=np.float64)
    if scaling.slope is not None:
        arr = arr * scaling.slope + (scaling.intercept or 0.0)
    out = (arr * scaling.factor).astype(np.float32)
    finite = out[np.isfinite(out)]
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        if scaling.kind == "pdff" and (lo < FRACTION_RANGE[0] or hi > FRACTION_RANGE[1]):
            raise ScalingUnknown(
                f"{name}: fat fraction spans [{lo:.3g}, {hi:.3g}] after '{scaling.convention}'"
                f" (factor {scaling.factor:g}); a fraction lies in [0, 1], so the series does "
                "not follow that convention; its values are not guessed")
        if scaling.kind in ("r2star", "t2") and lo < -1e-6 * max(abs(hi), 1.0) - 1e-3:
            raise ScalingUnknown(f"{name}: {scaling.kind} map has negative values ({lo:.3g} "
                                 f"{scaling.units}) after '{scaling.convention}'")
    return out


def series_kind(series: Series) -> str | None:
    """:func:`map_kind` of a series (its first image), ``None`` if not a map.

    Parameters
    ----------
    series : Series
        The images of one series and part (:class:`~qmri_kernels.dicom.group.Series`);
        only the first header is read (all images of a series share the headers used).

    Returns
    -------
    str or None
        A kind of :data:`KINDS` (``"pdff"``, ``"water"``, ``"fat"``, ``"r2star"``,
        ``"t2"``), or ``None`` if the series is not a recognised scanner-computed map.
    """
    return map_kind(series.headers[0])
