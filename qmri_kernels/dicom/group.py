"""Group image headers into series: one per (SeriesInstanceUID, image part).

Vendors differ in where magnitude and phase go: GE IDEAL-IQ raw echoes and Siemens GRE
write them as separate series, Philips and some GE sequences interleave them in one. Keying
on the series UID *and* the image part gives one homogeneous series either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from .parts import PART_ORDER, image_part
from .errors import DicomError
from .headers import ImageHeader

__all__ = ["Series", "group_series"]


@dataclass(frozen=True, eq=False)
class Series:
    """The images of one series and one image part.

    Attributes
    ----------
    series_uid : str
    part : str
        ``"mag"``, ``"phase"``, ``"real"`` or ``"imag"``.
    headers : list of ImageHeader
        In discovery order.
    """

    series_uid: str
    part: str
    headers: list[ImageHeader]

    @property
    def number(self) -> int | None:
        """SeriesNumber of the first image."""
        return self.headers[0].series_number

    @property
    def description(self) -> str:
        """SeriesDescription of the first image (empty string when absent)."""
        return self.headers[0].series_description

    @property
    def label(self) -> str:
        """How messages name this series: number, description and part."""
        return f"series {self.number} '{self.description}' ({self.part})"


def group_series(headers: list[ImageHeader]) -> list[Series]:
    """Group headers by (SeriesInstanceUID, image part), ordered by series number then part.

    Parameters
    ----------
    headers : list of ImageHeader
        Image headers of any number of series, in discovery order.

    Returns
    -------
    list of Series
        One per (SeriesInstanceUID, image part), sorted by SeriesNumber (missing numbers
        last), then part in :data:`~qmri_kernels.dicom.parts.PART_ORDER`, then UID; the
        headers of each keep discovery order.

    Raises
    ------
    DicomError
        An image without SeriesInstanceUID (named).
    """
    groups: dict[tuple[str, str], list[ImageHeader]] = {}
    for h in headers:
        if not h.series_uid:
            raise DicomError(f"{h.name}: no SeriesInstanceUID; cannot tell which series "
                             "the image belongs to")
        groups.setdefault((h.series_uid, image_part(h)), []).append(h)
    series = [Series(uid, part, hs) for (uid, part), hs in groups.items()]
    series.sort(key=lambda s: (s.number if s.number is not None else 10**9,
                               PART_ORDER.index(s.part), s.series_uid))
    return series
