"""Benchmark: how the per-subject pipeline scales over Dask workers, and a projection.

Run ``python benchmarks/scaling.py [--subjects 4] [--matrix 64] [--cohort DIR]
[--fs-mb-per-s 500] [--json FILE]``.

On this machine, with a scaling cohort (``python -m qmri_kernels.phantom.synthetic_cohort
--n-subjects N``: made-up subjects ``s0001`` …, never the paper's patients) at a reduced
matrix, it measures

- **subjects per minute** of :func:`qmri_kernels.pipeline.run_cohort` (every per-subject
  stage, computed into a fresh derivative root) on a local cluster of 1 worker and of 2
  workers, each worker one task at a time with **one** Numba/PyTorch thread — so the two
  runs use 1 and 2 cores — and, for comparison of arrangements, 1 worker with all the
  cores as Numba threads;
- the **parallel efficiency** E(2) = rate(2 workers) / (2 × rate(1 worker)); target ≥ 0.85;
- the **scheduler's overhead per task**: 400 empty tasks through the same cluster
  (throughput, s per task), and the round trip of one empty task (latency);
- **peak memory per worker** (the worker process's peak resident set, from
  ``resource.getrusage`` in each task) and the **data per subject** (DICOM read,
  derivatives written);
- the workers' start-up, reported apart from the rate: cluster start and imports, then
  one warm-up subject per worker (from two extra subjects of the cohort, into a separate
  derivative root) — a fresh worker's first subject also loads the network and Numba's
  cached machine code; the rates are measured after it.

Projection model (printed under "projection"; a model, not a measurement)
-------------------------------------------------------------------------
A cohort of N subjects on W workers, each worker one subject at a time with one core,
finishes at a rate (subjects per second)

    R(W) = min( E · W / c ,  1 / o ,  B / d )

- c: seconds of one subject on one worker with one thread (measured: mean task time of
  the 1-worker run; start-up excluded);
- E: parallel efficiency, taken as measured at 2 workers (it stands for what workers
  share on one host: memory bandwidth, the filesystem cache); on a real cluster each
  worker has its own cores, so this is conservative for workers on different hosts;
- o: scheduler overhead per task (measured with empty tasks): the scheduler dispatches
  tasks one after the other, so it caps the rate at 1 / o;
- d: bytes a subject moves over the shared filesystem (DICOM read, raw NIfTI dataset and
  derivatives written, measured; intermediate maps read back by later stages are counted once more), and B the
  filesystem's aggregate bandwidth (``--fs-mb-per-s``, an assumption: 500 MB/s is a
  modest NFS server; a parallel filesystem gives several GB/s).

Start-up (workers importing the library, loading the network, Numba loading its cache) is
paid once per worker and is not in R. The per-subject cost grows with the matrix: the
fat-water and T2 fits with the number of voxels, the network's inference hardly (it runs on
a fixed physical grid); measure with ``--matrix 256`` for the protocol's size.

Timings on a shared machine vary with its load (printed before and after); ratios within
one run are the numbers to compare. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from qmri_kernels.phantom.synthetic_cohort import generate_scaling_cohort, scaling_subject_ids
from qmri_kernels.pipeline import STAGES, run_cohort
from qmri_kernels.pipeline.runner import local_cluster, machine_cores

TARGET_EFFICIENCY = 0.85
EMPTY_TASKS = 400
WARMUP_SUBJECTS = 2


def _noop(i: int) -> int:
    return i


def _warm_worker() -> float:
    """Import what a subject needs (the start-up a worker pays once); seconds."""
    start = time.perf_counter()
    import torch  # noqa: F401

    import qmri_kernels.fatwater  # noqa: F401
    import qmri_kernels.masks  # noqa: F401
    import qmri_kernels.segment  # noqa: F401
    import qmri_kernels.t2  # noqa: F401
    return time.perf_counter() - start


def _rss_now_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2 ** 20


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def _manifest(cohort: Path, name: str) -> Path:
    doc = yaml.safe_load((cohort / "data_manifest.yaml").read_text())
    doc["derivatives"] = f"derivatives/{name}"
    doc["rawdata"] = f"rawdata-{name}"         # each run ingests into its own raw dataset
    doc["score_store"] = f"derivatives/{name}_scores.sqlite"
    path = cohort / f"bench_{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _measure(cohort: Path, subjects: list[str], warmup: list[str], workers: int,
             threads: int, overhead: bool) -> dict:
    """One local cluster: start-up, the cohort's rate, memory, and (optionally) overhead."""
    from distributed import Client

    name = f"w{workers}t{threads}"
    path = _manifest(cohort, name)
    start = time.perf_counter()
    with local_cluster(workers, threads=threads) as cluster, Client(cluster) as client:
        warm = client.run(_warm_worker)
        first = run_cohort(_manifest(cohort, f"{name}-warmup"), subjects=warmup[:workers],
                           stages=list(STAGES), scheduler=client, progress=False,
                           threads=threads)
        startup = time.perf_counter() - start
        t0 = time.perf_counter()
        report = run_cohort(path, subjects=subjects, stages=list(STAGES), scheduler=client,
                            progress=False, threads=threads)
        wall = time.perf_counter() - t0
        rss_now = client.run(_rss_now_mb)
        result = {"name": name, "workers": workers, "threads": threads,
                  "startup_s": startup, "import_s": max(warm.values()), "wall_s": wall,
                  "first_subject_s": [r.seconds for r in first.subjects],
                  "subjects": len(report.subjects), "failed": list(report.failed),
                  "per_subject_s": [r.seconds for r in report.subjects],
                  "per_stage_s": report.table.groupby("stage")["seconds"].mean().to_dict(),
                  "peak_rss_mb": {w: max(r.peak_rss_mb for r in report.subjects
                                         if r.worker == w)
                                  for w in {r.worker for r in report.subjects}},
                  "rss_after_mb": rss_now}
        if overhead:
            t0 = time.perf_counter()
            client.gather(client.map(_noop, range(EMPTY_TASKS), pure=False))
            result["overhead_s_per_task"] = (time.perf_counter() - t0) / EMPTY_TASKS
            trips = []
            for i in range(20):
                t0 = time.perf_counter()
                client.submit(_noop, i, pure=False).result()
                trips.append(time.perf_counter() - t0)
            result["round_trip_s"] = statistics.median(trips)
    result["rate_per_min"] = 60.0 * result["subjects"] / wall
    if result["failed"]:
        print(report.format(), file=sys.stderr)
    return result


def _data_per_subject(cohort: Path, name: str, ids: list[str]) -> tuple[float, float]:
    """Mean bytes per subject: DICOM read; raw dataset + derivatives written."""
    dicom = statistics.mean(_dir_bytes(cohort / "sourcedata" / f"sub-{s}") for s in ids)
    out = statistics.mean(_dir_bytes(cohort / f"rawdata-{name}" / f"sub-{s}")
                          + _dir_bytes(cohort / "derivatives" / name / f"sub-{s}")
                          for s in ids)
    return dicom, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=4, help="scaling-cohort size "
                                                            "(default %(default)s)")
    ap.add_argument("--matrix", type=int, default=64,
                    help="in-plane matrix of the cohort (default %(default)s; the protocol "
                         "has 256)")
    ap.add_argument("--cohort", type=Path,
                    help="folder of the scaling cohort, kept and reused (default: a "
                         "temporary folder)")
    ap.add_argument("--fs-mb-per-s", type=float, default=500.0,
                    help="assumed aggregate bandwidth of a cluster's shared filesystem for "
                         "the projection (default %(default)s MB/s)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args(argv)

    cores = machine_cores()
    with tempfile.TemporaryDirectory(prefix="qmri-scaling-") as tmp:
        cohort = args.cohort or Path(tmp) / "scaling"
        t0 = time.perf_counter()
        ids = scaling_subject_ids(args.subjects + WARMUP_SUBJECTS)
        timed, warmup = ids[:args.subjects], ids[args.subjects:]
        generate_scaling_cohort(cohort, len(ids), (args.matrix, args.matrix))
        print(f"scaling cohort: {args.subjects} subjects (+ {WARMUP_SUBJECTS} for warm-up), "
              f"{args.matrix} x {args.matrix}, at {cohort} "
              f"({time.perf_counter() - t0:.0f} s to generate or check)")
        print(f"machine: {cores} cores; load average before {os.getloadavg()[0]:.1f}")
        runs = [_measure(cohort, timed, warmup, 1, 1, overhead=False),
                _measure(cohort, timed, warmup, 2, 1, overhead=True)]
        if cores > 1:
            runs.append(_measure(cohort, timed, warmup, 1, cores, overhead=False))
        d_in, d_out = _data_per_subject(cohort, runs[0]["name"], timed)
        print(f"load average after {os.getloadavg()[0]:.1f}")

    one, two = runs[0], runs[1]
    print("\nmeasured (every per-subject stage, fresh derivatives, after start-up)")
    print(f"{'arrangement':28s} {'subjects/min':>12s} {'s/subject':>10s} "
          f"{'start-up s':>10s} {'1st subject s':>13s} {'peak RSS/worker MB':>19s}")
    for r in runs:
        label = f"{r['workers']} worker(s) x {r['threads']} thread(s)"
        print(f"{label:28s} {r['rate_per_min']:12.2f} "
              f"{statistics.mean(r['per_subject_s']):10.1f} {r['startup_s']:10.1f} "
              f"{statistics.mean(r['first_subject_s']):13.1f} "
              f"{max(r['peak_rss_mb'].values()):19.0f}")
    stages = one["per_stage_s"]
    print("mean seconds per stage (1 worker x 1 thread): "
          + ", ".join(f"{k} {stages[k]:.1f}" for k in STAGES if k in stages))
    efficiency = two["rate_per_min"] / (2 * one["rate_per_min"])
    verdict = "met" if efficiency >= TARGET_EFFICIENCY else "NOT met"
    print(f"parallel efficiency at 2 workers: E = {efficiency:.2f} "
          f"(target >= {TARGET_EFFICIENCY}: {verdict})")
    overhead = two["overhead_s_per_task"]
    print(f"scheduler overhead: {overhead * 1e3:.2f} ms per task ({EMPTY_TASKS} empty tasks, "
          f"2 workers), round trip of one empty task {two['round_trip_s'] * 1e3:.1f} ms")
    print(f"data per subject: DICOM {d_in / 1e6:.1f} MB read, raw dataset + derivatives "
          f"{d_out / 1e6:.1f} MB written")
    failed = sorted({s for r in runs for s in r["failed"]})
    if failed:
        print(f"WARNING: subjects failed in some run: {failed}; rates count them as done")

    c = statistics.mean(one["per_subject_s"])
    moved = d_in + 2 * d_out                 # intermediates read back by later stages
    fs_rate = args.fs_mb_per_s * 1e6 / moved
    e = min(efficiency, 1.0)
    print(f"\nprojection (model R(W) = min(E*W/c, 1/o, B/d); c = {c:.1f} s, E = {e:.2f}, "
          f"o = {overhead * 1e3:.2f} ms, d = {moved / 1e6:.1f} MB, "
          f"B = {args.fs_mb_per_s:.0f} MB/s assumed; at this {args.matrix} x {args.matrix} "
          "matrix)")
    projection = {}
    for w in (10, 100):
        limits = {"workers": e * w / c, "scheduler": 1 / overhead, "filesystem": fs_rate}
        bound = min(limits, key=limits.get)
        rate = limits[bound] * 60
        projection[w] = {"subjects_per_min": rate, "bound_by": bound}
        print(f"projection: {w:3d} workers -> {rate:8.1f} subjects/min "
              f"(limited by {bound}); 1000 subjects in {1000 / rate:6.1f} min")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "subjects": args.subjects, "matrix": args.matrix, "cores": cores, "runs": runs,
            "efficiency": efficiency, "data_in_bytes": d_in, "data_out_bytes": d_out,
            "fs_mb_per_s": args.fs_mb_per_s, "projection": projection,
            "client_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024},
            indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
