"""Histopathology scores: a crash-safe SQLite store with blinded double entry.

Two pathologists (R3, R4 in Wang et al. 2023) score every biopsy 0–4 on ten items
(:data:`ITEMS`, :data:`SCALE`), independently and blind to each other and to MRI.

* :class:`ScoreStore` — the append-only store (one durable transaction per score;
  corrections kept in the history; tidy table, CSV export/import).
* :class:`ReaderSession` — one reader's blinded view: slide codes, shuffled order, own
  entries only, :meth:`~ReaderSession.lock` when finished.
* :meth:`ScoreStore.comparison` — both readers side by side with their disagreements, only
  after both locked.
* :func:`import_reader_scores` — a reader's scores from a CSV (the synthetic cohort's
  simulated R3/R4 scores), then lock.

All refusals raise :class:`ScoreError` (a ``ValueError``).
"""

from ._checks import ScoreError
from ._schema import APPLICATION_ID, SCHEMA_VERSION
from .scale import DEFAULT_READERS, ITEM_LABELS, ITEMS, SCALE, SCORE_MAX, SCORE_MIN
from .session import ReaderSession
from .store import Comparison, Disagreement, ScoreStore
from .tidy import import_reader_scores, read_score_csv

__all__ = ["ITEMS", "ITEM_LABELS", "SCALE", "SCORE_MIN", "SCORE_MAX", "DEFAULT_READERS",
           "SCHEMA_VERSION", "APPLICATION_ID", "ScoreError", "ScoreStore", "ReaderSession",
           "Comparison", "Disagreement", "import_reader_scores", "read_score_csv"]
