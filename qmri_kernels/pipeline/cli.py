"""Command line of the pipeline: run the stages for a cohort on Dask and report each one.

``python -m qmri_kernels.pipeline [--manifest FILE] [--subjects 01 13] [--stages ...]
[--force] [--scheduler ADDRESS] [--workers N] [--serial]`` runs the chosen stages
(default: all) for each subject as one Dask task per subject
(:func:`qmri_kernels.pipeline.runner.run_cohort`): on a local cluster sized to this machine,
or on the scheduler at ``ADDRESS`` (also taken from ``$DASK_SCHEDULER_ADDRESS`` or the Dask
config's ``scheduler-address``); ``--serial`` runs them in this process. Then the cohort's
ROI table is made over the subjects that succeeded. It prints a progress bar while the
subjects run, then one line per subject and stage — computed, read from the derivatives
(cached), failed or skipped, with the wall time — and each failure's error.

Exit status: 0 if everything succeeded, 1 if a subject or the ROI table failed (the other
subjects still ran), 2 for a bad argument (an unknown subject, a scheduler that cannot be
reached).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .runner import ALL_STAGES, STAGES, RunnerError, run_cohort, run_subject

__all__ = ["STAGES", "run_subject", "main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m qmri_kernels.pipeline",
        description="Compute and cache per-subject maps as BIDS derivatives "
                    "(fat-water, segmentation, label transfer, water T2) and the ROI table, "
                    "one Dask task per subject.",
        epilog="Workers started by hand or by a batch system should be started with "
               "--nthreads 1 and NUMBA_NUM_THREADS = cores per worker, and share "
               "NUMBA_CACHE_DIR on the shared filesystem.")
    p.add_argument("--manifest", help="data_manifest.yaml (default: found as load_manifest "
                                      "does)")
    p.add_argument("--subjects", nargs="+", metavar="ID",
                   help="subject ids, e.g. 01 13 (default: all in the manifest)")
    p.add_argument("--stages", nargs="+", choices=ALL_STAGES, metavar="STAGE",
                   help=f"stages to run, from {', '.join(ALL_STAGES)} (default: all)")
    p.add_argument("--force", action="store_true", help="recompute the chosen stages")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                            "(default: $DASK_SCHEDULER_ADDRESS, the Dask config's "
                            "scheduler-address, else a local cluster)")
    where.add_argument("--serial", action="store_true",
                       help="run the subjects one after the other in this process, "
                            "without Dask")
    p.add_argument("--workers", type=int, metavar="N",
                   help="workers of the local cluster (default: the cores of this "
                        "machine, at most one per subject)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="Numba threads per subject (default: cores // workers on each "
                        "host)")
    p.add_argument("--numba-cache", metavar="DIR",
                   help="NUMBA_CACHE_DIR of the local cluster's workers")
    p.add_argument("--retries", type=int, default=1, metavar="N",
                   help="extra attempts of a task whose worker raised outside a stage "
                        "(default: %(default)s; a lost worker is retried by the scheduler)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0: success, 1: a failure, 2: bad argument).

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments without the program name (default: ``sys.argv[1:]``);
        the options are those of the module docstring (``--help`` lists them).

    Returns
    -------
    int
        0 if every subject, stage and the ROI table succeeded; 1 if any failed (the
        report and each failure's traceback are printed, the other subjects still ran);
        2 if the run could not start (:class:`~qmri_kernels.pipeline.runner.RunnerError`:
        an unknown subject or stage, a scheduler that cannot be reached).

    Raises
    ------
    SystemExit
        From :mod:`argparse`, with status 2 for an unparsable option (status 0 for
        ``--help``).
    ManifestError
        From :func:`qmri_kernels.manifest.load_manifest`, when the manifest cannot be
        found or is invalid.
    """
    from ..manifest import load_manifest

    args = _parser().parse_args(argv)
    manifest = load_manifest(args.manifest)
    try:
        report = run_cohort(manifest, subjects=args.subjects,
                            stages=args.stages or ALL_STAGES, force=args.force,
                            scheduler=args.scheduler, workers=args.workers,
                            progress=not args.no_progress, serial=args.serial,
                            threads=args.threads, numba_cache=args.numba_cache,
                            retries=args.retries)
    except RunnerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.format())
    for r in report.subjects:
        if r.traceback:
            print(f"\nsub-{r.subject}: {r.traceback}", file=sys.stderr)
    return report.exit_code
