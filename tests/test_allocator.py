"""keep_freed_memory: freed blocks are reused without new page faults (glibc), checked in
fresh processes (the setting is process-wide)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from qmri_kernels import allocator

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def _fresh_page_bytes() -> int:
    """Bytes per fault of fresh anonymous memory: 2 MiB where the kernel hands out
    transparent huge pages to every mapping (THP ``always``), else 4 kB."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return 2**21 if "[always]" in f.read() else 4096
    except OSError:
        return 4096


# Fill a 64 MiB array (above glibc's 32 MiB ceiling for its own rising threshold), free it,
# and count the minor page faults of filling a second one of the same size.
_PROBE = """
import json, resource, sys
import numpy as np
from qmri_kernels.allocator import freed_memory_kept, keep_freed_memory
mode = sys.argv[1]
took = keep_freed_memory() if mode == "call" else None
if mode == "undo":
    took = keep_freed_memory() and keep_freed_memory(False)
n = 64 * 2**20 // 8
a = np.empty(n); a.fill(1.0); del a
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
b = np.empty(n); b.fill(2.0)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps(dict(faults=faults, nbytes=n * 8, took=took, kept=freed_memory_kept())))
"""


def _probe(mode: str, extra_env: dict[str, str] | None = None) -> dict:
    inherited = {k: v for k, v in os.environ.items() if k not in allocator.environment()}
    env = dict(inherited, NUMPY_MADVISE_HUGEPAGE="0", **(extra_env or {}))
    proc = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True,
                          text=True, env=env, timeout=120, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not GLIBC, reason="the setting is glibc's")
def test_default_allocator_faults_in_fresh_pages_for_a_large_block():
    out = _probe("none")
    assert out["faults"] > 0.5 * out["nbytes"] / _fresh_page_bytes(), out
    assert out["kept"] is False


@pytest.mark.skipif(not GLIBC, reason="the setting is glibc's")
def test_kept_memory_is_reused_without_page_faults():
    out = _probe("call")
    assert out["took"] is True and out["kept"] is True
    assert out["faults"] < 0.02 * out["nbytes"] / 4096, out


@pytest.mark.skipif(not GLIBC, reason="the setting is glibc's")
def test_environment_gives_a_new_process_the_same_setting():
    out = _probe("none", allocator.environment())
    assert out["faults"] < 0.02 * out["nbytes"] / 4096, out


@pytest.mark.skipif(not GLIBC, reason="the setting is glibc's")
def test_giving_memory_back_restores_fresh_pages():
    out = _probe("undo")
    assert out["took"] is True and out["kept"] is False
    assert out["faults"] > 0.5 * out["nbytes"] / _fresh_page_bytes(), out


def test_other_c_libraries_are_left_alone(monkeypatch):
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("", ""))
    assert allocator.keep_freed_memory() is False
    assert allocator.freed_memory_kept() is False


@pytest.mark.parametrize("bad, error", [(1024, ValueError), (2**31, ValueError),
                                        (1.5e6, TypeError), (True, TypeError),
                                        ("64M", TypeError)])
def test_a_bad_threshold_is_named(bad, error):
    with pytest.raises(error, match="threshold"):
        allocator.keep_freed_memory(threshold=bad)
    with pytest.raises(error, match="threshold"):
        allocator.environment(bad)


def test_environment_names_both_thresholds():
    assert allocator.environment(2**20) == {"MALLOC_MMAP_THRESHOLD_": "1048576",
                                            "MALLOC_TRIM_THRESHOLD_": "1048576"}
