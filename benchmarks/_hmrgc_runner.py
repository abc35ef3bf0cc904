"""Run hmrGC on one volume and time it; executed by ``benchmarks/fatwater_fit.py``.

This script runs in hmrGC's own Python environment (hmrGC needs NumPy 1; see
``benchmarks/README.md``), never in the project's, and imports nothing from the project.

Usage: ``python _hmrgc_runner.py IN.npz OUT.npz``. ``IN.npz`` holds ``signal`` (nx, ny,
nz, n_echoes) complex64, ``mask`` (nx, ny, nz) bool, ``echo_times`` (s),
``field_strength`` (T), ``voxel_size_mm`` (3,), ``fat_ppm_from_water`` and
``fat_amplitudes`` (the fat spectrum, shifts relative to water in ppm), ``threads`` and
``repeats``. ``OUT.npz`` receives ``pdff`` (fraction), ``r2star`` (1/s), ``fieldmap`` (Hz)
of the last run, ``seconds`` (the timed ``perform()`` of the whole volume, each on a fresh
``MultiEcho``, ``repeats`` times after an untimed warm-up on a small crop that compiles
hmrGC's Numba functions) and ``version``.

hmrGC: Stelter JK et al. (2022) Hierarchical multi-resolution graph-cuts for
water-fat-silicone separation in breast MRI. IEEE Trans Med Imaging 41:3253-3265.
"""

from __future__ import annotations

import os
import sys
import time


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    import numpy as np

    data = np.load(src)
    threads = int(data["threads"])
    os.environ.setdefault("NUMBA_NUM_THREADS", str(threads))
    import numba

    numba.set_num_threads(threads)
    try:
        import cv2

        cv2.setNumThreads(threads)
    except ImportError:
        pass
    import hmrGC
    from hmrGC.dixon_imaging import MultiEcho

    gamma_bar = 42.577478518e6
    params = {
        "TE_s": np.asarray(data["echo_times"], dtype=float),
        "fieldStrength_T": float(data["field_strength"]),
        "centerFreq_Hz": gamma_bar * float(data["field_strength"]),
        "voxelSize_mm": np.asarray(data["voxel_size_mm"], dtype=float),
        "FatModel": {"freqs_ppm": np.asarray(data["fat_ppm_from_water"], dtype=float),
                     "relAmps": np.asarray(data["fat_amplitudes"], dtype=float)},
    }
    signal = np.asarray(data["signal"])
    mask = np.asarray(data["mask"], dtype=bool)

    # warm-up on a small crop (Numba compilation), not timed
    nz = signal.shape[2]
    k = slice(0, min(nz, 2))
    cx, cy = signal.shape[0] // 4, signal.shape[1] // 4
    crop = (slice(cx, 3 * cx), slice(cy, 3 * cy), k)
    if mask[crop].any():
        warm = MultiEcho(np.ascontiguousarray(signal[crop]), mask[crop], dict(params))
        warm.perform()

    seconds = []
    for _ in range(max(int(data["repeats"]), 1)):
        g = MultiEcho(signal, mask, dict(params))
        start = time.perf_counter()
        g.perform()
        seconds.append(time.perf_counter() - start)
    pdff = np.asarray(g.images["fatFraction_percent"], dtype=float) / 100.0
    np.savez(dst, pdff=pdff, r2star=np.asarray(g.r2starmap, dtype=float),
             fieldmap=np.asarray(g.fieldmap, dtype=float), seconds=np.asarray(seconds),
             version=str(getattr(hmrGC, "__version__", "unknown")))


if __name__ == "__main__":
    main()
