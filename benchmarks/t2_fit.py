"""Benchmark: EPG water-T2 fit vs the per-voxel SciPy reference vs MyoQMRI 2.0.2.

Run ``python benchmarks/t2_fit.py [--seed 113] [--reference 40] [--myoqmri 20000]
[--json benchmarks/results/t2_fit.json]``.

Simulates one phantom subject's fat-saturated multi-echo spin echo (the protocol's
256 × 256 × 12 grid, 8 echoes at ΔTE = 7 ms, slice-profile EPG, Rician noise at the
cohort's SNR) and fits its muscle voxels, in the same run and on the same data, with

- :class:`qmri_kernels.t2.EPGT2Model` (Numba, 2 cores): fat share free, and fixed to the
  truth (single pass, B1 free) — the kernel the target applies to;
- the pipeline (:func:`qmri_kernels.t2.map_water_t2`: MP-PCA denoising, fat share fixed,
  smooth B1, second pass), timed end to end;
- the SciPy ``least_squares`` reference (:mod:`qmri_kernels.t2._reference`) on a random
  sample;
- MyoQMRI 2.0.2 (Santini et al. 2021; GPL, the ``bench`` extra, never a runtime
  dependency), headless: its command-line tool ``waterT2 -t 1`` (dictionary matching, fat
  fraction free) on a NIfTI of a random sample of the muscle voxels; and its fixed-fat-
  fraction matching (``findBestMatchFF`` through its ``fitSlc``) called in-process, since
  2.0.2's ``-m`` path stops with ``NameError: newShape`` on the command line.

Prints voxels/s, speed ratios and median / 95th-percentile |water T2 error| against the
truth. Target (DESIGN.md §5b): ≥ 25,000 voxels/s, ≥ 10× MyoQMRI's fastest mode, at a
smaller error. Timings on a shared machine vary; ratios measured in one run are the
numbers to compare.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from qmri_kernels.phantom import PROTOCOL, make_subject, series_grid
from qmri_kernels.t2 import EPGT2Model, map_water_t2
from qmri_kernels.t2._reference import fit_epg_voxel

TARGET_VOXELS_PER_S = 25_000
TARGET_RATIO_MYOQMRI = 10.0


def _errors(est_s: np.ndarray, truth_s: np.ndarray) -> tuple[float, float]:
    e = np.abs(np.asarray(est_s, float) - truth_s) * 1e3
    e = e[np.isfinite(e)]
    return float(np.median(e)), float(np.percentile(e, 95))


def _row(rows, method, n, seconds, est, truth):
    med, p95 = _errors(est, truth)
    rows.append(dict(method=method, voxels=int(n), seconds=float(seconds),
                     voxels_per_s=float(n / seconds), median_abs_err_ms=med, p95_abs_err_ms=p95))
    print(f"  {method:<44s} {n:>8,d} vox {seconds:8.2f} s {n / seconds:>11,.0f} vox/s   "
          f"|err| median {med:5.2f} ms, p95 {p95:5.2f} ms", flush=True)


def _myoqmri_cli(data: np.ndarray, fat_t2_ms: float, t2_limits_ms, workdir: Path):
    """Run ``waterT2 -t 1`` on a (X, Y, Z, N) volume; return (T2 map in s, fit seconds)."""
    import nibabel as nib

    d = workdir / "mr-anat"
    d.mkdir(parents=True, exist_ok=True)
    path = d / "bench_mese.nii.gz"
    nib.save(nib.Nifti1Image(data.astype(np.float32), np.diag([1.64, 1.64, 13.0, 1.0])), path)
    te_ms = [7.0 * (k + 1) for k in range(data.shape[-1])]
    (d / "bench_mese.json").write_text(json.dumps({"EchoTime": te_ms,
                                                   "FourthDimension": "EchoTime"}))
    exe = Path(sys.executable).with_name("waterT2")
    cmd = [str(exe), "--bids", "--path-is-nifti", str(path), "-t", "1", "-w", "1.0",
           "-f", f"{fat_t2_ms:.1f}", "-n", "0", "--t2-limits", str(int(t2_limits_ms[0])),
           str(int(t2_limits_ms[1]))]
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=workdir)
    if proc.returncode != 0:
        raise RuntimeError(f"MyoQMRI waterT2 failed:\n{proc.stdout[-2000:]}\n"
                           f"{proc.stderr[-2000:]}")
    m = re.search(r"Elapsed time ([0-9.eE+-]+)", proc.stdout)
    seconds = float(m.group(1))
    out = d / "mr-quant" / "bench-mr-anat_T2.nii.gz"
    if not out.exists():
        out = next((d / "mr-quant").glob("*_T2.nii.gz"))
    return np.asarray(nib.load(out).dataobj, dtype=float) * 1e-3, seconds


def _myoqmri_fixed_ff(data: np.ndarray, ff: np.ndarray, fat_t2_ms: float, t2_limits_ms):
    """MyoQMRI's fixed-fat-fraction matching, in-process: (T2 in s, fit seconds)."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy.linalg as linalg
    from MyoQMRI.waterT2 import waterT2 as w
    from MyoQMRI.waterT2.FatFractionLookup import FatFractionLookup

    etl = data.shape[-1]
    with contextlib.redirect_stdout(io.StringIO()):
        ffl = FatFractionLookup(tuple(t2_limits_ms), w.b1Lim, fat_t2_ms, etl, 7.0, 0.0)
        pars, sigs = ffl.getAllSignals()
    sigs = sigs ** 2
    # The module-level state its main() sets up before calling fitSlc.
    w.parameterCombinations = pars
    w.signals = sigs
    w.signalsNormalized = sigs / linalg.norm(sigs, axis=1, keepdims=True)
    w.signalsFF = None
    w.parameterCombinationsFF = None
    w.DOPLOT = 0
    w.NOISELEVEL = 0
    w.dicomStack = data
    w.newShape = data.shape
    t2 = np.zeros(data.shape[:3])
    b1 = np.zeros(data.shape[:3])
    ffm = np.asarray(ff, float).copy()
    with contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        for slc in range(data.shape[2]):
            w.fitSlc(slc, False, t2, b1, ffm)
        seconds = time.perf_counter() - start
    return t2 * 1e-3, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=113, help="phantom subject seed")
    ap.add_argument("--reference", type=int, default=40, help="voxels for the SciPy reference")
    ap.add_argument("--myoqmri", type=int, default=20_000,
                    help="voxels for MyoQMRI, both modes")
    ap.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = ap.parse_args()

    proto = PROTOCOL["mese"]
    grid = series_grid(proto)
    start = time.perf_counter()
    subject = make_subject(args.seed)
    truth = subject.truth(grid)
    rng = np.random.default_rng([args.seed, proto.series_number])
    mag = subject.simulate_mese(grid, proto.echo_times[0], proto.n_echoes,
                                proto.repetition_time, rng, truth=truth)
    share = subject.fat_share_mese(grid, proto.repetition_time, truth=truth)
    muscle = truth["labels"] > 10
    t2_true = truth["water_t2"]
    print(f"volume {mag.shape} float32, {int(muscle.sum()):,} muscle voxels, water T2 "
          f"{1e3 * np.percentile(t2_true[muscle], 5):.0f}-"
          f"{1e3 * np.percentile(t2_true[muscle], 95):.0f} ms (5-95 %), fat T2 "
          f"{1e3 * subject.fat_t2:.0f} ms (simulated in {time.perf_counter() - start:.1f} s)")

    model = EPGT2Model(proto.echo_times[0], proto.n_echoes, fat_t2=subject.fat_t2)
    data = np.ascontiguousarray(mag[muscle])
    phi = share[muscle]
    model.fit(data[:500], fat_fraction=phi[:500])      # compile/load kernels, build tables
    model.fit(data[:500])
    rows: list[dict] = []
    print("method                                          voxels     time        rate")
    for label, ff in (("EPGT2Model, fat share fixed (1 pass)", phi),
                      ("EPGT2Model, fat share free", None)):
        best = np.inf
        for _ in range(2):
            t0 = time.perf_counter()
            fit = model.fit(data, fat_fraction=ff)
            best = min(best, time.perf_counter() - t0)
        _row(rows, label, data.shape[0], best, fit.water_t2, t2_true[muscle])
    ours_fixed = model.fit(data, fat_fraction=phi).water_t2

    t0 = time.perf_counter()
    maps = map_water_t2(mag, proto.echo_times, muscle, grid.zooms, fat_share=share,
                        body_mask=truth["labels"] > 0, model=model)
    _row(rows, "pipeline: MP-PCA + fixed share + smooth B1", int(muscle.sum()),
         time.perf_counter() - t0, maps.epg.water_t2[muscle], t2_true[muscle])

    gen = np.random.default_rng(0)
    idx = gen.choice(data.shape[0], args.reference, replace=False)
    t0 = time.perf_counter()
    ref = [fit_epg_voxel(model, data[i], phi[i]) for i in idx]
    _row(rows, "SciPy least_squares reference, share fixed", len(idx),
         time.perf_counter() - t0, [r["water_t2"] for r in ref], t2_true[muscle][idx])
    ratio_ref = rows[0]["voxels_per_s"] / rows[-1]["voxels_per_s"]
    same = _errors(ours_fixed[idx], t2_true[muscle][idx])
    print(f"    (EPGT2Model on the same {len(idx)} voxels: |err| median {same[0]:.2f} ms, "
          f"p95 {same[1]:.2f} ms; max |T2 kernel - reference| "
          f"{1e3 * np.max(np.abs(ours_fixed[idx] - [r['water_t2'] for r in ref])):.3f} ms)")

    result = dict(seed=args.seed, n_muscle_voxels=int(muscle.sum()), rows=rows,
                  ratio_vs_scipy=ratio_ref)
    try:
        import MyoQMRI  # noqa: F401
        have_myo = True
    except ImportError:
        have_myo = False
        print("MyoQMRI not installed: `pip install .[bench]` (myoqmri==2.0.2) to compare")
    if have_myo:
        n = min(args.myoqmri, data.shape[0])
        sel = gen.choice(data.shape[0], n, replace=False)
        side = int(np.ceil(np.sqrt(n / 2)))
        vol = np.zeros((side, side, 2, data.shape[1]), np.float32)
        vol.reshape(-1, data.shape[1])[:n] = data[sel]
        limits = (15, 150)
        with tempfile.TemporaryDirectory() as tmp:
            t2_map, secs = _myoqmri_cli(vol, 1e3 * subject.fat_t2, limits, Path(tmp))
        # its -t 1 mode matches every voxel of the volume (padding included)
        est = t2_map.reshape(-1)[:n]
        _row(rows, "MyoQMRI 2.0.2 waterT2 -t 1 (FF free)", vol[..., 0].size, secs, est,
             t2_true[muscle][sel])
        myo_fast = rows[-1]["voxels_per_s"]
        k = n   # the same voxels: a sample large enough to time a fast mode reliably
        sub = sel[:k]
        vol2 = np.zeros((k, 1, 1, data.shape[1]), np.float32)
        vol2[:, 0, 0] = data[sub]
        ffv = np.zeros((k, 1, 1))
        ffv[:, 0, 0] = phi[sub]
        t2_fixed, secs = _myoqmri_fixed_ff(vol2, ffv, 1e3 * subject.fat_t2, limits)
        _row(rows, "MyoQMRI 2.0.2 fixed FF (fitSlc, in-process)", k, secs,
             t2_fixed[:, 0, 0], t2_true[muscle][sub])
        same = _errors(ours_fixed[sub], t2_true[muscle][sub])
        print(f"    (EPGT2Model on the same {k} voxels: |err| median {same[0]:.2f} ms, "
              f"p95 {same[1]:.2f} ms)")
        myo_fastest = max(myo_fast, rows[-1]["voxels_per_s"])
        result["ratio_vs_myoqmri_cli"] = rows[0]["voxels_per_s"] / myo_fast
        result["ratio_vs_myoqmri_fastest"] = rows[0]["voxels_per_s"] / myo_fastest
    print(f"\nEPGT2Model (share fixed) {rows[0]['voxels_per_s']:,.0f} voxels/s: "
          f"{ratio_ref:,.0f}× the SciPy reference"
          + (f", {result['ratio_vs_myoqmri_cli']:.0f}× MyoQMRI's command line (-t 1), "
             f"{result['ratio_vs_myoqmri_fastest']:.1f}× its fastest mode measured here"
             if "ratio_vs_myoqmri_fastest" in result else "")
          + f" (targets: ≥ {TARGET_VOXELS_PER_S:,} voxels/s, ≥ {TARGET_RATIO_MYOQMRI:.0f}× "
            "MyoQMRI's fastest mode)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
