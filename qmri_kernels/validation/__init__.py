"""Validation against ground truth: the only part of the library that reads it.

A simulated cohort (:mod:`qmri_kernels.phantom`) carries the true maps and labels; a real
cohort does not. The pipeline and the chapters never need truth: where a manifest has it,
the chapters call this package to show how close the pipeline came.

- :mod:`.truth` — :func:`has_truth`, :func:`load_truth` (the one reader of truth files),
  :func:`truth_grid`, :func:`cohort_truth_table`;
- :mod:`.fatwater` — PDFF/R2* errors and fat-water swaps of a fit;
- :mod:`.t2` — water-T2 errors, the T2 step over the cohort inside the true masks;
- :mod:`.segmentation` — Dice of the network against the true labels, the biopsied
  muscle's end-to-end error;
- :mod:`.cohort` — the simulated cohort's truth beside the paper's reported values.
"""

from .truth import (TruthUnavailable, cohort_truth_table, has_truth, load_truth, no_truth,
                    truth_grid)

__all__ = ["TruthUnavailable", "has_truth", "load_truth", "truth_grid", "cohort_truth_table",
           "no_truth"]
