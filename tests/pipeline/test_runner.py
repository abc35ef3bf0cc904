"""The runner without a cluster: reports, argument checks, scheduler lookup, thread budgets,
failures reported (not raised), and the serial run that the Dask runs are compared with."""

from __future__ import annotations

import dask
import pytest

from qmri_kernels import pipeline
from qmri_kernels.manifest import load_manifest
from qmri_kernels.pipeline import runner
from qmri_kernels.pipeline.runner import (CohortReport, RunnerError, StageRecord,
                                          SubjectReport, run_cohort, subject_task)


def _report() -> CohortReport:
    ok = SubjectReport("01", (StageRecord("ingest", "cached", 0.1),
                              StageRecord("fatwater", "computed", 2.5)),
                       worker="tcp://10.0.0.1:4000", threads=2, seconds=2.6, peak_rss_mb=300.0)
    bad = SubjectReport("02", (StageRecord("ingest", "failed", 0.2),
                               StageRecord("fatwater", "skipped", 0.0)),
                        error="DicomError: /data/sub-02: no DICOM files found",
                        failed_stage="ingest", worker="tcp://10.0.0.2:4000", threads=2)
    lost = SubjectReport("03", (), error="KilledWorker: worker died 4 times")
    return CohortReport((ok, bad, lost), StageRecord("roi", "computed", 1.0), None,
                        "scheduler", "tcp://10.0.0.9:8786", 2, 9.0)


def test_report_views_name_every_failure():
    report = _report()
    assert report.ok == ("01",) and report.failed == ("02", "03")
    assert not report.succeeded and report.exit_code == 1
    assert report.subject("sub-02").failed_stage == "ingest"
    table = report.table
    assert list(table.columns) == ["subject", "stage", "status", "seconds", "worker",
                                   "threads", "peak_rss_mb", "error"]
    assert len(table) == 2 + 2 + 1 + 1                       # stages, the lost task, roi
    failed = table[table["status"] == "failed"]
    assert set(failed["subject"]) == {"02", "03"}
    assert failed["error"].str.contains("no DICOM files found").any()
    text = report.format()
    assert "sub-01   fatwater      computed" in text and "total" in text
    assert "FAILED sub-02 (stage ingest): DicomError: /data/sub-02: no DICOM" in text
    assert "FAILED sub-03 (task): KilledWorker" in text
    assert "1 of 3 subjects succeeded" in text
    assert "<table" in report._repr_html_()
    again = SubjectReport.from_dict(report.subjects[1].as_dict())
    assert again == report.subjects[1]
    clean = CohortReport(report.subjects[:1])
    assert clean.succeeded and clean.exit_code == 0 and clean.failed == ()


def test_a_lost_task_becomes_a_failed_subject():
    try:
        raise RuntimeError("worker tcp://10.0.0.2:4000 died")
    except RuntimeError as exc:
        report = runner._lost("07", exc)
    assert not report.ok and report.failed_stage is None and report.stages == ()
    assert report.error == "RuntimeError: worker tcp://10.0.0.2:4000 died"
    assert "Traceback" in report.traceback


def test_unknown_stage_or_subject_is_named_and_nothing_runs(write_manifest, capsys):
    path = write_manifest("unused")
    with pytest.raises(RunnerError, match=r"unknown stages \['dixon'\]"):
        run_cohort(path, stages=["fatwater", "dixon"], serial=True)
    with pytest.raises(RunnerError, match="no subject '99'"):
        run_cohort(path, subjects=["01", "99"])
    with pytest.raises(RunnerError, match="listed twice"):
        run_cohort(path, subjects=["01", "sub-01"], serial=True)
    with pytest.raises(RunnerError, match="workers must be at least 1"):
        run_cohort(path, workers=0)
    assert pipeline.main(["--manifest", str(path), "--subjects", "99"]) == 2
    assert "no subject '99'" in capsys.readouterr().err
    with pytest.raises(SystemExit):                     # --serial and --scheduler exclude
        pipeline.main(["--manifest", str(path), "--serial", "--scheduler", "tcp://x:1"])
    assert not (path.parent / "derivatives" / "unused").exists()


def test_scheduler_address_from_argument_environment_or_config(monkeypatch):
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    with dask.config.set({"scheduler-address": None}):
        assert runner.resolve_scheduler() is None             # → a local cluster
    with dask.config.set({"scheduler-address": "tcp://config:8786"}):
        assert runner.resolve_scheduler() == "tcp://config:8786"
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://env:8786")
        assert runner.resolve_scheduler() == "tcp://env:8786"
        assert runner.resolve_scheduler("tcp://arg:8786") == "tcp://arg:8786"


class _FakeClient:
    """Two hosts: a has 8 cores and three workers (4 + 2 + 2 threads), b 2 cores, 1 worker."""

    def nthreads(self):
        return {"tcp://10.0.0.1:1": 4, "tcp://10.0.0.1:2": 2, "tcp://10.0.0.1:3": 2,
                "tcp://10.0.0.2:1": 1}

    def run(self, func):
        return {w: (8 if "10.0.0.1" in w else 2) for w in self.nthreads()}


def test_thread_budgets_keep_every_host_within_its_cores():
    client = _FakeClient()
    budgets = runner.thread_budgets(client)
    assert budgets == {"tcp://10.0.0.1:1": 1, "tcp://10.0.0.1:2": 1, "tcp://10.0.0.1:3": 1,
                       "tcp://10.0.0.2:1": 2}
    for host, cores in (("10.0.0.1", 8), ("10.0.0.2", 2)):
        used = sum(client.nthreads()[w] * b for w, b in budgets.items() if host in w)
        assert used <= cores
    assert set(runner.thread_budgets(client, threads=3).values()) == {3}
    assert runner.machine_cores() >= 1


def test_a_failing_stage_is_reported_not_raised(broken_manifest):
    out = subject_task(str(broken_manifest), "02", ["fatwater", "ingest", "t2"], force=False)
    report = SubjectReport.from_dict(out)
    assert not report.ok and report.failed_stage == "ingest"
    assert report.error.startswith("DicomError: ") and "no DICOM files found" in report.error
    assert [(s.stage, s.status) for s in report.stages] == [
        ("ingest", "failed"), ("fatwater", "skipped"), ("t2", "skipped")]
    assert "Traceback" in report.traceback and report.worker == "serial"
    missing = SubjectReport.from_dict(subject_task(str(broken_manifest), "42", ["ingest"]))
    assert missing.error.startswith("KeyError: no subject '42'") and missing.stages == ()
    with pytest.raises(RunnerError, match="unknown stages"):
        pipeline.run_subject(load_manifest(broken_manifest), "01", ["dixon"])


@pytest.mark.slow
def test_serial_run_then_roi_alone_reads_everything_back(serial_reference, write_manifest,
                                                        capsys):
    path = write_manifest("serial")                    # the reference run's root
    report = run_cohort(path, stages=["roi"], serial=True, progress=False)
    assert report.mode == "serial" and report.succeeded
    for sub in report.subjects:                        # "roi" runs every stage first
        assert [s.stage for s in sub.stages] == list(pipeline.STAGES)
        assert {s.status for s in sub.stages} == {"cached"}, sub
    assert report.roi.status == "cached"
    assert pipeline.main(["--manifest", str(path), "--serial", "--no-progress",
                          "--subjects", "13", "--stages", "fatwater"]) == 0
    out = capsys.readouterr().out
    assert "sub-13   fatwater      cached" in out and "1 of 1 subjects succeeded" in out
