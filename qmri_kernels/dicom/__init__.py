"""DICOM ingest: find, classify, sort, check and de-identify series; write BIDS NIfTI + JSON.

``ingest(source_dir, out_dir, subject)`` is the whole job; :func:`load_series` reads the
result back for the fitting chapters. Bad input raises :class:`DicomError` (a
``ValueError``) naming the file or series.

One job per module: :mod:`.discover` (files by content), :mod:`.headers` (header only;
non-image objects skipped), :mod:`.enhanced` (multi-frame files split into frames),
:mod:`.group` (series × image part), :mod:`.classify` (role), :mod:`.sort` (slice × echo
table), :mod:`.check` (the checks), :mod:`.decoders` (compressed pixel data: decoders and
what to install), :mod:`.volume` (pixels, rescale, phase, affine),
:mod:`.deidentify` (PS3.15 allow-list), :mod:`.sidecar` (BIDS JSON), :mod:`.bids` (names,
writing, reading back), :mod:`.summary` (tables for the book), :mod:`.privacy` (identity
scan); ``_ingest`` strings them together atomically.
"""

from .bids import LoadedSeries, bids_name, bids_path, load_series, subject_label
from .classify import Classification, classify, image_part
from .deidentify import ALLOWED_KEYWORDS, deidentify
from .discover import discover
from .errors import DicomError, DicomWarning
from .group import Series, group_series
from ._ingest import PlannedSeries, ingest, load_subject_series, plan
from .headers import ImageHeader, read_header, read_headers
from .privacy import find_strings
from .sort import SortedSeries, sort_series
from .summary import header_listing, series_table, survey
from .volume import Volume, affine_ras, assemble

__all__ = [
    "ingest", "load_subject_series", "DicomError", "DicomWarning", "load_series",
    "LoadedSeries", "bids_path",
    "bids_name", "subject_label", "plan", "PlannedSeries", "discover", "read_header",
    "read_headers", "ImageHeader", "group_series", "Series", "classify", "Classification",
    "image_part", "sort_series", "SortedSeries", "assemble", "Volume", "affine_ras",
    "deidentify", "ALLOWED_KEYWORDS", "survey", "series_table", "header_listing",
    "find_strings",
]
