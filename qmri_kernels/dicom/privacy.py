"""Search output files for identifying strings, gzip-decompressed, without printing them."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["find_strings"]


def find_strings(root: str | os.PathLike, needles: Iterable[str],
                 pattern: str = "*") -> list[tuple[str, int]]:
    """Where any of ``needles`` occurs (case-insensitive) in any file under ``root``.

    ``.gz`` files are searched decompressed. Hits are reported as (file relative to
    ``root``, index of the needle), never as the string itself, so the result can be shown.

    Parameters
    ----------
    root : path-like
        A folder (searched recursively) or one file.
    needles : iterable of str
        The identifying strings (empty strings are ignored).
    pattern : str
        Glob of the file names to search under a folder (all files by default).

    Returns
    -------
    list of (str, int)
        Empty when nothing identifying was found.
    """
    root = Path(root)
    keys = [(i, n.lower().encode("utf-8")) for i, n in enumerate(needles) if n]
    files = [root] if root.is_file() else sorted(p for p in root.rglob(pattern) if p.is_file())
    hits = []
    for path in files:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        data = data.lower()
        name = path.name if root.is_file() else str(path.relative_to(root))
        hits += [(name, i) for i, key in keys if key in data]
    return hits
