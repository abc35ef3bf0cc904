"""Decide what an image is (magnitude/phase/real/imaginary) and what a series is for.

Roles of the thigh protocol (Wang et al. 2023, Methods):

``megre``
    multi-echo gradient echo for fat-water separation (IDEAL-IQ raw echoes): scanning
    sequence GR, at least 3 echo times (a 3-point Dixon is the minimum for a field-map
    fit; Reeder et al. 2004, MRM 51:35), any image part.
``mese``
    multi-echo spin echo for T2 mapping: scanning sequence SE (no GR, no IR), at least
    3 echo times, magnitude.
``t2w``
    T2-weighted structural: SE (fast spin echo), one echo with TE ≥ 60 ms and TR ≥ 1.5 s,
    magnitude.

Everything else (localizers, derived maps, enhanced multi-frame objects, phase images of
spin-echo series) has no role: it is reported and left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .headers import ImageHeader
from .parts import PART_ORDER, image_part

if TYPE_CHECKING:
    from .group import Series

__all__ = ["ROLES", "PART_ORDER", "image_part", "Classification", "classify",
           "T2W_MIN_TE", "T2W_MIN_TR", "MIN_ECHOES"]

ROLES: tuple[str, ...] = ("megre", "mese", "t2w")
#: Minimum echo time of a T2-weighted image, s.
T2W_MIN_TE: float = 0.060
#: Minimum repetition time of a T2-weighted image, s.
T2W_MIN_TR: float = 1.5
#: Minimum number of echo times of a multi-echo series.
MIN_ECHOES: int = 3

@dataclass(frozen=True)
class Classification:
    """Role of a series (``None``: no role) and the reason, for the report."""

    role: str | None
    reason: str


def _scanning_sequence(header: ImageHeader) -> set[str]:
    value = header.dataset.get("ScanningSequence") or []
    items = [value] if isinstance(value, str) else list(value)
    return {str(v).strip().upper() for v in items}


def classify(series: Series) -> Classification:
    """The role of ``series`` in the thigh protocol, from its headers only.

    Parameters
    ----------
    series : Series

    Returns
    -------
    Classification
        ``role`` in :data:`ROLES` or ``None``, and a one-line reason.
    """
    first = series.headers[0]
    if any(h.n_frames > 1 for h in series.headers):
        return Classification(None, "multi-frame (enhanced) images are not supported; "
                                    "convert them with dcm2niix")
    seq = _scanning_sequence(first)
    if not seq:
        return Classification(None, "no ScanningSequence")
    times = {round(h.echo_time, 7) for h in series.headers if h.echo_time is not None}
    numbers = {h.echo_number for h in series.headers if h.echo_number is not None}
    n_echoes = len(times) if times else len(numbers)
    tr = first.repetition_time
    if "GR" in seq and n_echoes >= MIN_ECHOES:
        return Classification("megre", f"gradient echo with {n_echoes} echo times")
    if "SE" in seq and "GR" not in seq and "IR" not in seq:
        if series.part != "mag":
            return Classification(None, f"{series.part} images of a spin-echo series")
        if n_echoes >= MIN_ECHOES:
            return Classification("mese", f"spin echo with {n_echoes} echo times")
        te = first.echo_time
        if n_echoes == 1 and te is not None and tr is not None and te >= T2W_MIN_TE \
                and tr >= T2W_MIN_TR:
            return Classification("t2w", f"spin echo, TE {te * 1e3:.0f} ms, TR {tr * 1e3:.0f} ms")
    return Classification(None, f"{'/'.join(sorted(seq))} with {n_echoes} echo time(s), "
                                f"TR {'?' if tr is None else f'{tr * 1e3:.0f} ms'}: "
                                "not a role of the thigh protocol")
