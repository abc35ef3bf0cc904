"""Crash safety and concurrency of the score store, with real processes.

A writer process records scores in a loop and prints each one only after ``record``
returned; it is killed with SIGKILL at seeded random moments. Every printed
(acknowledged) score must be in the file, the file must pass ``PRAGMA integrity_check``,
and the events must be exactly the writer's sequence (at most one more: recorded but
killed before it could print).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qmri_kernels.scores import ITEMS, ScoreStore

ROOT = Path(__file__).resolve().parents[2]

# record i of a writer: cycles over 13 subjects x 10 items; each revisit of a key changes
# its score by one (mod 5), so every record is a new event.
PLAN = '''
ITEMS = {items!r}
KEYS = [(f"{{s:02d}}", item) for s in range(1, 14) for item in ITEMS]
def plan(i):
    k = i % len(KEYS)
    return KEYS[k][0], KEYS[k][1], (k + i // len(KEYS)) % 5
'''.format(items=ITEMS)

CRASH_WRITER = PLAN + '''
import sys
from qmri_kernels.scores import ScoreStore
store = ScoreStore(sys.argv[1])
reader = sys.argv[2]
print("ready", flush=True)
i = 0
while True:
    subject, item, score = plan(i)
    store.record(subject=subject, reader=reader, item=item, score=score)
    print(f"{subject},{item},{score}", flush=True)
    i += 1
'''

BATCH_WRITER = '''
import os, sys, time
from qmri_kernels.scores import ScoreStore, ITEMS
path, prefix, go = sys.argv[1], sys.argv[2], sys.argv[3]
store = ScoreStore(path)
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.005)
for s in range(20):
    for j, item in enumerate(ITEMS):
        store.record(subject=f"{prefix}{s:02d}", reader="R3", item=item, score=(s + j) % 5)
store.close()
print("done", flush=True)
'''


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _spawn(code: str, *args: str, stderr: Path) -> subprocess.Popen:
    with open(stderr, "w") as err:
        return subprocess.Popen([sys.executable, "-u", "-c", code, *args], cwd=ROOT, env=_env(),
                                stdout=subprocess.PIPE, stderr=err, text=True)


def _plan(i: int) -> tuple[str, str, int]:
    keys = [(f"{s:02d}", item) for s in range(1, 14) for item in ITEMS]
    k = i % len(keys)
    return keys[k][0], keys[k][1], (k + i // len(keys)) % 5


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_acknowledged_scores_survive_sigkill(tmp_path):
    rng = np.random.default_rng(20230045)
    path = tmp_path / "scores.sqlite"
    acknowledged: dict[str, int] = {}
    for rnd in range(5):
        reader = f"K{rnd}"
        err = tmp_path / f"writer{rnd}.err"
        proc = _spawn(CRASH_WRITER, str(path), reader, stderr=err)
        if rnd == 0:
            # kill while the writer may still be creating the store
            time.sleep(rng.uniform(0.0, 1.0))
            n_wait = None
        else:
            n_wait = int(rng.integers(0, 150))
        lines = []
        if n_wait is not None:
            assert proc.stdout.readline().strip() == "ready", err.read_text()
            while len(lines) < n_wait:
                line = proc.stdout.readline()
                assert line, err.read_text()
                lines.append(line)
            time.sleep(rng.uniform(0.0, 0.02))
        proc.send_signal(signal.SIGKILL)
        rest = proc.stdout.read()          # through the same buffer as readline above
        proc.stdout.close()
        assert proc.wait(timeout=30) == -signal.SIGKILL
        lines += rest.splitlines(keepends=True)
        acks = [tuple(l.strip().split(",")) for l in lines
                if l.endswith("\n") and l.strip() not in ("ready", "")]
        acks = [(s, i, int(v)) for s, i, v in acks]
        assert acks == [_plan(i) for i in range(len(acks))]
        acknowledged[reader] = len(acks)

    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        con.close()
    with ScoreStore(path) as store:
        hist = store.history()
        assert set(acknowledged) >= set(hist["reader"])
        for reader, n_ack in acknowledged.items():
            mine = hist[hist["reader"] == reader]
            events = list(zip(mine["subject"], mine["item"], mine["score"]))
            assert n_ack <= len(events) <= n_ack + 1, (reader, n_ack, len(events))
            assert events == [_plan(i) for i in range(len(events))]
        assert sum(acknowledged.values()) > 100               # the rounds did real work
        # the store still takes scores after the crashes
        store.record(subject="01", reader="after", item="fat", score=1)
        assert store.score("01", "after", "fat") == 1


def test_two_writers_at_once_lose_nothing(tmp_path):
    path = tmp_path / "scores.sqlite"
    ScoreStore(path).close()
    go = tmp_path / "go"
    errs = [tmp_path / f"writer{prefix}.err" for prefix in ("A", "B")]
    procs = [_spawn(BATCH_WRITER, str(path), prefix, str(go), stderr=err)
             for prefix, err in zip(("A", "B"), errs)]
    for proc, err in zip(procs, errs):
        assert proc.stdout.readline().strip() == "ready", err.read_text()
    go.touch()
    for proc, err in zip(procs, errs):
        out = proc.stdout.read()
        proc.stdout.close()
        assert proc.wait(timeout=120) == 0, err.read_text()
        assert out.strip() == "done"
    with ScoreStore(path) as store:
        df = store.table()
        assert len(df) == 400 and len(store.history()) == 400
        assert len(store.subjects()) == 40 and len(set(store.slide_codes().values())) == 40
        for row in df.itertuples():
            s, j = int(row.subject[1:]), ITEMS.index(row.item)
            assert row.score == (s + j) % 5
