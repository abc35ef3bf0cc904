"""Accuracy of a fat-water fit against ground truth (synthetic data)."""

from __future__ import annotations

import numpy as np

from ..labels import LABELS

from ..fatwater import SWAP_THRESHOLD

__all__ = ["evaluate_fit", "SWAP_THRESHOLD"]


def _cortex_label() -> int:
    """Label of femoral cortex in the phantom's table: 5 % proton density and R2* ≈
    400 1/s put its signal at the noise level, so its PDFF is noise, not a swap."""
    return next(lab.index for lab in LABELS if lab.abbreviation == "COR")


def evaluate_fit(pdff, r2star, true_pdff, true_r2star, labels) -> dict[str, float]:
    """PDFF and R2* errors of a fit against the truth, in the units tables use.

    Muscles are the labels above 10 (:mod:`qmri_kernels.labels`), the body every
    label above 0. A swap is a body voxel with |PDFF error| > :data:`SWAP_THRESHOLD`;
    swaps are counted over the body with and without the femoral cortex (its signal is at
    the noise level)
    and given as a percentage of the whole body mask.

    Parameters
    ----------
    pdff, r2star : array-like, shape (...)
        Fitted PDFF (fraction) and R2* (1/s).
    true_pdff, true_r2star : array-like, shape (...)
        Truth.
    labels : array-like of int, shape (...)
        Phantom labels.

    Returns
    -------
    dict
        ``n_body``, ``n_muscle``, ``muscle_median_abs_error_pp``,
        ``muscle_p99_abs_error_pp``, ``muscle_bias_pp`` (mean error),
        ``swaps_percent_of_body``, ``swaps_excluding_cortex_percent_of_body``,
        ``muscle_r2star_median_abs_error_per_s``.

    Raises
    ------
    ValueError
        If the shapes differ or there is no muscle voxel.
    """
    arrays = [np.asarray(a) for a in (pdff, r2star, true_pdff, true_r2star, labels)]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"pdff, r2star, true_pdff, true_r2star and labels must have one "
                         f"shape, got {[a.shape for a in arrays]}")
    pdff, r2star, true_pdff, true_r2star, labels = arrays
    body = labels > 0
    muscle = labels > 10
    if not muscle.any():
        raise ValueError("labels hold no muscle (labels > 10)")
    err_pp = 100.0 * (pdff - true_pdff)
    e = np.abs(err_pp[muscle])
    swapped = np.abs(err_pp) > 100.0 * SWAP_THRESHOLD
    n_body = int(body.sum())
    cortex = labels == _cortex_label()
    return {
        "n_body": n_body,
        "n_muscle": int(muscle.sum()),
        "muscle_median_abs_error_pp": float(np.nanmedian(e)),
        "muscle_p99_abs_error_pp": float(np.nanpercentile(e, 99)),
        "muscle_bias_pp": float(np.nanmean(err_pp[muscle])),
        "swaps_percent_of_body": float(100.0 * np.sum(swapped & body) / n_body),
        "swaps_excluding_cortex_percent_of_body": float(
            100.0 * np.sum(swapped & body & ~cortex) / n_body),
        "muscle_r2star_median_abs_error_per_s": float(
            np.nanmedian(np.abs(r2star - true_r2star)[muscle])),
    }
