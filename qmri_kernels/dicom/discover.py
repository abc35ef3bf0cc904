"""Find the DICOM files under a folder, by content rather than by name.

Scanners and PACS export files with any names (``IM00001``, ``i12345.MRDC.3``, ``1.2.840…dcm``)
in any nesting. A file is DICOM if it has the Part 10 marker ``DICM`` after its 128-byte
preamble (PS3.10 §7.1), or, for old exports without a preamble, if it starts with a group
0x0002 or 0x0008 element. A ``DICOMDIR`` (the media directory, PS3.10 §8) is tolerated and
skipped: files are found by walking the tree, not through the directory record. Anything
else is skipped; each skipped file is named in the log and in a
:class:`~qmri_kernels.dicom.errors.DicomWarning`.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DicomError, report_skip

__all__ = ["discover", "sniff"]

_PREAMBLE = 128
_MAGIC = b"DICM"


def sniff(path: Path) -> str:
    """Classify one file from its first bytes.

    Parameters
    ----------
    path : Path
        The file; a file named ``DICOMDIR`` (any case) is classified by name alone.

    Returns
    -------
    str
        ``"dicom"`` (Part 10 file: ``DICM`` after the 128-byte preamble, PS3.10 §7.1),
        ``"raw"`` (DICOM data set without preamble, starting with a group 0x0002 or
        0x0008 element), ``"dicomdir"`` or ``"other"``.

    Raises
    ------
    DicomError
        The file cannot be opened or read (named, with the operating system's reason).
    """
    if path.name.upper() == "DICOMDIR":
        return "dicomdir"
    try:
        with open(path, "rb") as f:
            head = f.read(_PREAMBLE + 4)
    except OSError as exc:
        raise DicomError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(head) == _PREAMBLE + 4 and head[_PREAMBLE:] == _MAGIC:
        return "dicom"
    if len(head) >= 8 and head[:2] in (b"\x02\x00", b"\x08\x00") and head[3:4] == b"\x00":
        return "raw"
    return "other"


def discover(source_dir: str | os.PathLike) -> list[tuple[Path, bool]]:
    """All DICOM files under ``source_dir``, recursively, in a stable (sorted) order.

    Parameters
    ----------
    source_dir : path-like
        Root of an export; any nesting, any file names, hidden files included.

    Returns
    -------
    list of (Path, bool)
        Each DICOM file and whether it has a Part 10 preamble (``False``: read with
        ``force=True``). DICOMDIR files are left out.

    Raises
    ------
    DicomError
        ``source_dir`` is not a directory.

    Warns
    -----
    DicomWarning
        For each file that is not DICOM, and each DICOMDIR (named, relative to
        ``source_dir``); the same message is logged.
    """
    root = Path(source_dir)
    if not root.is_dir():
        raise DicomError(f"source_dir {root} is not a directory")
    found: list[tuple[Path, bool]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not path.is_file():
                continue
            kind = sniff(path)
            if kind in ("dicom", "raw"):
                found.append((path, kind == "dicom"))
            elif kind == "dicomdir":
                report_skip(f"{path.relative_to(root)}: a media directory (DICOMDIR), not an "
                            "image; skipped (files are found by walking the tree)")
            else:
                report_skip(f"{path.relative_to(root)}: not a DICOM file (no 'DICM' marker); "
                            "skipped")
    return found
