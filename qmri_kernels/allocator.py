"""How the C allocator treats freed memory: keep it for the next fit, or give it back.

Every fit allocates its working arrays afresh (NumPy's and Numba's arrays come from the C
library's ``malloc``), and glibc serves each allocation above its ``mmap`` threshold
(128 KiB at first, rising with use to at most 32 MiB) with new pages from the kernel and
returns them on ``free``. A new page costs a page fault and a zero fill when it is first
written: about 2 µs for every 4 kB on the 2-core virtual machines the benchmarks run on
(``benchmarks/README.md``). A fat-water fit of a 256 × 256 × 18 acquisition faulted in
about 110 MB of fresh pages, one of 512 × 512 × 24 (about 1 M voxels in the mask, every
working array above the 32 MiB ceiling) about 690 MB.

:func:`keep_freed_memory` raises both the ``mmap`` threshold and the trim threshold
(``mallopt(M_MMAP_THRESHOLD)``, ``mallopt(M_TRIM_THRESHOLD)``; glibc manual, "Malloc
Tunable Parameters"; mallopt(3)), so that freed blocks stay in the process and the next
fit reuses pages that are already mapped. The price is that the process keeps its peak
memory until it exits. It is an application's choice (a cohort run, a benchmark), never
made by importing this package; the same setting can be given to any process through
the environment (``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_``, see
:func:`environment`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import numbers
import platform

__all__ = ["keep_freed_memory", "freed_memory_kept", "environment", "LARGEST"]

# mallopt parameter numbers (glibc <malloc.h>)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's initial thresholds (DEFAULT_MMAP_THRESHOLD_MIN, DEFAULT_TRIM_THRESHOLD), bytes.
_GLIBC_DEFAULT = 128 * 1024
#: The largest threshold ``mallopt`` takes (its value is a C ``int``), bytes.
LARGEST = 2**31 - 1

_kept = False


def _check_threshold(threshold: int) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Integral):
        raise TypeError(f"threshold must be an integer number of bytes, got {threshold!r}")
    if not _GLIBC_DEFAULT <= int(threshold) <= LARGEST:
        raise ValueError(f"threshold must be between {_GLIBC_DEFAULT} and {LARGEST} bytes, "
                         f"got {threshold}")
    return int(threshold)


def _glibc() -> ctypes.CDLL | None:
    """The running glibc, or None where the C library is another one."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def keep_freed_memory(keep: bool = True, *, threshold: int = LARGEST) -> bool:
    """Keep freed memory in the process for reuse (glibc), or give it back again.

    Parameters
    ----------
    keep : bool
        True: blocks up to ``threshold`` bytes come from the process's heap and stay there
        when freed (at most ``threshold`` bytes of free memory at the top of the heap are
        kept before it is trimmed). False: glibc's initial thresholds (128 KiB) again,
        and the free memory at the top of the heap is returned now. glibc's own rising
        threshold stays off after either call (any ``mallopt`` of it turns that off).
    threshold : int
        Bytes, 128 KiB ≤ threshold ≤ :data:`LARGEST` (2 GiB − 1); only with ``keep``.

    Returns
    -------
    bool
        True if the C library took the setting; False where it is not glibc (nothing
        changed).

    Raises
    ------
    TypeError
        If ``threshold`` is not an integer.
    ValueError
        If ``threshold`` is outside its range.
    """
    global _kept
    value = _check_threshold(threshold) if keep else _GLIBC_DEFAULT
    libc = _glibc()
    if libc is None:
        return False
    ok = (libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(value)) == 1
          and libc.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(value)) == 1)
    if ok and not keep:
        libc.malloc_trim(ctypes.c_size_t(0))
    _kept = ok and keep
    return ok


def freed_memory_kept() -> bool:
    """Whether this process keeps freed memory.

    Returns
    -------
    bool
        True after :func:`keep_freed_memory` took effect in this process and was not
        undone (a setting given through :func:`environment` at the process's start is not
        seen here).
    """
    return _kept


def environment(threshold: int = LARGEST) -> dict[str, str]:
    """The environment variables that give a new process the same setting at its start.

    Parameters
    ----------
    threshold : int
        Bytes, as for :func:`keep_freed_memory`.

    Returns
    -------
    dict of str to str
        ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` (read by glibc when a
        process starts; ignored by other C libraries).

    Raises
    ------
    TypeError, ValueError
        As for :func:`keep_freed_memory`.
    """
    value = str(_check_threshold(threshold))
    return {"MALLOC_MMAP_THRESHOLD_": value, "MALLOC_TRIM_THRESHOLD_": value}
