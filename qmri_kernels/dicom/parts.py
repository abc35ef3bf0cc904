"""The image part of a DICOM image (magnitude, phase, real, imaginary), from its header."""

from __future__ import annotations

from .headers import ImageHeader

__all__ = ["PART_ORDER", "image_part"]

#: Parts in the order series are written.
PART_ORDER: tuple[str, ...] = ("mag", "phase", "real", "imag")

# ImageType values (3rd value onwards) naming the image part: DICOM defined terms
# (PS3.3 C.8.13.1.1.1 "Complex Image Component") and the one-letter Siemens/Philips forms.
_PART_TOKENS = {"MAGNITUDE": "mag", "M": "mag", "PHASE": "phase", "P": "phase",
                "REAL": "real", "R": "real", "IMAGINARY": "imag", "I": "imag"}
# GE's private image type (0043,102F) in block GEMS_PARM_01.
_GE_PARTS = {0: "mag", 1: "phase", 2: "real", 3: "imag"}


# ComplexImageComponent (0008,9208) of enhanced images (MRImageFrameTypeSequence).
_COMPLEX_COMPONENT = {"MAGNITUDE": "mag", "PHASE": "phase", "REAL": "real",
                      "IMAGINARY": "imag"}


def image_part(header: ImageHeader) -> str:
    """``"mag"``, ``"phase"``, ``"real"`` or ``"imag"`` of one image.

    From ComplexImageComponent (the attribute enhanced images carry per frame), else
    ImageType, else GE's private (0043,102F); ``"mag"`` when none says otherwise.

    Parameters
    ----------
    header : ImageHeader
        One image (or one frame of an enhanced multi-frame file).

    Returns
    -------
    str
        One of :data:`PART_ORDER`: ``"mag"``, ``"phase"``, ``"real"`` or ``"imag"``
        (DICOM PS3.3 C.8.13.1.1.1, Complex Image Component).
    """
    component = str(header.dataset.get("ComplexImageComponent") or "").strip().upper()
    if component in _COMPLEX_COMPONENT:
        return _COMPLEX_COMPONENT[component]
    for token in header.image_type[2:]:
        if token in _PART_TOKENS:
            return _PART_TOKENS[token]
    ds = header.dataset
    if "GE" in str(ds.get("Manufacturer", "")).upper():
        try:
            value = ds.get_private_item(0x0043, 0x2F, "GEMS_PARM_01").value
            return _GE_PARTS.get(int(value), "mag")
        except (KeyError, TypeError, ValueError):
            pass
    return "mag"
