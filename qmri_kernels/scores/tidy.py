"""Score tables on disk: reading tidy score CSVs, importing a reader's scores.

Two layouts are read, one row per subject × reader × item:

* the store's own export: ``subject, reader, item, score``;
* the synthetic cohort's ``sourcedata/scores_pathology.csv``: ``participant_id``
  (``sub-01``) and/or ``patient`` (1), ``reader``, ``score`` (the item name), ``value``.

Cells are read as text and checked strictly: a score is one digit 0–4 ("2.0", "", "NA"
are refused), subjects keep their leading zeros.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING


from ._checks import ScoreError, check_item, check_reader, check_subject
from .scale import SCORE_MAX, SCORE_MIN

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["read_score_csv", "import_reader_scores"]

_MAX_LISTED = 10
_SCORE = re.compile(rf"[{SCORE_MIN}-{SCORE_MAX}]")


def _columns(df: pd.DataFrame, path: Path) -> tuple[str, str, str]:
    """(subject column, item column, score column) of a score CSV."""
    cols = set(df.columns)
    if {"item", "score"} <= cols:
        item_col, score_col = "item", "score"
    elif {"score", "value"} <= cols:
        item_col, score_col = "score", "value"
    else:
        raise ScoreError(f"{path}: score CSV needs columns 'subject, reader, item, score' or "
                         f"'participant_id, reader, score, value'; found {', '.join(df.columns)}")
    for subject_col in ("subject", "participant_id", "patient"):
        if subject_col in cols:
            return subject_col, item_col, score_col
    raise ScoreError(f"{path}: score CSV has no subject column ('subject', 'participant_id' "
                     f"or 'patient'); found {', '.join(df.columns)}")


def read_score_csv(path: str | os.PathLike,
                   reader: str | None = None) -> list[tuple[str, str, str, int]]:
    """Read and check a tidy score CSV.

    Parameters
    ----------
    path : str or path-like
        CSV with ``subject`` (or ``participant_id`` / ``patient``), ``item`` (or
        ``score``) and ``score`` (or ``value``) columns, and optionally ``reader``.
    reader : str, optional
        Keep only this reader's rows (if the file has a ``reader`` column) or assign all
        rows to this reader (if it has none).

    Returns
    -------
    list of (subject, reader, item, score)
        Checked rows; duplicates with equal values are merged.

    Raises
    ------
    ScoreError
        File missing or unreadable, columns missing, no rows for ``reader``, or invalid or
        conflicting rows (up to ten listed, with their line numbers).
    """
    import pandas as pd

    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError as exc:
        raise ScoreError(f"score CSV {path} does not exist") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ScoreError(f"{path}: not a readable CSV ({exc})") from exc
    subject_col, item_col, score_col = _columns(df, path)
    if "reader" in df.columns:
        if reader is not None:
            reader = check_reader(reader)
            df = df[df["reader"].str.strip() == reader]
            if df.empty:
                raise ScoreError(f"{path}: no rows for reader {reader!r}")
    elif reader is None:
        raise ScoreError(f"{path}: the CSV has no 'reader' column; pass reader=")
    else:
        df = df.assign(reader=check_reader(reader))
    problems: list[str] = []
    rows: dict[tuple[str, str, str], int] = {}
    for line, rec in zip(df.index + 2, df.to_dict("records")):
        try:
            raw_subject = rec[subject_col].strip()
            if subject_col == "patient" and raw_subject.isdigit():
                raw_subject = f"{int(raw_subject):02d}"
            subject = check_subject(raw_subject)
            rdr = check_reader(rec["reader"])
            item = check_item(rec[item_col].strip())
            text = rec[score_col].strip()
            if not _SCORE.fullmatch(text):
                raise ScoreError(f"score must be an integer {SCORE_MIN}–{SCORE_MAX}, "
                                 f"got {text!r}")
            score = int(text)
            key = (subject, rdr, item)
            if rows.get(key, score) != score:
                raise ScoreError(f"conflicting scores {rows[key]} and {score} for "
                                 f"subject {subject}, reader {rdr}, item {item}")
            rows[key] = score
        except ScoreError as exc:
            problems.append(f"line {line}: {exc}")
    if problems:
        more = len(problems) - _MAX_LISTED
        listed = "\n  ".join(problems[:_MAX_LISTED]) + (f"\n  … and {more} more" if more > 0 else "")
        raise ScoreError(f"{path}: {len(problems)} invalid row(s), nothing imported:\n  {listed}")
    return [(*key, score) for key, score in rows.items()]


def import_reader_scores(store, csv: str | os.PathLike, reader: str, *, lock: bool = True,
                         force: bool = False) -> int:
    """Enter one reader's scores from a CSV into the store, then lock that reader.

    This is how the synthetic cohort's simulated R3 and R4 scores (or a pathologist's
    spreadsheet) enter the blinded double-entry workflow: the same checks and append-only
    events as scores typed in a :class:`~qmri_kernels.scores.ReaderSession`, then the
    reader's :meth:`~qmri_kernels.scores.ReaderSession.lock`. Idempotent: importing the
    same file again writes nothing (and is allowed after the lock, since nothing changes).

    Parameters
    ----------
    store : ScoreStore
        The open store the scores are recorded in.
    csv : str or path-like
        Tidy score CSV (see :func:`read_score_csv`).
    reader : str
        Whose rows to import (e.g. "R3").
    lock : bool, optional
        Lock the reader afterwards (default). Completeness is checked over the subjects
        present in the file.
    force : bool, optional
        Lock even if some (subject, item) of those subjects has no score.

    Returns
    -------
    int
        Number of score events written (0 on a repeated import).

    Raises
    ------
    ScoreError
        Invalid file or rows (nothing written), a change after the reader locked, or an
        incomplete set when ``lock`` and not ``force`` (the scores stay recorded, unlocked).
    """
    reader = check_reader(reader)
    written = store.import_csv(csv, reader=reader)
    if lock:
        subjects = sorted({row[0] for row in read_score_csv(csv, reader)})
        store.session(reader, subjects).lock(force=force)
    return written
