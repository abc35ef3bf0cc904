"""The one error class of DICOM ingest, and its warning."""

from __future__ import annotations

__all__ = ["DicomError", "DicomWarning"]


class DicomError(ValueError):
    """Bad DICOM input: the message names the file or series and what is wrong.

    Raised before anything is written, so a failed subject leaves no output behind.
    """


class DicomWarning(UserWarning):
    """Something in a DICOM tree was skipped: a non-DICOM file, a series of no known role."""
