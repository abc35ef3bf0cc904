"""tools/check_privacy.py: finds an identity, remembers only clean files, and searches a
changed file again."""

import gzip
import subprocess
import sys
from pathlib import Path

from qmri_kernels.phantom.synthetic_cohort import identities

TOOL = Path(__file__).resolve().parents[1] / "tools" / "check_privacy.py"


def _run(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True,
                          text=True)


def test_cache_skips_clean_files_and_rescans_changed_ones(tmp_path):
    name = next(iter(identities().values())).patient_name
    folder = tmp_path / "book"
    folder.mkdir()
    (folder / "a.html").write_text("nothing here")
    (folder / "b.json.gz").write_bytes(gzip.compress(b"also clean"))
    cache = tmp_path / "clean.json"
    first = _run("--cache", cache, folder)
    assert first.returncode == 0 and "2 of 2 files searched" in first.stdout
    second = _run("--cache", cache, folder)
    assert second.returncode == 0 and "0 of 2 files searched" in second.stdout
    (folder / "b.json.gz").write_bytes(gzip.compress(f"leaked {name}".encode()))
    third = _run("--cache", cache, folder)
    assert third.returncode == 1 and "1 of 2 files searched" in third.stdout
    assert "b.json.gz" in third.stdout and name not in third.stdout
    fourth = _run("--cache", cache, folder)              # a hit is never remembered
    assert fourth.returncode == 1 and "1 of 2 files searched" in fourth.stdout
