"""Argument checks shared by the score store, its sessions and the CSV reader."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .scale import ITEMS, SCORE_MAX, SCORE_MIN

__all__ = ["ScoreError", "check_score", "check_item", "check_reader", "check_subject"]


class ScoreError(ValueError):
    """A score, item, reader or subject that cannot be recorded, a refused operation
    (blinding, a locked reader) or a file that is not a score store."""


_SUBJECT = re.compile(r"[A-Za-z0-9]+")


def check_score(score: Any) -> int:
    """Return ``score`` as a Python int if it is an integer in 0–4, else raise.

    Python ints and NumPy integer scalars qualify; bools (``True`` is an ``int`` to Python),
    floats (even ``2.0``), strings and ``None`` do not.

    Raises
    ------
    ScoreError
        Naming the value and why it was refused.
    """
    if isinstance(score, (bool, np.bool_)) or not isinstance(score, (int, np.integer)):
        raise ScoreError(f"score must be an integer {SCORE_MIN}–{SCORE_MAX}, "
                         f"got {score!r} ({type(score).__name__})")
    value = int(score)
    if not SCORE_MIN <= value <= SCORE_MAX:
        raise ScoreError(f"score must be an integer {SCORE_MIN}–{SCORE_MAX}, got {value}")
    return value


def check_item(item: Any) -> str:
    """Return ``item`` if it is one of :data:`~qmri_kernels.scores.ITEMS`, else raise."""
    if not isinstance(item, str) or item not in ITEMS:
        raise ScoreError(f"unknown item {item!r}; known: {', '.join(ITEMS)}")
    return item


def check_reader(reader: Any) -> str:
    """Return ``reader`` stripped of surrounding blanks; raise if it is not a non-blank str."""
    if not isinstance(reader, str) or not reader.strip():
        raise ScoreError(f"reader must be a non-blank string, got {reader!r}")
    if any(not ch.isprintable() for ch in reader):
        raise ScoreError(f"reader {reader!r} contains control characters")
    return reader.strip()


def check_subject(subject: Any) -> str:
    """Return the BIDS label of ``subject`` ("01" for "01" or "sub-01"), else raise.

    Subjects are strings (so that "01" keeps its zero), letters and digits, optionally
    prefixed by ``sub-``, which is dropped.
    """
    if not isinstance(subject, str) or not subject.strip():
        raise ScoreError(f"subject must be a non-blank string such as '01', got {subject!r}")
    label = subject.strip()
    label = label[4:] if label.startswith("sub-") else label
    if not _SUBJECT.fullmatch(label):
        raise ScoreError(f"subject {subject!r} is not a BIDS label (letters and digits, "
                         "optionally prefixed by 'sub-')")
    return label
