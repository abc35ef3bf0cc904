"""Fail if any of the synthetic cohort's made-up identities appears in the book or derivatives.

Usage: ``python tools/check_privacy.py _build/html data/synthetic/derivatives``. Searches
every byte (gzip-decompressed) under each folder for the patient names, IDs, birth dates,
accession numbers, institution, physician, operator and study dates that the DICOM writer
put into the synthetic headers, and prints only where a hit is (never the string).
"""

from __future__ import annotations

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


def main(folders: list[str]) -> int:
    keys = needles()
    bad = 0
    for folder in folders:
        if not Path(folder).exists():
            print(f"{folder}: missing, not searched")
            continue
        hits = find_strings(folder, keys)
        for name, i in hits:
            print(f"IDENTIFYING STRING #{i} in {folder}/{name}")
        bad += len(hits)
        print(f"{folder}: {'clean' if not hits else f'{len(hits)} hits'} ({len(keys)} strings searched)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
