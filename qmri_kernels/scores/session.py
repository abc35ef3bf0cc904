"""A reader's blinded scoring session: own entries only, slides under codes, shuffled.

A pathologist scoring for the study must not see the other pathologist's scores, nor the
patient's MRI values, nor which patient a slide belongs to. A :class:`ReaderSession`
therefore

* names each slide by its blinded code (``S-7K2Q``: a keyed hash of the subject label, the
  key a random salt kept in the store, see :meth:`ScoreStore.slide_codes`);
* presents the slides in an order shuffled per reader (seeded by reader name and ``seed``,
  applied to the slides sorted by code, so the order reveals nothing about subject ids);
* reads and writes only its own reader's scores and notes;
* ends with :meth:`ReaderSession.lock`, after which the reader can change nothing and,
  once both readers have locked, :meth:`ScoreStore.comparison` unblinds the pair for
  adjudication — the double-data-entry workflow of REDCap [1]_.

References
----------
.. [1] Harris PA, Taylor R, Thielke R, Payne J, Gonzalez N, Conde JG (2009) Research
   electronic data capture (REDCap). J Biomed Inform 42:377–381.
   doi:10.1016/j.jbi.2008.08.010
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

from ._checks import ScoreError, check_item, check_reader, check_score
from .scale import ITEMS
from .store import ScoreStore

__all__ = ["ReaderSession", "slide_order_seed"]


def slide_order_seed(reader: str, seed: int) -> int:
    """The RNG seed of a reader's slide order: SHA-256 of reader name and ``seed``.

    Parameters
    ----------
    reader : str
        Reader id (``"R3"``), as given (not stripped).
    seed : int
        The session's seed.

    Returns
    -------
    int
        The first 8 bytes of SHA-256(``reader`` NUL ``seed``) as an unsigned integer
        (0 ≤ value < 2**64), for :func:`numpy.random.default_rng`; readers with the same
        ``seed`` get unrelated orders.
    """
    digest = hashlib.sha256(f"{reader}\x00{int(seed)}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


class ReaderSession:
    """One reader's blinded view of the score store.

    Parameters
    ----------
    store : ScoreStore
        The open store the session reads and writes.
    reader : str
        The reader, e.g. "R3".
    subjects : iterable of str, optional
        Subjects to score (registered in the store if new); default all registered subjects.
    seed : int, optional
        Seed of the slide order (with the reader name).

    Attributes
    ----------
    reader : str
    slides : tuple of str
        Blinded slide codes in this reader's order.

    Raises
    ------
    ScoreError
        Bad reader or subject label, or no subjects at all.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp, ScoreStore(pathlib.Path(tmp) / "s.sqlite") as st:
    ...     s = ReaderSession(st, "R3", ["01", "02"], seed=1)
    ...     _ = s.record(s.slides[0], "fat", 2)
    ...     s.scores(s.slides[0])["fat"], s.progress()
    (2, (0, 2))
    """

    def __init__(self, store: ScoreStore, reader: str, subjects: Iterable[str] | None = None,
                 seed: int = 0):
        if not isinstance(store, ScoreStore):
            raise ScoreError(f"store must be a ScoreStore, got {type(store).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ScoreError(f"seed must be an int, got {seed!r}")
        self.reader = check_reader(reader)
        if subjects is None:
            labels = store.subjects()
        else:
            labels = store.add_subjects([s for s in subjects])
        labels = sorted(set(labels))
        if not labels:
            raise ScoreError(f"no subjects to score in {store.path}; pass subjects= or "
                             "record/import some first")
        codes = store.slide_codes()
        by_code = sorted((codes[s], s) for s in labels)
        order = np.random.default_rng(slide_order_seed(self.reader, seed)).permutation(len(by_code))
        self.slides: tuple[str, ...] = tuple(by_code[i][0] for i in order)
        self._store = store
        self._subject_of = dict(by_code)

    def __repr__(self) -> str:
        done, total = self.progress()
        state = ", locked" if self.locked else ""
        return f"ReaderSession(reader={self.reader!r}, {done} of {total} slides complete{state})"

    def _subject(self, code: str) -> str:
        try:
            return self._subject_of[code]
        except (KeyError, TypeError):
            raise ScoreError(f"unknown slide code {code!r} for reader {self.reader}") from None

    def scores(self, code: str) -> dict[str, int | None]:
        """This reader's current scores of slide ``code``: item → 0–4, or None if unscored.

        Parameters
        ----------
        code : str
            Blinded slide code from :attr:`slides` (``"S-7K2Q"``).

        Returns
        -------
        dict of str to int or None
            Every item of :data:`~qmri_kernels.scores.ITEMS`, in that order.

        Raises
        ------
        ScoreError
            If ``code`` is not one of this session's slides.
        """
        subject = self._subject(code)
        rows = self._store._query("SELECT item, score FROM current_scores WHERE subject = ? "
                                  "AND reader = ?", (subject, self.reader))
        current = dict(rows)
        return {item: current.get(item) for item in ITEMS}

    def record(self, code: str, item: str, score: int) -> bool:
        """Record (or correct) this reader's ``score`` of ``item`` on slide ``code``.

        Durable when it returns.

        Parameters
        ----------
        code : str
            Blinded slide code from :attr:`slides`.
        item : str
            One of :data:`~qmri_kernels.scores.ITEMS`.
        score : int
            0–4 (Python or NumPy integer; not bool, float or str).

        Returns
        -------
        bool
            True if written, False if the current score already equals ``score``.

        Raises
        ------
        ScoreError
            Unknown code or item, a score that is not an integer 0–4, or a locked session.
        """
        subject = self._subject(code)
        return self._store.record(subject, self.reader, check_item(item), check_score(score),
                                  source="session")

    def note(self, code: str, text: str) -> bool:
        """Save this reader's free-text note on slide ``code`` (replaces the previous note).

        Parameters
        ----------
        code : str
            Blinded slide code from :attr:`slides`.
        text : str
            The whole note ("" clears it).

        Returns
        -------
        bool
            True if written, False if the note already reads ``text``.

        Raises
        ------
        ScoreError
            Unknown code, ``text`` not a str, or a locked session.
        """
        return self._store.record_note(self._subject(code), self.reader, text, source="session")

    def notes(self, code: str) -> str:
        """This reader's current note on slide ``code`` ("" if none).

        Parameters
        ----------
        code : str
            Blinded slide code from :attr:`slides`.

        Returns
        -------
        str
            The newest note text, ``""`` if none.

        Raises
        ------
        ScoreError
            If ``code`` is not one of this session's slides.
        """
        return self._store.note(self._subject(code), self.reader)

    def is_complete(self, code: str) -> bool:
        """Whether all ten items of slide ``code`` are scored.

        Parameters
        ----------
        code : str
            Blinded slide code from :attr:`slides`.

        Returns
        -------
        bool
            True if this reader has a current score for every item.

        Raises
        ------
        ScoreError
            If ``code`` is not one of this session's slides.
        """
        return all(v is not None for v in self.scores(code).values())

    def progress(self) -> tuple[int, int]:
        """(slides with all ten items scored, slides in the session).

        Returns
        -------
        complete : int
            Slides of this session on which the reader has scored every item.
        total : int
            Slides in the session (``len(self.slides)``).
        """
        rows = self._store._query("SELECT subject, COUNT(DISTINCT item) FROM score_events "
                                  "WHERE reader = ? GROUP BY subject", (self.reader,))
        counts = dict(rows)
        complete = sum(counts.get(s, 0) == len(ITEMS) for s in self._subject_of.values())
        return complete, len(self.slides)

    @property
    def locked(self) -> bool:
        """Whether this reader has locked their scores."""
        return self._store.is_locked(self.reader)

    def lock(self, force: bool = False) -> bool:
        """Finish: lock this reader's scores against any further change.

        Parameters
        ----------
        force : bool, optional
            Lock even though some slide is incomplete.

        Returns
        -------
        bool
            True if locked now, False if the reader had already locked.

        Raises
        ------
        ScoreError
            Some slide is incomplete and ``force`` is False (the message lists them).
        """
        complete, total = self.progress()
        if self.locked:
            return False
        if complete < total and not force:
            missing = [c for c in self.slides if not self.is_complete(c)]
            raise ScoreError(f"reader {self.reader}: {total - complete} of {total} slides are "
                             f"incomplete ({', '.join(missing[:10])}"
                             f"{', …' if len(missing) > 10 else ''}); score them or lock(force=True)")
        return self._store.lock(self.reader, complete=complete, total=total, forced=force)
