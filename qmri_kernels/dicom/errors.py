"""The one error class of DICOM ingest, its warning, and how a skipped file is reported."""

from __future__ import annotations

import logging
import warnings

__all__ = ["DicomError", "DicomWarning", "report_skip"]

log = logging.getLogger("qmri_kernels.dicom")


class DicomError(ValueError):
    """Bad DICOM input: the message names the file or series and what is wrong.

    Raised before anything is written, so a failed subject leaves no output behind.
    """


class DicomWarning(UserWarning):
    """Something in a DICOM tree was skipped or left alone: a non-DICOM file, a non-image
    object (DICOMDIR, presentation state, structured report, header without pixel data), a
    series of no known role, or a series the later steps can use only in part."""


def report_skip(message: str, *, stacklevel: int = 3) -> None:
    """Report something skipped, with its reason: in the log and as a :class:`DicomWarning`.

    Parameters
    ----------
    message : str
        Names the file or series and says why (never an identifying value).
    stacklevel : int
        Passed to :func:`warnings.warn`.
    """
    log.warning(message)
    warnings.warn(message, DicomWarning, stacklevel=stacklevel)
