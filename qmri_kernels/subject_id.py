"""Subject identifiers: the one place that turns ``"sub-01"`` or ``"01"`` into a BIDS label."""

from __future__ import annotations

import re

__all__ = ["subject_label", "LABEL_PATTERN"]

#: A BIDS subject label: letters and digits (BIDS 1.9, "label" entity values).
LABEL_PATTERN = re.compile(r"[A-Za-z0-9]+")


def subject_label(subject: str, error: type[Exception] = ValueError) -> str:
    """The BIDS label of a subject id.

    Parameters
    ----------
    subject : str
        ``"sub-01"`` or ``"01"``.
    error : exception class
        Raised (with a message naming the id) when the id is not a BIDS label; each
        package passes its own error class (``DicomError``, ``DerivativesError`` ...).

    Returns
    -------
    str
        The label without the prefix.

    Raises
    ------
    Exception
        ``error`` (ValueError by default) if the id, after dropping ``sub-``, is not
        letters and digits.

    Examples
    --------
    >>> subject_label("sub-01"), subject_label("13")
    ('01', '13')
    """
    label = str(subject)
    label = label[4:] if label.startswith("sub-") else label
    if not LABEL_PATTERN.fullmatch(label):
        raise error(f"subject {subject!r} is not a BIDS label (letters and digits, "
                    "optionally prefixed by 'sub-')")
    return label
