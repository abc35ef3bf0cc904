"""Benchmark: DICOM ingest of the synthetic cohort (budget: 13 subjects in < 60 s on 2 cores).

Run ``python benchmarks/ingest.py [--manifest data_manifest.yaml] [--baseline 3]``. Ingests
every subject of the manifest into a temporary folder and prints seconds per subject, the
total as a ratio to the budget, and — as the baseline measured in the same run — the time
of dcm2niix (the field's standard C converter, ``-z y``: gzip like ours) on the first
``--baseline`` subjects, with our time over its time on the same subjects.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import dcm2niix

from qmri_kernels.dicom import ingest
from qmri_kernels.manifest import load_manifest

BUDGET_S = 60.0


def _dcm2niix(source: Path, out: Path) -> None:
    out.mkdir(parents=True)
    subprocess.run([dcm2niix.bin, "-z", "y", "-b", "y", "-o", str(out), str(source)],
                   check=True, capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", default="data_manifest.yaml")
    ap.add_argument("--baseline", type=int, default=3,
                    help="number of subjects also converted with dcm2niix")
    args = ap.parse_args()
    manifest = load_manifest(args.manifest)
    subjects = manifest.subjects
    ours: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for s in subjects:
                start = time.perf_counter()
                n = len(ingest(s.dicom_root, tmp / "ours", s.id))
                ours[s.id] = time.perf_counter() - start
                print(f"sub-{s.id}: {ours[s.id]:.2f} s ({n} files)", flush=True)
        base: dict[str, float] = {}
        for s in subjects[: args.baseline]:
            start = time.perf_counter()
            _dcm2niix(s.dicom_root, tmp / "dcm2niix" / s.id)
            base[s.id] = time.perf_counter() - start
    total = sum(ours.values())
    print(f"ingest: {len(subjects)} subjects in {total:.1f} s = {total / len(subjects):.2f} "
          f"s/subject; {total / BUDGET_S:.2f} × the {BUDGET_S:.0f} s budget")
    if base:
        mine = sum(ours[k] for k in base)
        theirs = sum(base.values())
        print(f"baseline dcm2niix on {len(base)} subjects: {theirs / len(base):.2f} s/subject; "
              f"ingest / dcm2niix = {mine / theirs:.2f}")


if __name__ == "__main__":
    main()
