"""Digests of the library's own files: what made a cached result.

A cached output — the synthetic cohort on disk, a pipeline stage's maps, an executed
chapter — is only as current as the code that made it. :func:`code_digest` hashes the
package's source and data files (Python, shipped weights and their sidecars, label tables),
so a cache can record what made it and be rebuilt when that changes.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

__all__ = ["code_digest", "PACKAGE_DIR", "GENERATOR_SOURCES"]

#: The installed package's folder.
PACKAGE_DIR: Path = Path(__file__).resolve().parent

#: What the synthetic-cohort generator is made of (its imports, followed by hand): the
#: phantom, the paper's tables, the shared vocabulary (label table, grids, subject ids) and
#: the physics, fat saturation, fat-water signal, EPG and statistics it uses.
GENERATOR_SOURCES: tuple[str, ...] = ("phantom", "paper.py", "labels.py", "grids.py",
                                      "subject_id.py", "physics.py", "fatsat.py", "fatwater",
                                      "t2", "stats")

_SUFFIXES = (".py", ".pt", ".json", ".tsv", ".yaml", ".csv")


@lru_cache(maxsize=16)
def code_digest(parts: tuple[str, ...] | None = None) -> str:
    """SHA-256 (first 16 hex digits) of the package's files, or of some of them.

    Parameters
    ----------
    parts : tuple of str, optional
        Files or sub-packages relative to the package folder (``"phantom"``,
        ``"physics.py"``); default the whole package.

    Returns
    -------
    str
        16 hex digits; equal for byte-identical files at the same relative paths.

    Raises
    ------
    FileNotFoundError
        If a named part does not exist.

    Examples
    --------
    >>> code_digest(("physics.py",)) == code_digest(("physics.py",))
    True
    >>> len(code_digest())
    16
    """
    roots = [PACKAGE_DIR] if parts is None else [PACKAGE_DIR / p for p in parts]
    files: set[Path] = set()
    for root in roots:
        if not root.exists():
            raise FileNotFoundError(f"code_digest: {root} does not exist")
        found = [root] if root.is_file() else root.rglob("*")
        files.update(f for f in found if f.is_file() and f.suffix in _SUFFIXES
                     and "__pycache__" not in f.parts)
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()[:16]
