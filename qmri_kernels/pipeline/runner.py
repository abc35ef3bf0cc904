"""Run the per-subject stages for a cohort on Dask: one task per subject, data on disk.

:func:`run_cohort` submits one task per subject to a ``dask.distributed`` cluster — a
:class:`~distributed.LocalCluster` sized to this machine by default, or any running
scheduler (``scheduler="tcp://host:8786"``, ``$DASK_SCHEDULER_ADDRESS`` or the Dask
config key ``scheduler-address``) — collects them as they finish
(:func:`~distributed.as_completed`, with a progress bar), then computes the cohort's ROI
table once, in the calling process, over the subjects that succeeded. ``serial=True`` runs
the same tasks in this process, one after the other, without Dask.

What travels through the scheduler is small: a task receives the manifest's path, a
subject id, the stage names, ``force`` and a thread budget, reads its inputs from and
writes its derivatives to the shared filesystem (each stage atomically, see
:mod:`qmri_kernels.pipeline.stages`), and returns a report of a few hundred bytes
(:class:`SubjectReport`). No image array is sent to or from a worker.

Terms
-----
*failed*
    A stage raised a Python exception (bad DICOM, a manifest entry the stage cannot use):
    the subject's remaining stages are skipped, the error is reported, the other subjects
    carry on. Such a failure is deterministic and is **not** retried.
*lost*
    The worker process running the subject died (killed, out of memory). The scheduler
    runs the subject again on another worker — up to ``distributed.scheduler.
    allowed-failures`` times (default 3) — and ``retries`` more times should the task
    itself raise outside a stage; only then is the subject reported failed.
*thread budget*
    Each worker runs one subject at a time (``threads_per_worker=1``), and the
    ``parallel=True`` Numba kernels (and PyTorch, for the segmentation network) of that
    subject use ``budget`` threads, with workers × budget ≤ cores on every host:
    budget = cores of the host // worker threads on that host (:func:`thread_budgets`).
    A local cluster also starts its workers with ``NUMBA_NUM_THREADS`` set to the
    budget; inside the task :func:`numba.set_num_threads` enforces it either way.

Compiled Numba code is cached on disk (``@njit(cache=True)``); processes share that cache
through the filesystem. A local cluster's workers share the cache beside the package's
sources with every other process on this machine (so a worker never recompiles what a
chapter already compiled); ``numba_cache=DIR`` (or ``$NUMBA_CACHE_DIR``) points them at
another directory, e.g. one on a cluster's shared filesystem. Workers started by hand or
by a batch system take ``NUMBA_CACHE_DIR`` and ``NUMBA_NUM_THREADS`` from their
environment (see the chapter on running a large cohort).

Results do not depend on where a subject ran or with how many threads: the fits are per
voxel, and the tests compare every map of a serial run with those of a local cluster and
of a worker started by hand, bit for bit.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import stages as S

__all__ = ["STAGES", "ALL_STAGES", "RunnerError", "StageRecord", "SubjectReport",
           "CohortReport", "run_cohort", "run_subject", "subject_task", "resolve_scheduler",
           "local_cluster", "thread_budgets", "machine_cores"]

#: Per-subject stages by command-line name, in dependency order.
STAGES: dict[str, Callable] = {
    "ingest": S.ensure_ingested,
    "fatwater": S.fat_water_maps,
    "segmentation": S.segmentation,
    "labels": S.transferred_labels,
    "t2": S.t2_maps,
}
#: Every stage name :func:`run_cohort` accepts: the per-subject ones, then the cohort's
#: ROI table (``"roi"``, computed in the calling process).
ALL_STAGES: tuple[str, ...] = (*STAGES, "roi")

_KEY_PREFIX = "qmri-subject"
#: How long to wait for a first worker of an external scheduler (s): a batch system may
#: take minutes to start one.
_WAIT_FOR_WORKERS_S = 600.0


class RunnerError(ValueError):
    """A bad argument of the runner (unknown stage or subject, no workers, a scheduler that
    cannot be reached); the message names the argument and the problem."""


# ------------------------------------------------------------------------------ reports

@dataclass(frozen=True)
class StageRecord:
    """One stage of one subject.

    Attributes
    ----------
    stage : str
        Name from :data:`ALL_STAGES`.
    status : {"computed", "cached", "failed", "skipped"}
        ``cached``: read back from the derivatives; ``skipped``: not run because an
        earlier stage of the subject failed.
    seconds : float
        Wall time (s); 0 for a skipped stage.
    """

    stage: str
    status: str
    seconds: float


@dataclass(frozen=True)
class SubjectReport:
    """What one subject's task did.

    Attributes
    ----------
    subject : str
        Subject label (``"01"``).
    stages : tuple of StageRecord
        The stages asked for, in dependency order.
    error : str or None
        ``"ExceptionType: message"`` of the failure, None if every stage succeeded.
    failed_stage : str or None
        The stage that raised (None if the task itself failed, e.g. its worker was lost).
    traceback : str or None
        Full traceback text of the failure.
    worker : str
        Where it ran: the worker's address, or ``"serial"``.
    host : str
        Host name of that process.
    threads : int or None
        Numba threads the subject's kernels ran with (None: left as they were).
    seconds : float
        Wall time of the task (s), on the worker.
    peak_rss_mb : float or None
        Peak resident memory (MiB) of the process that ran it, since that process started.
    """

    subject: str
    stages: tuple[StageRecord, ...]
    error: str | None = None
    failed_stage: str | None = None
    traceback: str | None = field(default=None, repr=False)
    worker: str = "serial"
    host: str = ""
    threads: int | None = None
    seconds: float = 0.0
    peak_rss_mb: float | None = None

    @property
    def ok(self) -> bool:
        """True if every stage succeeded."""
        return self.error is None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SubjectReport:
        """Rebuild a report from the plain dict a task returns.

        Parameters
        ----------
        d : mapping
            As :meth:`as_dict` makes it: the fields of :class:`SubjectReport`, with
            ``stages`` a sequence of dicts of :class:`StageRecord` fields.

        Returns
        -------
        SubjectReport
            A new report (``d`` is not modified).

        Raises
        ------
        TypeError
            If ``d`` has a key that is not a field (from the dataclass constructor).
        """
        d = dict(d)
        d["stages"] = tuple(StageRecord(**s) for s in d.get("stages", ()))
        return cls(**d)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (only builtins: what travels back from a worker).

        Returns
        -------
        dict of str to Any
            Every field; ``stages`` as a list of ``{"stage", "status", "seconds"}`` dicts
            (seconds of wall time). :meth:`from_dict` inverts it.
        """
        return {"subject": self.subject,
                "stages": [{"stage": s.stage, "status": s.status, "seconds": s.seconds}
                           for s in self.stages],
                "error": self.error, "failed_stage": self.failed_stage,
                "traceback": self.traceback, "worker": self.worker, "host": self.host,
                "threads": self.threads, "seconds": self.seconds,
                "peak_rss_mb": self.peak_rss_mb}


@dataclass(frozen=True)
class CohortReport:
    """What :func:`run_cohort` did for a cohort.

    Attributes
    ----------
    subjects : tuple of SubjectReport
        One per subject, in the order asked for.
    roi : StageRecord or None
        The cohort's ROI table (None if ``"roi"`` was not asked for).
    roi_error : str or None
        Why the ROI table failed, if it did.
    mode : {"serial", "local", "scheduler"}
        Where the subjects ran.
    scheduler : str or None
        Scheduler address (None when serial).
    workers : int
        Workers of the cluster when the run started (1 when serial).
    seconds : float
        Wall time of the whole run (s), cluster start-up included.
    """

    subjects: tuple[SubjectReport, ...]
    roi: StageRecord | None = None
    roi_error: str | None = None
    mode: str = "serial"
    scheduler: str | None = None
    workers: int = 1
    seconds: float = 0.0

    @property
    def ok(self) -> tuple[str, ...]:
        """Subjects whose every stage succeeded."""
        return tuple(r.subject for r in self.subjects if r.ok)

    @property
    def failed(self) -> tuple[str, ...]:
        """Subjects with a failed stage (or a lost task)."""
        return tuple(r.subject for r in self.subjects if not r.ok)

    @property
    def succeeded(self) -> bool:
        """True if no subject and not the ROI table failed."""
        return not self.failed and self.roi_error is None

    @property
    def exit_code(self) -> int:
        """0 if :attr:`succeeded`, else 1 (the command line's exit status)."""
        return 0 if self.succeeded else 1

    def subject(self, subject: str) -> SubjectReport:
        """The report of ``subject`` (``"01"`` or ``"sub-01"``).

        Parameters
        ----------
        subject : str
            Subject label, with or without the ``sub-`` prefix.

        Returns
        -------
        SubjectReport
            The first report of that subject.

        Raises
        ------
        KeyError
            If the subject was not part of this run.
        """
        key = subject[4:] if subject.startswith("sub-") else subject
        for r in self.subjects:
            if r.subject == key:
                return r
        raise KeyError(f"no subject {subject!r} in this report")

    @property
    def table(self) -> pd.DataFrame:
        """Tidy table: one row per subject × stage (the ROI table as subject ``cohort``).

        Columns ``subject``, ``stage``, ``status``, ``seconds``, ``worker``, ``threads``,
        ``peak_rss_mb``, ``error`` (on the failed stage's row).
        """
        rows = []
        for r in self.subjects:
            for s in r.stages:
                rows.append({"subject": r.subject, "stage": s.stage, "status": s.status,
                             "seconds": s.seconds, "worker": r.worker, "threads": r.threads,
                             "peak_rss_mb": r.peak_rss_mb,
                             "error": r.error if s.status == "failed" else None})
            if r.error and r.failed_stage is None:
                rows.append({"subject": r.subject, "stage": "task", "status": "failed",
                             "seconds": r.seconds, "worker": r.worker, "threads": r.threads,
                             "peak_rss_mb": r.peak_rss_mb, "error": r.error})
        if self.roi is not None:
            rows.append({"subject": "cohort", "stage": "roi", "status": self.roi.status,
                         "seconds": self.roi.seconds, "worker": "client", "threads": None,
                         "peak_rss_mb": None, "error": self.roi_error})
        return pd.DataFrame(rows, columns=["subject", "stage", "status", "seconds", "worker",
                                           "threads", "peak_rss_mb", "error"])

    def format(self) -> str:
        """The text report: one line per subject × stage, then the failures in full.

        Returns
        -------
        str
            Multi-line text: a header line, one line per subject × stage (status and wall
            time in s, worker), the ROI table, the total, a one-line summary, then one
            ``FAILED ...`` line per failure (what :mod:`.cli` prints).
        """
        lines = [f"{'subject':8s} {'stage':13s} {'status':9s} {'time':>10s}  worker"]
        for r in self.subjects:
            label = f"sub-{r.subject}"
            for s in r.stages:
                lines.append(f"{label:8s} {s.stage:13s} {s.status:9s} {s.seconds:8.2f} s  "
                             f"{r.worker}")
            if r.error and r.failed_stage is None:
                lines.append(f"{label:8s} {'task':13s} {'failed':9s} {r.seconds:8.2f} s  "
                             f"{r.worker}")
        if self.roi is not None:
            lines.append(f"{'cohort':8s} {'roi':13s} {self.roi.status:9s} "
                         f"{self.roi.seconds:8.2f} s  client")
        lines.append(f"{'total':8s} {'':13s} {'':9s} {self.seconds:8.2f} s  "
                     f"{self._where()}")
        lines.append(f"{len(self.ok)} of {len(self.subjects)} subjects succeeded"
                     + (f"; failed: {', '.join('sub-' + s for s in self.failed)}"
                        if self.failed else ""))
        for r in self.subjects:
            if r.error:
                where = f"stage {r.failed_stage}" if r.failed_stage else "task"
                lines.append(f"FAILED sub-{r.subject} ({where}): {r.error}")
        if self.roi_error:
            lines.append(f"FAILED cohort ROI table: {self.roi_error}")
        return "\n".join(lines)

    def _where(self) -> str:
        if self.mode == "serial":
            return "serial"
        return f"{self.mode} {self.scheduler} ({self.workers} workers)"

    def __str__(self) -> str:
        return self.format()

    def _repr_html_(self) -> str:
        return (f"<p>{len(self.ok)} of {len(self.subjects)} subjects succeeded "
                f"({self._where()}, {self.seconds:.1f} s)</p>" + self.table.to_html())


# ------------------------------------------------------------------------- the task

def _check_stages(stages: Iterable[str], allowed: Sequence[str]) -> list[str]:
    wanted = set(stages)
    unknown = sorted(wanted - set(allowed))
    if unknown:
        raise RunnerError(f"unknown stages {unknown}; choose from {list(allowed)}")
    return [s for s in allowed if s in wanted]


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux, bytes on macOS
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 ** 2 if sys.platform == "darwin" else 1024)


def _limit_threads(threads: int | None, stages: Sequence[str]) -> int | None:
    """Cap this process's Numba (and, for segmentation, PyTorch) threads at ``threads``."""
    if threads is None:
        return None
    import numba

    n = max(1, min(int(threads), int(numba.config.NUMBA_NUM_THREADS)))
    numba.set_num_threads(n)
    if "segmentation" in stages:
        import torch

        torch.set_num_threads(n)
    return n


def _where() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "serial"


def _own_budget(budgets: Mapping[str, int] | int | None, where: str) -> int | None:
    if budgets is None or isinstance(budgets, int):
        return budgets
    if where in budgets:
        return budgets[where]
    # a worker that joined after the budgets were computed: its share of its host
    from distributed import get_worker

    return max(1, machine_cores() // max(1, get_worker().state.nthreads))


def subject_task(manifest_path: str, subject: str, stages: Sequence[str],
                 force: bool | Sequence[str] = False,
                 threads: Mapping[str, int] | int | None = None) -> dict[str, Any]:
    """Run one subject's stages (the unit of work sent to a Dask worker).

    Parameters
    ----------
    manifest_path : str
        The manifest file, on the filesystem the worker sees.
    subject : str
        Subject id.
    stages : sequence of str
        Names from :data:`STAGES`; run in dependency order.
    force : bool or sequence of str
        Recompute those stages (True), or the stages named.
    threads : int or dict of str to int, optional
        Thread budget of the kernels: a number, or one per worker address (as
        :func:`thread_budgets` gives). None leaves the threads as they are.

    Returns
    -------
    dict
        :meth:`SubjectReport.as_dict`: plain values only. A stage that raises makes the
        report's ``error``; the exception is not raised (so that Dask does not retry it).
    """
    start = time.perf_counter()
    where = _where()
    records: list[dict[str, Any]] = []
    error = failed = tb = None
    used = None
    label = str(subject)
    try:
        names = _check_stages(stages, tuple(STAGES))
        used = _limit_threads(_own_budget(threads, where), names)
        from ..manifest import load_manifest

        manifest = load_manifest(manifest_path)
        label = manifest.subject(subject).id
        for name in names:
            t0 = time.perf_counter()
            try:
                again = force if isinstance(force, bool) else name in force
                result = STAGES[name](manifest, label, force=again)
            except Exception as exc:
                records.append({"stage": name, "status": "failed",
                                "seconds": time.perf_counter() - t0})
                error, failed, tb = _describe(exc), name, traceback.format_exc()
                break
            records.append({"stage": name,
                            "status": "computed" if result.computed else "cached",
                            "seconds": time.perf_counter() - t0})
        done = {r["stage"] for r in records}
        records += [{"stage": n, "status": "skipped", "seconds": 0.0}
                    for n in names if n not in done]
    except Exception as exc:                   # before any stage: manifest, subject, threads
        error, tb = _describe(exc), traceback.format_exc()
    return {"subject": label, "stages": records, "error": error, "failed_stage": failed,
            "traceback": tb, "worker": where, "host": socket.gethostname(),
            "threads": used, "seconds": time.perf_counter() - start,
            "peak_rss_mb": _peak_rss_mb()}


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, KeyError) and exc.args:
        text = str(exc.args[0])
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_subject(manifest, subject: str, stages: Iterable[str] = tuple(STAGES), *,
                force: bool = False, report: Callable[[str], None] | None = None
                ) -> dict[str, float]:
    """Run per-subject stages in dependency order, in this process, raising on failure.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort (data and derivative roots).
    subject : str
        Subject id, ``"01"`` or ``"sub-01"``.
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
    RunnerError
        If a stage name is unknown.
    Exception
        Whatever a stage raises (after reporting the stage as failed).
    """
    names = _check_stages(stages, tuple(STAGES))
    times = {}
    label = manifest.subject(subject).bids_id
    for name in names:
        start = time.perf_counter()
        try:
            result = STAGES[name](manifest, subject, force=force)
        except Exception:
            if report is not None:
                report(f"{label:8s} {name:13s} {'failed':9s} "
                       f"{time.perf_counter() - start:8.2f} s")
            raise
        times[name] = time.perf_counter() - start
        if report is not None:
            how = "computed" if result.computed else "cached"
            report(f"{label:8s} {name:13s} {how:9s} {times[name]:8.2f} s")
    return times


# --------------------------------------------------------------------------- cluster

def machine_cores() -> int:
    """CPU cores this process may run on (its affinity set, else ``os.cpu_count()``).

    Returns
    -------
    int
        Number of usable cores, at least 1.
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                  # not Linux
        return os.cpu_count() or 1


def resolve_scheduler(scheduler: str | None = None) -> str | None:
    """The scheduler address to use: ``scheduler``, else ``$DASK_SCHEDULER_ADDRESS``, else
    the Dask config's ``scheduler-address``; None means: start a local cluster.

    Parameters
    ----------
    scheduler : str, optional
        ``"tcp://host:8786"`` (or any address ``distributed.Client`` accepts).

    Returns
    -------
    str or None
        The address, or None when none is set anywhere (start a local cluster).
    """
    if scheduler:
        return str(scheduler)
    env = os.environ.get("DASK_SCHEDULER_ADDRESS")
    if env:
        return env
    import dask

    return dask.config.get("scheduler-address", None) or None


def local_cluster(workers: int | None = None, *, threads: int | None = None,
                  numba_cache: str | Path | None = None, **kwargs: Any):
    """A :class:`distributed.LocalCluster` for the pipeline: processes, one task each.

    Parameters
    ----------
    workers : int, optional
        Worker processes (default: the cores of this machine).
    threads : int, optional
        Numba / PyTorch threads of each worker (default: cores // workers, at least 1), set
        as ``NUMBA_NUM_THREADS`` in the workers' environment.
    numba_cache : str or Path, optional
        ``NUMBA_CACHE_DIR`` of the workers (default: ``$NUMBA_CACHE_DIR`` if set, else
        Numba's cache beside the package's sources, which every process here shares).
    **kwargs
        Passed to :class:`distributed.LocalCluster` (e.g. ``memory_limit``).

    Returns
    -------
    distributed.LocalCluster
        Started, with ``workers`` single-threaded worker processes and the dashboard on a
        free port; close it when done.

    Raises
    ------
    RunnerError
        If ``workers`` or ``threads`` is below 1.
    """
    from distributed import LocalCluster

    cores = machine_cores()
    workers = cores if workers is None else int(workers)
    if workers < 1:
        raise RunnerError(f"workers must be at least 1, got {workers}")
    threads = max(1, cores // workers) if threads is None else int(threads)
    if threads < 1:
        raise RunnerError(f"threads must be at least 1, got {threads}")
    env = {"NUMBA_NUM_THREADS": str(threads)}
    cache = numba_cache or os.environ.get("NUMBA_CACHE_DIR")
    if cache:
        Path(cache).mkdir(parents=True, exist_ok=True)
        env["NUMBA_CACHE_DIR"] = str(Path(cache).resolve())
    options = dict(n_workers=workers, threads_per_worker=1, processes=True,
                   dashboard_address=":0", env=env)
    options.update(kwargs)
    return LocalCluster(**options)


def thread_budgets(client, threads: int | None = None) -> dict[str, int]:
    """Thread budget of each worker: ``threads``, or its host's cores divided among the
    worker threads on that host (so that workers × threads ≤ cores on every host).

    Parameters
    ----------
    client : distributed.Client
        Connected client of the cluster whose workers are budgeted.
    threads : int, optional
        The same budget for every worker.

    Returns
    -------
    dict of str to int
        Worker address → Numba threads for each of its tasks.
    """
    from distributed.comm import get_address_host

    nthreads = client.nthreads()
    if threads is not None:
        return {w: max(1, int(threads)) for w in nthreads}
    cores = client.run(machine_cores)
    per_host: dict[str, int] = {}
    for w, n in nthreads.items():
        per_host[get_address_host(w)] = per_host.get(get_address_host(w), 0) + n
    return {w: max(1, cores.get(w, 1) // per_host[get_address_host(w)]) for w in nthreads}


# ------------------------------------------------------------------------ the cohort

def _progress(total: int, enabled: bool, desc: str):
    if not enabled:
        return contextlib.nullcontext(None)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="subject", file=sys.stderr)


def _lost(subject: str, exc: BaseException, worker: str = "") -> SubjectReport:
    return SubjectReport(subject=subject, stages=(), error=_describe(exc),
                         traceback="".join(traceback.format_exception(exc)),
                         worker=worker or "unknown")


def _roi(manifest, subjects: list[str], force: bool) -> tuple[StageRecord, str | None]:
    start = time.perf_counter()
    path = S.roi_table_path(manifest)
    before = path.stat().st_mtime_ns if path.is_file() else None
    try:
        S.roi_table(manifest, subjects=subjects, force=force)
    except Exception as exc:
        return StageRecord("roi", "failed", time.perf_counter() - start), _describe(exc)
    how = "cached" if path.stat().st_mtime_ns == before else "computed"
    return StageRecord("roi", how, time.perf_counter() - start), None


def run_cohort(manifest, subjects: Iterable[str] | None = None,
               stages: Iterable[str] = ALL_STAGES, *, force: bool = False,
               scheduler=None, workers: int | None = None, progress: bool = True,
               serial: bool = False, threads: int | None = None,
               numba_cache: str | Path | None = None, retries: int = 1
               ) -> CohortReport:
    """Run the pipeline for a cohort: one Dask task per subject, then the ROI table.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest or str or Path
        The cohort (a loaded manifest or its file). Workers read the manifest **file**,
        so it must be on a filesystem they see.
    subjects : iterable of str, optional
        Subject ids (default: every subject of the manifest).
    stages : iterable of str
        Names from :data:`ALL_STAGES` (default all); per-subject stages run in dependency
        order, ``"roi"`` last, over the subjects that succeeded. Asking for ``"roi"`` runs
        every per-subject stage first (as tasks; cached ones are read back), since the
        table measures all the maps.
    force : bool
        Recompute the chosen stages (only those: with ``stages=["fatwater", "roi"]`` the
        other per-subject stages recompute only if their inputs changed).
    scheduler : str or distributed.Client, optional
        A scheduler address or a connected client. Default: :func:`resolve_scheduler`, and
        a :func:`local_cluster` (closed afterwards) if that gives none.
    workers : int, optional
        Workers of the local cluster (default: the cores of this machine, at most one per
        subject). Ignored with a scheduler.
    progress : bool
        Show a progress bar (``tqdm.auto``: a widget in a notebook, text in a terminal).
    serial : bool
        Run the subjects one after the other in this process, without Dask.
    threads : int, optional
        Numba threads per subject (default: cores of the worker's host // worker threads
        on it; when serial: left as they are).
    numba_cache : str or Path, optional
        ``NUMBA_CACHE_DIR`` of a local cluster's workers (see :func:`local_cluster`).
    retries : int
        Extra attempts of a task that raised outside a stage (a lost worker is retried by
        the scheduler itself, see the module's notes). A stage's exception is final.

    Returns
    -------
    CohortReport
        Per subject and stage: computed, cached, failed (with the error) or skipped, and
        the wall times; ``.failed``, ``.ok``, ``.table`` (DataFrame), ``.exit_code``.

    Raises
    ------
    RunnerError
        An unknown stage or subject (nothing runs then), or ``workers`` below 1.

    Examples
    --------
    >>> from qmri_kernels.pipeline import run_cohort        # doctest: +SKIP
    >>> report = run_cohort("data_manifest.yaml", subjects=["01", "13"])  # doctest: +SKIP
    >>> report.failed                                       # doctest: +SKIP
    ()
    """
    from ..manifest import load_manifest

    start = time.perf_counter()
    if not hasattr(manifest, "subjects"):
        manifest = load_manifest(manifest)
    chosen = _check_stages(stages, ALL_STAGES)
    per_subject = list(STAGES) if "roi" in chosen else [s for s in chosen if s in STAGES]
    forced = tuple(s for s in chosen if s in STAGES) if force else ()
    ids = []
    for sid in (subjects if subjects is not None else [s.id for s in manifest.subjects]):
        try:
            ids.append(manifest.subject(sid).id)
        except KeyError as exc:
            raise RunnerError(exc.args[0]) from None
    if len(set(ids)) != len(ids):
        raise RunnerError(f"subjects {ids}: a subject is listed twice")
    if workers is not None and int(workers) < 1:
        raise RunnerError(f"workers must be at least 1, got {workers}")
    path = str(Path(manifest.path).resolve())

    if serial or not ids or not per_subject:
        reports = []
        with _progress(len(ids) if per_subject else 0, progress and bool(per_subject),
                       "subjects (serial)") as bar:
            for sid in ids:
                if per_subject:
                    reports.append(SubjectReport.from_dict(
                        subject_task(path, sid, per_subject, forced, threads)))
                    if bar is not None:
                        bar.update(1)
                else:
                    reports.append(SubjectReport(sid, ()))
        mode, address, n_workers = "serial", None, 1
    else:
        reports, mode, address, n_workers = _run_distributed(
            path, ids, per_subject, forced, scheduler, workers, progress, threads,
            numba_cache, retries)

    roi = roi_error = None
    if "roi" in chosen:
        good = [r.subject for r in reports if r.ok]
        if good:
            roi, roi_error = _roi(manifest, good, force)
        else:
            roi, roi_error = StageRecord("roi", "skipped", 0.0), None
    return CohortReport(tuple(reports), roi, roi_error, mode, address, n_workers,
                        time.perf_counter() - start)


@contextlib.contextmanager
def _environ_kept():
    """Restore this process's environment afterwards: a local cluster's nannies set
    ``OMP_NUM_THREADS=1`` and the like in the process that starts them (Dask's
    ``distributed.nanny.pre-spawn-environ``), which would otherwise slow down later
    computations of a notebook."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        for key in set(os.environ) - set(saved):
            del os.environ[key]
        for key, value in saved.items():
            if os.environ.get(key) != value:
                os.environ[key] = value


def _run_distributed(path, ids, per_subject, force, scheduler, workers, progress, threads,
                     numba_cache, retries):
    from distributed import Client, as_completed

    with contextlib.ExitStack() as stack:
        if scheduler is not None and not isinstance(scheduler, str):
            client, mode = scheduler, "scheduler"           # a connected Client
        else:
            address = resolve_scheduler(scheduler)
            if address is None:
                n = min(workers or machine_cores(), len(ids))
                stack.enter_context(_environ_kept())
                cluster = stack.enter_context(local_cluster(n, threads=threads,
                                                            numba_cache=numba_cache))
                client = stack.enter_context(Client(cluster))
                mode = "local"
            else:
                try:
                    client = stack.enter_context(Client(address, timeout="30s"))
                except OSError as exc:
                    raise RunnerError(f"scheduler {address!r}: cannot connect ({exc})") \
                        from None
                mode = "scheduler"
                try:
                    client.wait_for_workers(1, timeout=_WAIT_FOR_WORKERS_S)
                except TimeoutError:
                    raise RunnerError(f"scheduler {address!r}: no worker connected within "
                                      f"{_WAIT_FOR_WORKERS_S:.0f} s") from None
        budgets = thread_budgets(client, threads)
        n_workers = len(budgets)
        token = os.urandom(4).hex()
        futures = {}
        for sid in ids:
            fut = client.submit(subject_task, path, sid, tuple(per_subject), force, budgets,
                                key=f"{_KEY_PREFIX}-{sid}-{token}", retries=retries,
                                pure=False)
            futures[fut] = sid
        results: dict[str, SubjectReport] = {}
        failed = 0
        with _progress(len(ids), progress, f"subjects ({n_workers} workers)") as bar:
            for fut in as_completed(futures):
                sid = futures[fut]
                try:
                    report = SubjectReport.from_dict(fut.result())
                except Exception as exc:              # lost worker, KilledWorker, ...
                    report = _lost(sid, exc)
                results[sid] = report
                failed += not report.ok
                if bar is not None:
                    bar.update(1)
                    if failed:
                        bar.set_postfix(failed=failed)
        return ([results[s] for s in ids], mode, client.scheduler.address, n_workers)
