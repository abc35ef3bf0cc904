"""Where the shipped weights live, and file hashing (private)."""

from __future__ import annotations

import hashlib
from pathlib import Path

#: Directory of the shipped weights.
WEIGHTS_DIR: Path = Path(__file__).resolve().parent / "weights"
#: Stem of the shipped weights files (``.pt`` and ``.json``).
DEFAULT_NAME: str = "unet_t2w"


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
