"""SQLite schema of the score store: tables, append-only triggers, opening a file.

Tables (all append-only: a trigger aborts every UPDATE and DELETE):

``meta``          key/value facts of the store (the secret salt of the slide codes).
``subjects``      subject label → blinded slide code, fixed when the subject is first seen.
``score_events``  one row per recorded score or correction (``previous`` = value replaced).
``note_events``   one row per saved reader note.
``locks``         one row per reader who has finished and locked their scores.

Views ``current_scores`` and ``current_notes`` give the newest event of each key. A trigger
also refuses score and note events of a locked reader, so the rule holds for any client of
the file, not only this library. The file carries ``PRAGMA application_id`` =
:data:`APPLICATION_ID` and ``PRAGMA user_version`` = :data:`SCHEMA_VERSION`.
"""

from __future__ import annotations

import secrets
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from ._checks import ScoreError
from .scale import ITEMS, SCORE_MAX, SCORE_MIN

__all__ = ["SCHEMA_VERSION", "APPLICATION_ID", "BUSY_TIMEOUT_S", "open_store_connection",
           "utc_now"]

#: Version of the schema below (``PRAGMA user_version``).
SCHEMA_VERSION = 1
#: ``PRAGMA application_id`` of a score store: b"QMSC" as a big-endian int.
APPLICATION_ID = int.from_bytes(b"QMSC", "big")
#: How long a writer waits for another writer's transaction (seconds).
BUSY_TIMEOUT_S = 30.0

_APPEND_ONLY = ("meta", "subjects", "score_events", "note_events", "locks")
_ITEM_LIST = ", ".join(f"'{item}'" for item in ITEMS)

_DDL: tuple[str, ...] = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE subjects ("
    " subject TEXT PRIMARY KEY CHECK (length(subject) > 0),"
    " code TEXT NOT NULL UNIQUE,"
    " added_at TEXT NOT NULL)",
    "CREATE TABLE score_events ("
    " event_id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " subject TEXT NOT NULL REFERENCES subjects(subject),"
    " reader TEXT NOT NULL CHECK (length(trim(reader)) > 0),"
    f" item TEXT NOT NULL CHECK (item IN ({_ITEM_LIST})),"
    " score INTEGER NOT NULL CHECK (typeof(score) = 'integer'"
    f"   AND score BETWEEN {SCORE_MIN} AND {SCORE_MAX}),"
    " previous INTEGER,"
    " recorded_at TEXT NOT NULL,"
    " source TEXT NOT NULL)",
    "CREATE INDEX score_events_key ON score_events (subject, reader, item, event_id)",
    "CREATE INDEX score_events_reader ON score_events (reader, subject, item)",
    "CREATE TABLE note_events ("
    " event_id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " subject TEXT NOT NULL REFERENCES subjects(subject),"
    " reader TEXT NOT NULL CHECK (length(trim(reader)) > 0),"
    " text TEXT NOT NULL,"
    " recorded_at TEXT NOT NULL,"
    " source TEXT NOT NULL)",
    "CREATE INDEX note_events_key ON note_events (subject, reader, event_id)",
    "CREATE TABLE locks ("
    " reader TEXT PRIMARY KEY,"
    " locked_at TEXT NOT NULL,"
    " forced INTEGER NOT NULL,"
    " complete INTEGER NOT NULL,"
    " total INTEGER NOT NULL)",
    "CREATE VIEW current_scores AS"
    " SELECT e.subject, e.reader, e.item, e.score, e.event_id, e.recorded_at"
    " FROM score_events AS e"
    " JOIN (SELECT MAX(event_id) AS last FROM score_events GROUP BY subject, reader, item) AS m"
    " ON e.event_id = m.last",
    "CREATE VIEW current_notes AS"
    " SELECT e.subject, e.reader, e.text, e.event_id, e.recorded_at"
    " FROM note_events AS e"
    " JOIN (SELECT MAX(event_id) AS last FROM note_events GROUP BY subject, reader) AS m"
    " ON e.event_id = m.last",
    *(f"CREATE TRIGGER {t}_no_{op.lower()} BEFORE {op} ON {t} BEGIN"
      f" SELECT RAISE(ABORT, '{t} is append-only: {op} refused (record a correction instead)');"
      " END" for t in _APPEND_ONLY for op in ("UPDATE", "DELETE")),
    *(f"CREATE TRIGGER {t}_locked BEFORE INSERT ON {t}"
      " WHEN EXISTS (SELECT 1 FROM locks WHERE reader = NEW.reader) BEGIN"
      " SELECT RAISE(ABORT, 'this reader has locked their scores');"
      " END" for t in ("score_events", "note_events")),
)


def utc_now() -> str:
    """The current UTC time as ISO 8601 with microseconds (the store's time stamps)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _not_a_store(path: Path, why: str) -> ScoreError:
    return ScoreError(f"{path} is not a score store: {why}")


def _identify(con: sqlite3.Connection, path: Path) -> str:
    """'store', 'empty' or raise: what the opened file is."""
    try:
        app_id = con.execute("PRAGMA application_id").fetchone()[0]
        version = con.execute("PRAGMA user_version").fetchone()[0]
        n_objects = con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise _not_a_store(path, f"not an SQLite database ({exc})") from exc
    if app_id == 0 and version == 0 and n_objects == 0:
        return "empty"
    if app_id != APPLICATION_ID:
        raise _not_a_store(path, f"an SQLite database of another application "
                                 f"(application_id {app_id:#x}, {n_objects} schema objects)")
    if version > SCHEMA_VERSION:
        raise ScoreError(f"{path}: score store schema version {version} is newer than this "
                         f"library understands ({SCHEMA_VERSION}); update qmri_kernels")
    if version < 1:
        raise _not_a_store(path, "its schema was never completed")
    return "store"


def _create(con: sqlite3.Connection, path: Path) -> None:
    """Create the schema in one transaction (another process may be doing the same)."""
    con.execute("BEGIN IMMEDIATE")
    try:
        if _identify(con, path) == "empty":
            for statement in _DDL:
                con.execute(statement)
            con.execute("INSERT INTO meta (key, value) VALUES (?, ?), (?, ?), (?, ?)",
                        ("slide_code_salt", secrets.token_hex(16), "created_at", utc_now(),
                         "schema_version", str(SCHEMA_VERSION)))
            con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def open_store_connection(path: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) the score store at ``path``.

    The connection is in autocommit mode (transactions are explicit ``BEGIN IMMEDIATE`` …
    ``COMMIT``), with WAL journaling, ``synchronous=FULL``, foreign keys on and a busy
    timeout of :data:`BUSY_TIMEOUT_S`.

    Raises
    ------
    ScoreError
        If ``path`` is a directory, not an SQLite file, another application's database or
        a newer schema.
    """
    path = Path(path)
    if path.is_dir():
        raise _not_a_store(path, "it is a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    # one store object serialises its own use (a lock); any thread may call it
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                          check_same_thread=False)
    try:
        con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        kind = _identify(con, path)
        mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise ScoreError(f"{path}: could not switch the score store to WAL journaling "
                             f"(got {mode!r}; network file systems do not support it)")
        con.execute("PRAGMA synchronous = FULL")
        con.execute("PRAGMA foreign_keys = ON")
        if kind == "empty":
            _create(con, path)
    except BaseException:
        con.close()
        raise
    return con
