"""Benchmark: generating the synthetic cohort (budget: 13 subjects in < 3 min on 2 cores).

Run ``python benchmarks/cohort.py [--patients 1 2 3]``. Prints seconds per subject, the
projected time for 13 subjects as a ratio to the budget, and the size on disk.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from qmri_kernels.phantom.synthetic_cohort import generate_cohort

BUDGET_S = 180.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, nargs="*", default=[1, 6, 13])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = generate_cohort(Path(tmp) / "synthetic", patients=args.patients)
        elapsed = time.perf_counter() - start
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    per = elapsed / len(args.patients)
    print(f"subjects: {len(args.patients)}  total {elapsed:.1f} s  per subject {per:.2f} s")
    print(f"projected 13 subjects: {13 * per:.0f} s  = {13 * per / BUDGET_S:.2f} × the {BUDGET_S:.0f} s budget")
    print(f"on disk: {size / 1e6 / len(args.patients):.0f} MB per subject, projected "
          f"{13 * size / 1e9 / len(args.patients):.2f} GB for 13 (limit 1 GB)")


if __name__ == "__main__":
    main()
