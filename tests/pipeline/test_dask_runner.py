"""The runner on Dask: a local cluster of two workers, a scheduler and a worker started by
hand (``dask scheduler`` / ``dask worker``) driven by the command line, a failing subject
among good ones, and a worker killed in the middle of a subject.

Every run writes to its own derivative root; its maps must equal the serial run's bit for
bit. No timing is asserted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qmri_kernels import pipeline
from qmri_kernels.pipeline import run_cohort, runner

pytestmark = pytest.mark.slow

_DASK = Path(sys.executable).with_name("dask")


def _dask_cli(*args: str) -> list[str]:
    return [str(_DASK), *args] if _DASK.exists() else [sys.executable, "-m", "dask", *args]


@pytest.fixture(scope="module")
def external_scheduler(tmp_path_factory):
    """A scheduler and one worker (one thread) on 127.0.0.1, started as the user would."""
    from distributed import Client

    folder = tmp_path_factory.mktemp("scheduler")
    info = folder / "scheduler.json"
    logs = [open(folder / name, "w") for name in ("scheduler.log", "worker.log")]
    procs = [subprocess.Popen(_dask_cli("scheduler", "--host", "127.0.0.1", "--port", "0",
                                        "--no-dashboard", "--scheduler-file", str(info)),
                              stdout=logs[0], stderr=subprocess.STDOUT)]
    try:
        deadline = time.monotonic() + 120
        while not info.is_file() or not info.read_text().strip():
            assert procs[0].poll() is None, (folder / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        procs.append(subprocess.Popen(_dask_cli("worker", address, "--nthreads", "1",
                                                "--nworkers", "1", "--host", "127.0.0.1",
                                                "--no-dashboard"),
                                      stdout=logs[1], stderr=subprocess.STDOUT))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(1, timeout=180)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()


def test_two_subjects_on_a_local_cluster_match_the_serial_run(
        write_manifest, serial_reference, assert_same_derivatives):
    path = write_manifest("local")
    report = run_cohort(path, workers=2, progress=False)
    assert report.succeeded, report.format()
    assert report.mode == "local" and report.workers == 2
    assert {r.worker for r in report.subjects} != {"serial"}
    assert len({r.worker for r in report.subjects}) == 2         # ran side by side
    for r in report.subjects:
        assert {s.status for s in r.stages} == {"computed"}
        assert 1 <= r.threads and 2 * r.threads <= runner.machine_cores()
        assert r.peak_rss_mb > 0
    assert report.roi.status == "computed"
    assert (path.parent / "derivatives" / "local" / "roi_statistics.csv").is_file()
    # the maps and labels (the ingested images are in the raw dataset the two runs share)
    assert assert_same_derivatives(serial_reference, path.parent / "derivatives" / "local") >= 30


def test_the_command_line_on_a_running_scheduler_matches_the_serial_run(
        external_scheduler, write_manifest, serial_reference, assert_same_derivatives):
    path = write_manifest("external")
    done = subprocess.run([sys.executable, "-m", "qmri_kernels.pipeline", "--manifest",
                           str(path), "--scheduler", external_scheduler, "--no-progress"],
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 of 2 subjects succeeded" in done.stdout
    assert f"scheduler {external_scheduler} (1 workers)" in done.stdout
    for sub in ("sub-01", "sub-13"):
        assert f"{sub}   t2            computed" in done.stdout
    assert_same_derivatives(serial_reference, path.parent / "derivatives" / "external")


def test_one_failing_subject_does_not_stop_the_others(external_scheduler, broken_manifest,
                                                      capsys):
    code = pipeline.main(["--manifest", str(broken_manifest), "--scheduler",
                          external_scheduler, "--stages", "ingest", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "sub-01   ingest        computed" in out
    assert "sub-13   ingest        computed" in out
    assert "sub-02   ingest        failed" in out
    assert "2 of 3 subjects succeeded; failed: sub-02" in out
    assert "FAILED sub-02 (stage ingest): DicomError:" in out
    assert "no DICOM files found" in out and "Traceback" in err


def test_a_worker_killed_mid_subject_is_replaced_and_the_subject_rerun(
        external_scheduler, write_manifest):
    from distributed import Client

    path = write_manifest("lost")
    result = {}

    def run():
        result["report"] = run_cohort(path, subjects=["13"], stages=["ingest", "fatwater"],
                                      scheduler=external_scheduler, progress=False)

    with Client(external_scheduler, timeout="60s") as client:
        thread = threading.Thread(target=run)
        thread.start()
        victim = None
        deadline = time.monotonic() + 300
        while victim is None and thread.is_alive() and time.monotonic() < deadline:
            busy = [w for w, keys in client.processing().items()
                    if any(str(k).startswith("qmri-subject-13") for k in keys)]
            if busy:
                victim = busy[0]
                pid = client.run(os.getpid, workers=[victim])[victim]
                os.kill(pid, signal.SIGKILL)           # the worker process under the nanny
            time.sleep(0.05)
        thread.join(timeout=900)
        client.wait_for_workers(1, timeout=180)       # the nanny restarted it
    assert victim is not None, "the subject finished before the worker could be killed"
    report = result["report"]
    assert report.succeeded, report.format()
    assert report.subjects[0].worker != victim
    assert [s.stage for s in report.subjects[0].stages] == ["ingest", "fatwater"]


def _numba_settings():
    import numba

    return (os.environ.get("NUMBA_CACHE_DIR"), int(numba.config.NUMBA_NUM_THREADS),
            str(numba.config.CACHE_DIR), os.environ.get("OMP_NUM_THREADS"))


def test_a_local_clusters_workers_get_their_numba_settings(tmp_path):
    from distributed import Client

    before = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                             "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")}
    cache = tmp_path / "numba-cache"
    with runner._environ_kept():
        with runner.local_cluster(1, threads=1, numba_cache=cache) as cluster, \
                Client(cluster) as client:
            (settings,) = client.run(_numba_settings).values()
    assert settings[:3] == (str(cache), 1, str(cache))
    assert cache.is_dir()
    after = {k: os.environ.get(k) for k in before}
    assert after == before                  # the nannies' settings did not leak into here
    with pytest.raises(runner.RunnerError, match="workers must be at least 1"):
        runner.local_cluster(0)
