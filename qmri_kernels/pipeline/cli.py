"""Command line of the pipeline: run stages for subjects and print how long each took.

``python -m qmri_kernels.pipeline [--manifest FILE] [--subjects 01 13] [--stages ...]
[--force]`` runs the chosen stages (default: all) in dependency order for each subject,
then the cohort's ROI table over those subjects, printing one line per stage: subject,
stage, whether it was computed or read from the derivatives, and the wall time.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable, Sequence

from . import stages as S

__all__ = ["STAGES", "run_subject", "main"]

#: Per-subject stages by command-line name, in dependency order.
STAGES: dict[str, Callable] = {
    "ingest": S.ensure_ingested,
    "fatwater": S.fat_water_maps,
    "segmentation": S.segmentation,
    "labels": S.transferred_labels,
    "t2": S.t2_maps,
}
_ALL = (*STAGES, "roi")


def run_subject(manifest, subject: str, stages: Iterable[str] = tuple(STAGES), *,
                force: bool = False, report: Callable[[str], None] | None = None
                ) -> dict[str, float]:
    """Run per-subject stages in dependency order.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
    subject : str
    stages : iterable of str
        Names from :data:`STAGES` (order does not matter; they run in dependency order).
    force : bool
        Recompute each of these stages.
    report : callable, optional
        Called with one line per stage (e.g. ``print``).

    Returns
    -------
    dict of str to float
        Wall time in s of each stage.

    Raises
    ------
    ValueError
        If a stage name is unknown.
    """
    wanted = set(stages)
    unknown = sorted(wanted - set(STAGES))
    if unknown:
        raise ValueError(f"unknown stages {unknown}; choose from {list(STAGES)}")
    times = {}
    label = manifest.subject(subject).bids_id
    for name, func in STAGES.items():
        if name not in wanted:
            continue
        start = time.perf_counter()
        try:
            result = func(manifest, subject, force=force)
        except Exception:
            if report is not None:
                report(f"{label:8s} {name:13s} {'FAILED':9s} "
                       f"{time.perf_counter() - start:8.2f} s")
            raise
        times[name] = time.perf_counter() - start
        if report is not None:
            how = "computed" if result.computed else "cached"
            report(f"{label:8s} {name:13s} {how:9s} {times[name]:8.2f} s")
    return times


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m qmri_kernels.pipeline",
        description="Compute and cache per-subject maps as BIDS derivatives "
                    "(fat-water, segmentation, label transfer, water T2) and the ROI table.")
    p.add_argument("--manifest", help="data_manifest.yaml (default: found as load_manifest "
                                      "does)")
    p.add_argument("--subjects", nargs="+", metavar="ID",
                   help="subject ids, e.g. 01 13 (default: all in the manifest)")
    p.add_argument("--stages", nargs="+", choices=_ALL, metavar="STAGE",
                   help=f"stages to run, from {', '.join(_ALL)} (default: all)")
    p.add_argument("--force", action="store_true", help="recompute the chosen stages")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 on success, 1 on a failed stage)."""
    from ..manifest import load_manifest

    args = _parser().parse_args(argv)
    manifest = load_manifest(args.manifest)
    subjects = args.subjects or [s.id for s in manifest.subjects]
    for sid in subjects:
        try:
            manifest.subject(sid)
        except KeyError as exc:
            print(f"error: {exc.args[0]}", file=sys.stderr)
            return 2
    chosen = args.stages or list(_ALL)
    per_subject = [s for s in STAGES if s in chosen]
    total = time.perf_counter()
    print(f"{'subject':8s} {'stage':13s} {'status':9s} {'time':>10s}")
    try:
        for sid in subjects:
            run_subject(manifest, sid, per_subject, force=args.force, report=print)
        if "roi" in chosen:
            start = time.perf_counter()
            path = S.roi_table_path(manifest)
            before = path.stat().st_mtime_ns if path.is_file() else None
            table = S.roi_table(manifest, subjects=subjects, force=args.force)
            how = "cached" if path.stat().st_mtime_ns == before else "computed"
            print(f"{'cohort':8s} {'roi':13s} {how:9s} "
                  f"{time.perf_counter() - start:8.2f} s  "
                  f"({len(table)} rows → {S.roi_table_path(manifest)})")
    except Exception as exc:           # report which stage failed, keep the traceback short
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"{'total':8s} {'':13s} {'':9s} {time.perf_counter() - total:8.2f} s")
    return 0
