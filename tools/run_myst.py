"""Execute MyST-markdown notebooks (the book's chapters) and fail on the first error.

Usage: ``python tools/run_myst.py notebooks/01_intro.md [...]``. Runs each chapter in a fresh
kernel from the repository root (as the book build does) and prints the time it took.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jupytext
import nbclient


def run(path: Path, timeout: int = 1200) -> float:
    """Execute one MyST notebook in its own directory; return the wall time in s."""
    nb = jupytext.read(path)
    start = time.perf_counter()
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return time.perf_counter() - start


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"{arg}: {run(Path(arg)):.1f} s")
