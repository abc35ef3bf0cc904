"""Fail if any of the synthetic cohort's made-up identities appears in the book or derivatives.

Usage: ``python tools/check_privacy.py [--cache FILE] _build/html data/synthetic/derivatives``.
Searches every byte (gzip-decompressed) under each folder for the patient names, IDs, birth
dates, accession numbers, institution, physician, operator and study dates that the DICOM
writer put into the synthetic headers, and prints only where a hit is (never the string).

With ``--cache`` a file's SHA-256 is remembered once it has been found clean (for this very
list of strings), and an unchanged file is not searched again: a re-build that changed
nothing takes about a second instead of re-reading every derivative. A changed file has
another digest and is always searched; a file with a hit is never cached.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

from qmri_kernels.dicom import find_strings
from qmri_kernels.phantom.synthetic_cohort import identities


def needles() -> list[str]:
    """Every identifying value of the cohort, names also split into their parts."""
    out: set[str] = set()
    for ident in identities().values():
        for value in (ident.patient_name, ident.patient_id, ident.birth_date, ident.accession_number,
                      ident.institution_name, ident.referring_physician, ident.operator,
                      ident.study_date):
            out.add(value)
            out.update(part for part in value.split("^") if len(part) > 3)
    return sorted(out)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _load_cache(path: Path | None, key: str) -> set[str]:
    if path is None or not path.is_file():
        return set()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return set(doc.get("clean", [])) if doc.get("needles") == key else set()


def _save_cache(path: Path, key: str, clean: set[str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"needles": key, "clean": sorted(clean)}), encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, help="remember the digests of clean files here")
    parser.add_argument("folders", nargs="+")
    args = parser.parse_args(argv)
    keys = needles()
    key = hashlib.sha256("\n".join(keys).encode("utf-8")).hexdigest()
    known = _load_cache(args.cache, key)
    clean: set[str] = set()
    bad = 0
    for folder in args.folders:
        root = Path(folder)
        if not root.exists():
            print(f"{folder}: missing, not searched")
            continue
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        hits, searched = [], 0
        for path in files:
            digest = _sha256(path)
            if digest in known:
                clean.add(digest)
                continue
            searched += 1
            found = find_strings(path, keys)
            rel = path.name if root.is_file() else str(path.relative_to(root))
            hits += [(rel, i) for _, i in found]
            if not found:
                clean.add(digest)
        for name, i in hits:
            print(f"IDENTIFYING STRING #{i} in {folder}/{name}")
        bad += len(hits)
        print(f"{folder}: {'clean' if not hits else f'{len(hits)} hits'} ({len(keys)} strings; "
              f"{searched} of {len(files)} files searched, the others unchanged since found clean)")
    if args.cache is not None:
        _save_cache(args.cache, key, clean)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
