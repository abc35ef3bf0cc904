"""What every benchmark prints beside its numbers: a target's verdict, a ratio's direction,
and how busy the machine was (imported by the benchmark scripts in this folder)."""

from __future__ import annotations

import os
from pathlib import Path


def verdict(ok: bool) -> str:
    """'met' or 'NOT MET' for a target."""
    return "met" if ok else "NOT MET"


def way(ratio: float) -> str:
    """'N× faster' for a speed ratio ≥ 1, else 'N× slower' (never a ratio below 1)."""
    return f"{ratio:,.1f}× faster" if ratio >= 1 else f"{1 / ratio:,.1f}× slower"


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, as text."""
    try:
        return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unavailable"


def memory_policy() -> str:
    """Transparent huge pages (Linux), whether NumPy asks for them, and whether the C
    allocator keeps freed memory (:mod:`qmri_kernels.allocator`), as text.

    NumPy advises huge pages for arrays of 4 MiB and more (``NUMPY_MADVISE_HUGEPAGE``,
    default on). Where the kernel's ``defrag`` setting is ``madvise``, such an allocation
    may compact memory before it returns: system time that varies from run to run with the
    state of the machine's memory, not with the code timed.
    """
    parts = []
    for name in ("enabled", "defrag"):
        try:
            words = Path(f"/sys/kernel/mm/transparent_hugepage/{name}").read_text().split()
        except OSError:
            continue
        chosen = next((w[1:-1] for w in words if w.startswith("[")), "?")
        parts.append(f"THP {name} {chosen}")
    try:
        from numpy._core.multiarray import _get_madvise_hugepage
    except ImportError:                  # NumPy 1
        from numpy.core.multiarray import _get_madvise_hugepage
    setting = os.environ.get("NUMPY_MADVISE_HUGEPAGE", "unset")
    parts.append(f"NumPy huge-page advice {'on' if _get_madvise_hugepage() else 'off'} "
                 f"(NUMPY_MADVISE_HUGEPAGE={setting})")
    from qmri_kernels.allocator import environment, freed_memory_kept

    given = [f"{k}={os.environ[k]}" for k in environment() if k in os.environ]
    parts.append(f"freed memory {'kept for reuse' if freed_memory_kept() else 'returned'} "
                 f"by the C allocator" + (f" ({', '.join(given)})" if given else ""))
    return "; ".join(parts)


def cpu() -> str:
    """The CPU as LLVM sees it (the target Numba compiles for) and its widest vectors.

    Numba compiles for the host CPU, so a kernel's speed follows its vector width: the same
    code runs markedly faster where AVX-512 is there than where AVX2 is the widest.
    """
    import llvmlite.binding as llvm

    features = llvm.get_host_cpu_features()
    labels = {"avx512f": "AVX-512", "avx2": "AVX2", "avx": "AVX", "sse4.2": "SSE4.2"}
    width = next((label for name, label in labels.items() if features.get(name, False)),
                 "no AVX")
    return f"CPU {llvm.get_host_cpu_name()} ({width})"
