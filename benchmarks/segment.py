"""Benchmark of the segmentation step: ``python benchmarks/segment.py [--cohort]``.

Prints
- inference time for one subject (T2-weighted 256 × 256 × 9, network + post-processing,
  2 threads, mirroring test-time augmentation) against the 5 s budget (DESIGN.md §5b), and
  without test-time augmentation against a baseline measured in the same run: the same
  network run on the full 256 × 256 matrix (no resampling onto the network's 128 × 80
  physical grid, otherwise the same pipeline);
- mask transfer time onto the PDFF grid, shape-based vs nearest-slab (baseline);
- the training time recorded in the shipped weights' sidecar, against the 30 min budget;
- with ``--cohort``, on the manifest's cohort (``$QMRI_MANIFEST`` or ``data_manifest.yaml``):
  inference time per subject on its ingested T2-weighted series and, if the cohort has
  ground truth, Dice per muscle of the pipeline's labels
  (:func:`qmri_kernels.pipeline.segmentation`) against the true labels
  (:func:`qmri_kernels.validation.segmentation.dice_table`).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from qmri_kernels.masks import transfer_labels
from qmri_kernels.phantom import PROTOCOL, make_subject, series_grid
from qmri_kernels.segment import load_segmenter, postprocess
from qmri_kernels.segment.preprocess import logits_to_image_grid, network_input

BUDGET_INFERENCE_S = 5.0
BUDGET_TRAINING_S = 30 * 60.0


def _compare(name_a: str, t_a: float, name_b: str, t_b: float) -> str:
    """'A is N× faster than B' or 'A is N× slower than B' (times in s)."""
    if t_a <= t_b:
        return f"{name_a} is {t_b / t_a:.2f}× faster than {name_b}"
    return f"{name_a} is {t_a / t_b:.2f}× slower than {name_b}"


def _budget(seconds: float, budget: float) -> str:
    """'met (N× faster than the budget)' or 'NOT MET (N× slower than the budget)'."""
    if seconds <= budget:
        return f"met ({budget / seconds:.1f}× faster than the budget)"
    return f"NOT MET ({seconds / budget:.1f}× slower than the budget)"


def _best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _full_matrix(seg, image, affine):
    """Baseline: the network on the image's own 256 x 256 matrix (same steps otherwise)."""
    cfg = dict(seg.sidecar["input"])
    spacing = float(np.linalg.norm(np.asarray(affine)[:3, 0]))
    cfg.update(net_shape=list(image.shape[:2]), net_spacing_mm=spacing)
    x, ctx = network_input(image, affine, cfg)
    with torch.inference_mode():
        logits = logits_to_image_grid(seg.model(x), ctx)
    return postprocess(np.moveaxis(logits.argmax(1).numpy(), 0, 2).astype(np.int16))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cohort", action="store_true", help="also measure Dice on the cohort")
    args = parser.parse_args()
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        _run(args)
    finally:
        torch.set_num_threads(threads)


def _run(args) -> None:
    seg = load_segmenter()
    subject = make_subject(300_002)
    grid = series_grid(PROTOCOL["t2w"])
    truth = subject.truth(grid)
    image = subject.simulate_t2w(grid, np.random.default_rng(0), truth=truth)
    seg.segment(image, grid.affine)                          # warm-up
    t_inf = _best_of(lambda: seg.segment(image, grid.affine))
    t_single = _best_of(lambda: seg.segment(image, grid.affine, mirror=False))
    t_base = _best_of(lambda: _full_matrix(seg, image, grid.affine))
    print(f"inference, one subject {image.shape}: {t_inf:.2f} s with mirroring TTA "
          f"(budget < {BUDGET_INFERENCE_S:.0f} s: {_budget(t_inf, BUDGET_INFERENCE_S)}); "
          f"without TTA {t_single:.2f} s, the full-matrix baseline (no TTA) {t_base:.2f} s: "
          + _compare("the network on its own grid", t_single, "the full-matrix baseline",
                     t_base))

    labels = seg.segment(image, grid.affine)
    target = series_grid(PROTOCOL["megre"])
    t_shape = _best_of(lambda: transfer_labels(labels, grid, target))
    t_near = _best_of(lambda: transfer_labels(labels, grid, target, method="nearest"))
    print(f"mask transfer onto the PDFF grid {target.shape}: shape-based {t_shape:.2f} s, "
          f"nearest-slab baseline {t_near:.2f} s: "
          + _compare("shape-based", t_shape, "the nearest-slab baseline", t_near))

    t = seg.sidecar["training"]
    print(f"training (from the sidecar): data {t['data_time_s']:.0f} s + fit "
          f"{t['fit_time_s']:.0f} s = {t['total_time_s']:.0f} s on {t['threads']} threads "
          f"(budget < {BUDGET_TRAINING_S / 60:.0f} min: "
          f"{_budget(t['total_time_s'], BUDGET_TRAINING_S)})")

    if args.cohort:
        _cohort(seg)


def _cohort(seg) -> None:
    import pandas as pd

    from qmri_kernels.dicom import load_subject_series
    from qmri_kernels.manifest import load_manifest
    from qmri_kernels.validation import has_truth
    from qmri_kernels.validation import segmentation as check

    manifest = load_manifest()
    times = []
    for entry in manifest.subjects:
        t2w = load_subject_series(manifest, entry.id, "t2w")
        times.append(_best_of(lambda: seg.segment(t2w.data, t2w.affine), repeats=1))
    print(f"cohort ({len(times)} subjects), inference mean {np.mean(times):.2f} s, "
          f"max {np.max(times):.2f} s (budget < {BUDGET_INFERENCE_S:.0f} s for the slowest "
          f"subject: {_budget(float(np.max(times)), BUDGET_INFERENCE_S)})")
    if not has_truth(manifest):
        print("the cohort has no ground truth: Dice not measured")
        return
    dice = pd.concat([check.dice_table(manifest, e.id) for e in manifest.subjects],
                     ignore_index=True)
    print(dice.groupby("muscle", sort=False)["dice"].agg(["mean", "min"]).round(3).T
          .to_string())
    rf = dice.query("muscle == 'RF'").dice.mean()
    vl = dice.query("muscle == 'VL'").dice.mean()
    print(f"mean Dice of the pipeline's labels: RF {rf:.3f}, VL {vl:.3f}, "
          f"all muscles {dice.dice.mean():.3f}")


if __name__ == "__main__":
    main()
