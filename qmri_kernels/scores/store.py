"""The score store: histopathology scores in a crash-safe, append-only SQLite file.

Every score a reader enters is one short transaction (``BEGIN IMMEDIATE`` … ``COMMIT``)
on a WAL-journaled database with ``synchronous=FULL``: when :meth:`ScoreStore.record`
returns, the score is on disk and survives a killed process or a power cut. Scores are
never overwritten: a second score for the same (subject, reader, item) is a *correction*,
stored as a new event that names the value it replaces; the current value is the newest
event (:meth:`ScoreStore.table`), the full log is :meth:`ScoreStore.history`. SQLite
triggers refuse UPDATE and DELETE on the event tables, whoever opens the file. Several
processes may write at once; a writer waits for the other's transaction (busy timeout
30 s) and nothing is lost.

Blinded double data entry (each biopsy scored twice, independently, then compared) follows
the design of REDCap's double data entry module [2]_: each reader works in a
:class:`~qmri_kernels.scores.ReaderSession` that shows only their own entries under a
blinded slide code, and :meth:`ScoreStore.comparison` unblinds both readers side by side
only once both have locked their scores. The store itself (:meth:`~ScoreStore.table`,
:meth:`~ScoreStore.export_csv`) is the data manager's view and is not blinded.

References
----------
.. [1] Wang F, Fang S, Li J, et al. (2023) Correlation analysis of quantitative MRI
   measurements of thigh muscles with histopathology in patients with idiopathic
   inflammatory myopathy. Eur Radiol Exp 7:45. doi:10.1186/s41747-023-00350-z
.. [2] Harris PA, Taylor R, Thielke R, Payne J, Gonzalez N, Conde JG (2009) Research
   electronic data capture (REDCap) — a metadata-driven methodology and workflow process
   for providing translational research informatics support. J Biomed Inform 42:377–381.
   doi:10.1016/j.jbi.2008.08.010
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any


from ..file_modes import publish_mode
from ._checks import ScoreError, check_item, check_reader, check_score, check_subject
from ._schema import open_store_connection, utc_now
from .scale import DEFAULT_READERS, ITEMS
from .tidy import read_score_csv

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .session import ReaderSession

__all__ = ["ScoreStore", "Comparison", "Disagreement", "SLIDE_CODE_ALPHABET"]

#: Characters of a slide code: digits and capitals without 0/O and 1/I (32 symbols).
SLIDE_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_CODE_LENGTH = 4

_ITEM_ORDER = {item: i for i, item in enumerate(ITEMS)}
_TIDY_COLUMNS = ["subject", "reader", "item", "score"]


def _slide_code(salt: bytes, subject: str, attempt: int) -> str:
    """``S-XXXX``: 20 bits of HMAC-SHA256(salt, subject[, attempt]) in :data:`SLIDE_CODE_ALPHABET`."""
    message = subject.encode("utf-8") + (b"" if attempt == 0 else b"\x00%d" % attempt)
    value = int.from_bytes(hmac.new(salt, message, hashlib.sha256).digest()[:8], "big")
    chars = []
    for _ in range(_CODE_LENGTH):
        chars.append(SLIDE_CODE_ALPHABET[value & 31])
        value >>= 5
    return "S-" + "".join(chars)


def _sorted_scores(df: pd.DataFrame) -> pd.DataFrame:
    order = df["item"].map(_ITEM_ORDER)
    return (df.assign(_order=order).sort_values(["subject", "reader", "_order"], kind="stable")
              .drop(columns="_order").reset_index(drop=True))


@dataclass(frozen=True)
class Disagreement:
    """One (subject, item) on which two readers differ, for adjudication.

    Attributes
    ----------
    subject : str
    item : str
    scores : dict of str to int or None
        Reader → current score (``None``: that reader did not score the item).
    """

    subject: str
    item: str
    scores: dict[str, int | None] = field(hash=False)

    @property
    def difference(self) -> int | None:
        """Absolute difference of the two scores (``None`` if one is missing)."""
        values = list(self.scores.values())
        if any(v is None for v in values):
            return None
        return abs(values[0] - values[1])


@dataclass(frozen=True)
class Comparison:
    """Two readers' current scores side by side (unblinded).

    Attributes
    ----------
    readers : (2,) tuple of str
    table : DataFrame
        One row per subject × item: ``subject`` (str), ``item``, one nullable-integer
        column per reader, named after the reader.

    Notes
    -----
    For reading, a comparison also behaves like its table: ``len(cmp)``, ``cmp["R3"]``,
    ``cmp.columns`` are those of ``cmp.table``.
    """

    readers: tuple[str, str]
    table: pd.DataFrame = field(hash=False)

    def disagreements(self) -> list[Disagreement]:
        """The (subject, item) pairs whose scores differ or where one reader has none.

        Returns
        -------
        list of Disagreement
            In table order (subject, then item in :data:`~qmri_kernels.scores.ITEMS`
            order); pairs neither reader scored are not listed. Empty if the readers
            agree everywhere.
        """
        import pandas as pd

        a, b = self.readers
        out = []
        for subject, item, va, vb in self.table[["subject", "item", a, b]].itertuples(
                index=False, name=None):
            va = None if pd.isna(va) else int(va)
            vb = None if pd.isna(vb) else int(vb)
            if va != vb:
                out.append(Disagreement(subject, item, {a: va, b: vb}))
        return out

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, key: Any) -> Any:
        return self.table[key]

    def __getattr__(self, name: str) -> Any:
        if name == "table" or name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.table, name)

    def _repr_html_(self) -> str:
        return self.table._repr_html_()


class ScoreStore:
    """Histopathology scores of a cohort in one SQLite file (opened or created).

    Parameters
    ----------
    path : str or path-like
        The store file (``Manifest.score_store``); created with its folder if missing.

    Raises
    ------
    ScoreError
        If ``path`` exists but is not a score store (the message names the file).

    Notes
    -----
    Use one store object per process (or thread); other processes may open the same file.
    WAL journaling needs a local file system (not NFS/SMB).

    References
    ----------
    .. [1] Harris PA et al. (2009) Research electronic data capture (REDCap). J Biomed
       Inform 42:377–381. doi:10.1016/j.jbi.2008.08.010

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp, ScoreStore(pathlib.Path(tmp) / "s.sqlite") as st:
    ...     _ = st.record(subject="01", reader="R3", item="fat", score=2)
    ...     _ = st.record(subject="01", reader="R3", item="fat", score=3)   # a correction
    ...     st.table().to_dict("records"), len(st.history())
    ([{'subject': '01', 'reader': 'R3', 'item': 'fat', 'score': 3}], 2)
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._con: sqlite3.Connection | None = open_store_connection(self.path)
        self._mutex = threading.RLock()
        salt = self._query("SELECT value FROM meta WHERE key = 'slide_code_salt'")
        self._salt = bytes.fromhex(salt[0][0])

    # -- plumbing ---------------------------------------------------------------------
    def __enter__(self) -> ScoreStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._con is None else "open"
        return f"ScoreStore({str(self.path)!r}, {state})"

    def close(self) -> None:
        """Close the file (idempotent). Every recorded score is already on disk."""
        with self._mutex:
            if self._con is not None:
                self._con.close()
                self._con = None

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._con is None

    def _connection(self) -> sqlite3.Connection:
        if self._con is None:
            raise ScoreError(f"score store {self.path} is closed")
        return self._con

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._mutex:
            return self._connection().execute(sql, params).fetchall()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE (waits for other writers) … COMMIT."""
        with self._mutex:
            con = self._connection()
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise

    def _register(self, con: sqlite3.Connection, subjects: Iterable[str]) -> None:
        """Add unseen subjects with their slide code (inside a write transaction)."""
        for subject in subjects:
            if con.execute("SELECT 1 FROM subjects WHERE subject = ?", (subject,)).fetchone():
                continue
            attempt = 0
            while True:
                code = _slide_code(self._salt, subject, attempt)
                if not con.execute("SELECT 1 FROM subjects WHERE code = ?", (code,)).fetchone():
                    break
                attempt += 1
            con.execute("INSERT INTO subjects (subject, code, added_at) VALUES (?, ?, ?)",
                        (subject, code, utc_now()))

    @staticmethod
    def _refuse_if_locked(con: sqlite3.Connection, reader: str) -> None:
        row = con.execute("SELECT locked_at FROM locks WHERE reader = ?", (reader,)).fetchone()
        if row:
            raise ScoreError(f"reader {reader!r} locked their scores at {row[0]}; "
                             "no further entries are accepted")

    @staticmethod
    def _current(con: sqlite3.Connection, subject: str, reader: str, item: str) -> int | None:
        row = con.execute("SELECT score FROM score_events WHERE subject = ? AND reader = ? "
                          "AND item = ? ORDER BY event_id DESC LIMIT 1",
                          (subject, reader, item)).fetchone()
        return None if row is None else row[0]

    # -- subjects -----------------------------------------------------------------------
    def add_subjects(self, subjects: Iterable[str]) -> list[str]:
        """Register subjects (labels such as "01" or "sub-01"); return their labels.

        Each new subject gets its blinded slide code now; codes never change afterwards.
        Subjects already registered are left as they are. One write transaction.

        Parameters
        ----------
        subjects : iterable of str
            Subject ids, ``"01"`` or ``"sub-01"``.

        Returns
        -------
        list of str
            The labels without ``sub-``, in the order given (duplicates kept).

        Raises
        ------
        ScoreError
            If an id is not a BIDS label (nothing is registered then) or the store is
            closed.
        """
        labels = [check_subject(s) for s in subjects]
        with self._write() as con:
            self._register(con, labels)
        return labels

    def subjects(self) -> list[str]:
        """Labels of the registered subjects, sorted.

        Returns
        -------
        list of str
            Labels without ``sub-`` (``"01"``), sorted as strings.
        """
        return [r[0] for r in self._query("SELECT subject FROM subjects ORDER BY subject")]

    def slide_codes(self) -> dict[str, str]:
        """Subject → blinded slide code (the unblinding key; keep it from the readers).

        A code is ``S-`` and four characters of :data:`SLIDE_CODE_ALPHABET` taken from an
        HMAC-SHA256 of the subject label keyed by a random salt stored in the file, so the
        code reveals nothing about the subject without the file.

        Returns
        -------
        dict of str to str
            Subject label → slide code, ``"S-7K2Q"``, for every registered subject.
        """
        return dict(self._query("SELECT subject, code FROM subjects ORDER BY subject"))

    # -- scores -------------------------------------------------------------------------
    def record(self, subject: str, reader: str, item: str, score: int, *,
               source: str = "entry") -> bool:
        """Record one score; durable on disk when this returns.

        Parameters
        ----------
        subject : str
            Subject label ("01"; a ``sub-`` prefix is dropped).
        reader : str
            Reader id, e.g. "R3".
        item : str
            One of :data:`~qmri_kernels.scores.ITEMS`.
        score : int
            0–4 (Python or NumPy integer; not bool, float or str).
        source : str, optional
            What entered the score (kept in the history).

        Returns
        -------
        bool
            True if an event was written; False if the current value already equals
            ``score`` (nothing written).

        Raises
        ------
        ScoreError
            Invalid argument, or ``reader`` has locked their scores. Nothing is written.
        """
        subject, reader = check_subject(subject), check_reader(reader)
        item, score = check_item(item), check_score(score)
        with self._write() as con:
            self._refuse_if_locked(con, reader)
            self._register(con, [subject])
            previous = self._current(con, subject, reader, item)
            if previous == score:
                return False
            con.execute("INSERT INTO score_events (subject, reader, item, score, previous, "
                        "recorded_at, source) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (subject, reader, item, score, previous, utc_now(), str(source)))
        return True

    def score(self, subject: str, reader: str, item: str) -> int | None:
        """Current score of one (subject, reader, item), or None if never scored.

        Parameters
        ----------
        subject : str
            Subject label (``"01"``; a ``sub-`` prefix is dropped).
        reader : str
            Reader id, e.g. ``"R3"``.
        item : str
            One of :data:`~qmri_kernels.scores.ITEMS`.

        Returns
        -------
        int or None
            The newest recorded score, 0–4; None if this reader never scored the item.

        Raises
        ------
        ScoreError
            Invalid subject, reader or item, or the store is closed.
        """
        subject, reader, item = check_subject(subject), check_reader(reader), check_item(item)
        with self._mutex:
            return self._current(self._connection(), subject, reader, item)

    def table(self, reader: str | None = None) -> pd.DataFrame:
        """Current scores, tidy: one row per subject × reader × item.

        Parameters
        ----------
        reader : str, optional
            Only this reader's scores.

        Returns
        -------
        DataFrame
            Columns ``subject`` (str), ``reader``, ``item``, ``score`` (int64), sorted by
            subject, reader and item in :data:`~qmri_kernels.scores.ITEMS` order.
        """
        import pandas as pd

        sql = "SELECT subject, reader, item, score FROM current_scores"
        params: tuple = ()
        if reader is not None:
            sql, params = sql + " WHERE reader = ?", (check_reader(reader),)
        df = pd.DataFrame(self._query(sql, params), columns=_TIDY_COLUMNS)
        df = df.astype({"subject": str, "reader": str, "item": str, "score": "int64"})
        return _sorted_scores(df)

    def history(self, subject: str | None = None, reader: str | None = None,
                item: str | None = None) -> pd.DataFrame:
        """The score event log (every score and correction), oldest first.

        Parameters
        ----------
        subject, reader, item : str, optional
            Keep only the events of this subject (``"01"`` or ``"sub-01"``), reader or
            item; None: all.

        Returns
        -------
        DataFrame
            Columns ``event_id``, ``subject``, ``reader``, ``item``, ``score``,
            ``previous`` (nullable int: the value this event replaced), ``recorded_at``
            (UTC, ISO 8601), ``source``.

        Raises
        ------
        ScoreError
            If a filter value is invalid (unknown item, non-label subject, blank reader)
            or the store is closed.
        """
        import pandas as pd

        where, params = [], []
        for column, value, check in (("subject", subject, check_subject),
                                     ("reader", reader, check_reader),
                                     ("item", item, check_item)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(check(value))
        sql = ("SELECT event_id, subject, reader, item, score, previous, recorded_at, source "
               "FROM score_events" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY event_id")
        columns = ["event_id", "subject", "reader", "item", "score", "previous",
                   "recorded_at", "source"]
        df = pd.DataFrame(self._query(sql, params), columns=columns)
        return df.astype({"event_id": "int64", "subject": str, "score": "int64",
                          "previous": "Int64"})

    # -- notes --------------------------------------------------------------------------
    def record_note(self, subject: str, reader: str, text: str, *, source: str = "entry") -> bool:
        """Save a reader's free-text note on a subject's slide (durable on return).

        The new text replaces the current note; earlier notes stay in the log. An unseen
        subject is registered.

        Parameters
        ----------
        subject : str
            Subject label (``"01"``; a ``sub-`` prefix is dropped).
        reader : str
            Reader id, e.g. ``"R3"``.
        text : str
            The whole note ("" clears it).
        source : str, optional
            What entered the note (kept in the log).

        Returns
        -------
        bool
            True if written, False if the note already reads ``text``.

        Raises
        ------
        ScoreError
            Bad subject/reader, ``text`` not a str, or the reader has locked.
        """
        subject, reader = check_subject(subject), check_reader(reader)
        if not isinstance(text, str):
            raise ScoreError(f"note text must be a str, got {type(text).__name__}")
        with self._write() as con:
            self._refuse_if_locked(con, reader)
            self._register(con, [subject])
            row = con.execute("SELECT text FROM note_events WHERE subject = ? AND reader = ? "
                              "ORDER BY event_id DESC LIMIT 1", (subject, reader)).fetchone()
            if (row[0] if row else "") == text:
                return False
            con.execute("INSERT INTO note_events (subject, reader, text, recorded_at, source) "
                        "VALUES (?, ?, ?, ?, ?)", (subject, reader, text, utc_now(), str(source)))
        return True

    def note(self, subject: str, reader: str) -> str:
        """Current note of ``reader`` on ``subject`` ("" if none).

        Parameters
        ----------
        subject : str
            Subject label (``"01"``; a ``sub-`` prefix is dropped).
        reader : str
            Reader id, e.g. ``"R3"``.

        Returns
        -------
        str
            The newest note text; ``""`` if the reader wrote none.

        Raises
        ------
        ScoreError
            Invalid subject or reader, or the store is closed.
        """
        rows = self._query("SELECT text FROM current_notes WHERE subject = ? AND reader = ?",
                           (check_subject(subject), check_reader(reader)))
        return rows[0][0] if rows else ""

    def notes(self, reader: str | None = None) -> pd.DataFrame:
        """Current notes: columns ``subject``, ``reader``, ``text``.

        Parameters
        ----------
        reader : str, optional
            Only this reader's notes; None: every reader's.

        Returns
        -------
        pandas.DataFrame
            One row per (subject, reader) with a note, sorted by subject then reader;
            ``subject`` as str.

        Raises
        ------
        ScoreError
            If ``reader`` is blank or the store is closed.
        """
        import pandas as pd

        sql, params = "SELECT subject, reader, text FROM current_notes", ()
        if reader is not None:
            sql, params = sql + " WHERE reader = ?", (check_reader(reader),)
        df = pd.DataFrame(self._query(sql + " ORDER BY subject, reader", params),
                          columns=["subject", "reader", "text"])
        return df.astype({"subject": str})

    # -- CSV ----------------------------------------------------------------------------
    def export_csv(self, path: str | os.PathLike, reader: str | None = None) -> Path:
        """Write the current scores as tidy CSV (``subject, reader, item, score``), atomically.

        The file is written under a temporary name in the same folder, flushed to disk and
        moved into place, so a reader of ``path`` sees the old or the new file, never half.

        Parameters
        ----------
        path : str or path-like
            Output CSV (its folder is created if missing).
        reader : str, optional
            Only this reader's scores; None: all readers (not blinded: the data manager's
            view).

        Returns
        -------
        Path
            ``path``; the rows are :meth:`table` (subject, reader, item order).

        Raises
        ------
        ScoreError
            If ``reader`` is blank or the store is closed.
        """
        path = Path(path)
        text = self.table(reader).to_csv(index=False, lineterminator="\n")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            publish_mode(fd)                        # the umask's mode, not mkstemp's 0600
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def import_csv(self, path: str | os.PathLike, reader: str | None = None, *,
                   source: str | None = None) -> int:
        """Import scores from a tidy CSV in one transaction (all or nothing).

        Accepted columns: ``subject, reader, item, score`` (as written by
        :meth:`export_csv`) or the synthetic cohort's ``participant_id`` (or ``patient``),
        ``reader``, ``score`` (the item), ``value``. Values equal to the current score are
        skipped, so importing the same file twice records nothing new.

        Parameters
        ----------
        path : str or path-like
            The score CSV (columns as above).
        reader : str, optional
            Import only this reader's rows; required if the file has no ``reader`` column.
        source : str, optional
            Recorded in the history (default ``import:<file name>``).

        Returns
        -------
        int
            Number of score events written.

        Raises
        ------
        ScoreError
            Unreadable file, missing columns, any invalid or conflicting row (all listed),
            or a change for a reader who has locked. Nothing is written then.
        """
        rows = read_score_csv(path, reader)
        source = source or f"import:{Path(path).name}"
        written = 0
        with self._write() as con:
            self._register(con, sorted({r[0] for r in rows}))
            changes = []
            for subject, rdr, item, score in rows:
                previous = self._current(con, subject, rdr, item)
                if previous != score:
                    changes.append((subject, rdr, item, score, previous))
            for rdr in sorted({c[1] for c in changes}):
                self._refuse_if_locked(con, rdr)
            now = utc_now()
            con.executemany("INSERT INTO score_events (subject, reader, item, score, previous, "
                            "recorded_at, source) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [(*c, now, source) for c in changes])
            written = len(changes)
        return written

    # -- blinded double entry -------------------------------------------------------------
    def session(self, reader: str, subjects: Iterable[str] | None = None, *,
                seed: int = 0) -> ReaderSession:
        """A blinded :class:`~qmri_kernels.scores.ReaderSession` for ``reader``.

        Parameters
        ----------
        reader : str
            Reader id, e.g. ``"R3"``.
        subjects : iterable of str, optional
            Subjects to score (registered if new); None: every registered subject.
        seed : int
            Seed of the reader's slide order (with the reader name).

        Returns
        -------
        ReaderSession
            Shows this reader's own entries only, slides under their blinded codes.

        Raises
        ------
        ScoreError
            A bad reader, subject or seed, or no subjects at all.
        """
        from .session import ReaderSession
        return ReaderSession(self, reader, subjects, seed)

    def lock(self, reader: str, *, complete: int, total: int, forced: bool = False) -> bool:
        """Lock ``reader``'s scores (normally via :meth:`ReaderSession.lock`).

        Parameters
        ----------
        reader : str
            Reader id, e.g. ``"R3"``.
        complete, total : int
            Slides fully scored and slides in the reader's session, recorded with the
            lock (not checked here; :meth:`ReaderSession.lock` refuses an incomplete
            session unless forced).
        forced : bool
            Whether the reader locked with incomplete slides (recorded).

        Returns
        -------
        bool
            True if locked now, False if already locked (the first lock is kept).

        Raises
        ------
        ScoreError
            If ``reader`` is blank or the store is closed.
        """
        reader = check_reader(reader)
        with self._write() as con:
            if con.execute("SELECT 1 FROM locks WHERE reader = ?", (reader,)).fetchone():
                return False
            con.execute("INSERT INTO locks (reader, locked_at, forced, complete, total) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (reader, utc_now(), int(bool(forced)), int(complete), int(total)))
        return True

    def is_locked(self, reader: str) -> bool:
        """Whether ``reader`` has locked their scores.

        Parameters
        ----------
        reader : str
            Reader id, e.g. ``"R3"``.

        Returns
        -------
        bool
            True once a lock was recorded for this reader (locks are permanent).

        Raises
        ------
        ScoreError
            If ``reader`` is blank or the store is closed.
        """
        return bool(self._query("SELECT 1 FROM locks WHERE reader = ?", (check_reader(reader),)))

    def locks(self) -> pd.DataFrame:
        """Locked readers: ``reader``, ``locked_at``, ``forced``, ``complete``, ``total``.

        Returns
        -------
        pandas.DataFrame
            One row per locked reader, oldest lock first: ``locked_at`` (UTC, ISO 8601),
            ``forced`` (bool), ``complete`` and ``total`` (slides scored / in the session
            at locking).
        """
        import pandas as pd

        rows = self._query("SELECT reader, locked_at, forced, complete, total FROM locks "
                           "ORDER BY locked_at")
        df = pd.DataFrame(rows, columns=["reader", "locked_at", "forced", "complete", "total"])
        return df.astype({"forced": bool})

    def comparison(self, readers: Sequence[str] = DEFAULT_READERS) -> Comparison:
        """Both readers' scores side by side, once both have locked.

        Parameters
        ----------
        readers : (2,) sequence of str, optional
            The blinded pair (default R3 and R4).

        Returns
        -------
        Comparison
            ``table`` (subject, item, one column per reader) and ``disagreements()``.

        Raises
        ------
        ScoreError
            While either reader has not locked (blinding), or ``readers`` is not a pair of
            distinct readers.
        """
        pair = tuple(check_reader(r) for r in readers)
        if len(pair) != 2 or pair[0] == pair[1]:
            raise ScoreError(f"readers must be two distinct readers, got {tuple(readers)!r}")
        unlocked = [r for r in pair if not self.is_locked(r)]
        if unlocked:
            raise ScoreError(f"blinded: {' and '.join(unlocked)} "
                             f"{'has' if len(unlocked) == 1 else 'have'} not locked their "
                             "scores; the comparison opens when both readers have locked")
        import pandas as pd

        a, b = pair
        rows = self._query("SELECT subject, reader, item, score FROM current_scores "
                           "WHERE reader IN (?, ?)", pair)
        scored = pd.DataFrame(rows, columns=_TIDY_COLUMNS)
        subjects = sorted(set(scored["subject"]))
        grid = pd.DataFrame([(s, i) for s in subjects for i in ITEMS], columns=["subject", "item"])
        for reader in pair:
            mine = scored[scored["reader"] == reader][["subject", "item", "score"]]
            grid = grid.merge(mine.rename(columns={"score": reader}), on=["subject", "item"],
                              how="left")
            grid[reader] = grid[reader].astype("Int64")
        grid["subject"] = grid["subject"].astype(str)
        return Comparison((a, b), grid)

    unblinded_comparison = comparison

    def disagreements(self, readers: Sequence[str] = DEFAULT_READERS) -> list[Disagreement]:
        """``self.comparison(readers).disagreements()`` (refused until both locked).

        Parameters
        ----------
        readers : (2,) sequence of str, optional
            The blinded pair (default R3 and R4).

        Returns
        -------
        list of Disagreement
            See :meth:`Comparison.disagreements`.

        Raises
        ------
        ScoreError
            While either reader has not locked, or ``readers`` is not a pair of distinct
            readers.
        """
        return self.comparison(readers).disagreements()
