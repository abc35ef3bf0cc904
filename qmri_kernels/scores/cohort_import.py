"""A cohort's pathologist scores from its CSV into the score store, then locked.

The synthetic cohort (and a study whose pathologists scored on paper or in a spreadsheet)
ships its R3/R4 scores as one tidy CSV, named by the manifest (``scores``). The analysis
reads the store, never the CSV: :func:`import_cohort_scores` enters each reader's rows
through the store's API (:func:`~qmri_kernels.scores.import_reader_scores`: the same checks
and append-only events as scores typed in a blinded session) and locks that reader, so
that :meth:`~qmri_kernels.scores.ScoreStore.comparison` opens.

What happens to each reader:

* **not in the store yet** (or only earlier imports, unlocked): imported and locked;
* **locked, scores equal to the CSV**: kept (importing again writes nothing);
* **scoring by hand** (entries from a :class:`~qmri_kernels.scores.ReaderSession` and not
  locked): left alone — a pathologist is at work; the comparison stays blinded until they
  lock;
* **locked, scores different from the CSV** (the CSV was regenerated or edited after the
  import): a locked reader's scores cannot change. If *every* event in the store came
  from a CSV import — nobody entered or corrected a score by hand — the store is a copy of
  a CSV and is **rebuilt**: the old file is kept beside it under a dated name
  (``scores.replaced-20240131T120000Z.sqlite``; nothing is deleted) and a new store is
  made from the current CSV. A store holding anything entered by hand is never replaced:
  :class:`~qmri_kernels.scores.ScoreError` says how many scores differ and what to do.

The whole file is imported (every subject in it), whichever subjects a manifest lists;
the analysis selects its subjects from the comparison.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ._checks import ScoreError, check_reader
from .scale import DEFAULT_READERS
from .store import ScoreStore
from .tidy import import_reader_scores, read_score_csv

__all__ = ["CohortImport", "import_cohort_scores", "csv_differences", "IMPORT_SOURCE_PREFIX"]

#: Prefix of the ``source`` of score events written by a CSV import.
IMPORT_SOURCE_PREFIX = "import:"


@dataclass(frozen=True)
class CohortImport:
    """What :func:`import_cohort_scores` did.

    Attributes
    ----------
    store : Path
        The store file.
    csv : Path
        The cohort's score CSV.
    imported : dict of str to int
        Readers imported (and locked) by this call → score events written.
    kept : tuple of str
        Readers already locked with exactly the CSV's scores.
    by_hand : tuple of str
        Readers left alone because they are scoring by hand and have not locked.
    changed : dict of str to int
        Readers whose locked scores differed from the CSV → number of (subject, item)
        pairs that differed (non-empty only when the store was rebuilt).
    replaced : Path or None
        Where the old store was moved when it was rebuilt.
    """

    store: Path
    csv: Path
    imported: dict[str, int] = field(default_factory=dict)
    kept: tuple[str, ...] = ()
    by_hand: tuple[str, ...] = ()
    changed: dict[str, int] = field(default_factory=dict)
    replaced: Path | None = None

    def describe(self) -> str:
        """Plain sentences for a reader of the book (file names only, no folders).

        Returns
        -------
        str
            One sentence per non-empty outcome, in this order: the store was rebuilt
            (with the number of differing scores per reader), readers imported and
            locked, readers already equal to the CSV, readers still scoring by hand;
            the empty string if the call did nothing.
        """
        parts = []
        if self.replaced is not None:
            diffs = ", ".join(f"{r}: {n}" for r, n in self.changed.items())
            parts.append(f"The score file {self.csv.name} has changed since the store was "
                         f"made from it ({diffs} scores differ); the store held nothing "
                         f"entered by hand, so it was rebuilt from the file (the old one is "
                         f"kept as {self.replaced.name}).")
        if self.imported:
            parts.append(f"Imported from {self.csv.name} and locked: "
                         + ", ".join(f"{r} ({n} scores)" for r, n in self.imported.items())
                         + ".")
        if self.kept:
            parts.append(f"Already in the store, locked, equal to {self.csv.name}: "
                         + ", ".join(self.kept) + ".")
        if self.by_hand:
            parts.append("Scoring by hand and not locked yet: " + ", ".join(self.by_hand)
                         + " (their scores stay blinded).")
        return " ".join(parts)


def csv_differences(store: ScoreStore, csv: str | os.PathLike, reader: str) -> int:
    """Number of (subject, item) pairs where the store's current scores of ``reader``
    and the CSV's differ (a pair present on one side only counts).

    Parameters
    ----------
    store : ScoreStore
        The open store (its current, unblinded scores are compared).
    csv : str or path-like
        Tidy score CSV (:func:`~qmri_kernels.scores.read_score_csv`).
    reader : str
        Reader id, e.g. ``"R3"``.

    Returns
    -------
    int
        Count of differing (subject, item) pairs; 0 when the store holds exactly the
        CSV's scores of this reader.

    Raises
    ------
    ScoreError
        Unreadable CSV, or no rows for ``reader`` in it.
    """
    reader = check_reader(reader)
    wanted = {(s, i): v for s, _, i, v in read_score_csv(csv, reader)}
    table = store.table(reader)
    current = {(s, i): int(v) for s, i, v in table[["subject", "item", "score"]].itertuples(
        index=False, name=None)}
    return sum(wanted.get(k) != current.get(k) for k in set(wanted) | set(current))


def _hand_entered(store: ScoreStore, reader: str | None = None) -> int:
    """Score events of ``reader`` (all readers if None) not written by a CSV import."""
    history = store.history(reader=reader)
    return int((~history["source"].str.startswith(IMPORT_SOURCE_PREFIX)).sum())


def _import_only(store: ScoreStore) -> bool:
    """Whether every score event came from a CSV import and nobody wrote a note."""
    return _hand_entered(store) == 0 and store.notes().empty


def _move_aside(path: Path) -> Path:
    """Rename a closed store (and any -wal/-shm beside it) to a dated name; return it."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.stem}.replaced-{stamp}{path.suffix}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.stem}.replaced-{stamp}-{n}{path.suffix}")
        n += 1
    for extra in ("-wal", "-shm"):
        side = path.with_name(path.name + extra)
        if side.exists():
            os.replace(side, target.with_name(target.name + extra))
    os.replace(path, target)
    return target


def import_cohort_scores(store_path: str | os.PathLike, csv: str | os.PathLike,
                         readers: Sequence[str] = DEFAULT_READERS, *,
                         rebuild: bool = True) -> CohortImport:
    """Bring the store up to date with the cohort's score CSV, reader by reader.

    Parameters
    ----------
    store_path : str or path-like
        The score store (``Manifest.score_store``); created if missing.
    csv : str or path-like
        The cohort's tidy score CSV (``Manifest.scores``), e.g. the synthetic cohort's
        ``participant_id, patient, reader, score, value``.
    readers : sequence of str
        Readers to import (default R3 and R4). Each must have rows in the CSV.
    rebuild : bool
        Rebuild a store made only by imports when a locked reader's scores differ from the
        CSV (default). With False that case raises.

    Returns
    -------
    CohortImport
        What was imported, kept, left alone or rebuilt; :meth:`CohortImport.describe`
        says it in words.

    Raises
    ------
    ScoreError
        The CSV is missing, unreadable or lacks a reader's rows (nothing written); or a
        locked reader's scores differ from the CSV and the store cannot be rebuilt (it
        holds entries made by hand, or ``rebuild`` is False) — the message names the
        readers and the number of differing scores.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from qmri_kernels.scores import ITEMS
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> rows = "".join(f"01,{r},{i},2\\n" for r in ("R3", "R4") for i in ITEMS)
    >>> _ = (tmp / "s.csv").write_text("subject,reader,item,score\\n" + rows)
    >>> import_cohort_scores(tmp / "store.sqlite", tmp / "s.csv").imported
    {'R3': 10, 'R4': 10}
    >>> import_cohort_scores(tmp / "store.sqlite", tmp / "s.csv").kept
    ('R3', 'R4')
    """
    path, csv = Path(store_path), Path(csv)
    readers = tuple(check_reader(r) for r in readers)
    for reader in readers:              # every reader's rows readable before any write
        read_score_csv(csv, reader)
    changed: dict[str, int] = {}
    replaced = None
    with ScoreStore(path) as store:
        for reader in readers:
            if store.is_locked(reader):
                n = csv_differences(store, csv, reader)
                if n:
                    changed[reader] = n
        if changed:
            diffs = ", ".join(f"{r} ({n} scores)" for r, n in changed.items())
            if not (rebuild and _import_only(store)):
                why = ("it holds scores or notes entered by hand" if rebuild
                       else "rebuild=False")
                raise ScoreError(
                    f"score store {path.name}: the locked scores of {diffs} differ from "
                    f"{csv.name}, and the store is not rebuilt because {why}. Keep the "
                    "store (and the CSV it was made from), or point the manifest's "
                    "score_store at a new file to start from the CSV")
    if changed:
        replaced = _move_aside(path)
    imported: dict[str, int] = {}
    kept: list[str] = []
    by_hand: list[str] = []
    with ScoreStore(path) as store:
        for reader in readers:
            if store.is_locked(reader):
                kept.append(reader)
            elif _hand_entered(store, reader):
                by_hand.append(reader)
            else:
                imported[reader] = import_reader_scores(store, csv, reader)
    return CohortImport(store=path, csv=csv, imported=imported, kept=tuple(kept),
                        by_hand=tuple(by_hand), changed=changed, replaced=replaced)
