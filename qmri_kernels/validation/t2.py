"""Water-T2 accuracy against ground truth (a simulated cohort).

:func:`t2_errors` scores one map inside a mask; :func:`evaluate_cohort` runs, per subject,
the Dixon fat-water fit, the T2 step (:func:`qmri_kernels.t2.water_t2_subject`), the EPG fit
with the fat share free and the mono-exponential fit inside the *true* masks, which
isolates the T2 step from segmentation, and scores every water-T2 map in the muscles.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..t2 import EPGT2Model, load_mese, water_t2_subject
from ..t2.methods import METHODS
from .truth import load_truth

__all__ = ["CohortT2", "evaluate_cohort", "t2_errors", "METHODS"]



def t2_errors(estimate, truth, mask) -> dict:
    """Water-T2 error statistics in ms inside ``mask``.

    Parameters
    ----------
    estimate : (nx, ny, nz) array-like of float
        Fitted water T2, s (NaN where the fit failed or was not made).
    truth : (nx, ny, nz) array-like of float
        True water T2, s, on the same grid.
    mask : (nx, ny, nz) array-like of bool
        Voxels to score (e.g. the true muscle labels).

    Returns
    -------
    dict
        ``n``, ``median_abs_err_ms``, ``p95_abs_err_ms``, ``bias_ms`` (median signed error)
        over the finite estimates, and ``n_failed`` (NaN estimates inside the mask).
        The statistics are NaN when no estimate inside the mask is finite.

    Raises
    ------
    IndexError
        If ``mask`` does not match the shape of ``estimate`` or ``truth``.

    Examples
    --------
    >>> t = np.full((2, 2, 1), 0.040)
    >>> e = t + 0.002; e[0, 0, 0] = np.nan
    >>> r = t2_errors(e, t, np.ones(t.shape, bool))
    >>> r["n"], r["n_failed"], round(r["bias_ms"], 6)
    (3, 1, 2.0)
    """
    m = np.asarray(mask, dtype=bool)
    est = np.asarray(estimate, dtype=float)[m]
    err = (est - np.asarray(truth, dtype=float)[m]) * 1e3
    ok = np.isfinite(err)
    e = err[ok]
    return {"n": int(ok.sum()), "n_failed": int((~ok).sum()),
            "median_abs_err_ms": float(np.median(np.abs(e))) if e.size else np.nan,
            "p95_abs_err_ms": float(np.percentile(np.abs(e), 95)) if e.size else np.nan,
            "bias_ms": float(np.median(e)) if e.size else np.nan}


@dataclass(frozen=True)
class CohortT2:
    """Results of :func:`evaluate_cohort`.

    Attributes
    ----------
    table : DataFrame
        One row per subject × method: ``n``, ``median_abs_err_ms``, ``p95_abs_err_ms``,
        ``bias_ms``, ``n_failed``.
    pooled : DataFrame
        The same statistics over all muscle voxels of the cohort, one row per method.
    voxels : DataFrame
        A random sample of muscle voxels (``sample_per_subject`` each): subject, truth
        (``t2_ms``, ``b1``, ``fat_share``, ``pdff``) and the error of every method in ms.
    seconds : float
        Wall time of the whole evaluation.
    """

    table: pd.DataFrame
    pooled: pd.DataFrame
    voxels: pd.DataFrame
    seconds: float


def evaluate_cohort(manifest, subjects=None, *, sample_per_subject: int = 4000,
                    rng=0) -> CohortT2:
    """Fit every subject and score its muscle water T2 against the truth.

    The masks come from the phantom's truth labels (body for the fits, muscles for B1
    and the scores): this evaluates the T2 step alone, not the segmentation.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        A synthetic cohort (it needs ``manifest.truth``).
    subjects : list of str, optional
        Subject ids (default: all of the manifest).
    sample_per_subject : int
        Muscle voxels per subject kept in :attr:`CohortT2.voxels`.
    rng : int or numpy.random.Generator
        Seeds the voxel sample.

    Returns
    -------
    CohortT2
        Per-subject and pooled error tables (ms) of every method of :data:`METHODS`,
        the voxel sample and the wall time (s).

    Raises
    ------
    TruthUnavailable
        If the manifest has no ground truth.
    FileNotFoundError
        If a subject's truth files are missing.
    KeyError
        If a subject is not in the manifest.
    qmri_kernels.dicom.DicomError
        If a subject's DICOM cannot be ingested.
    ValueError
        If a subject's MESE has no repetition time.
    """
    from ..fatwater import FatWaterModel, load_megre

    start = time.perf_counter()
    gen = np.random.default_rng(rng)
    ids = [s.id for s in manifest.subjects] if subjects is None else list(subjects)
    rows, samples, errors = [], [], {k: [] for k in METHODS}
    for sid in ids:
        megre = load_megre(manifest, sid)
        truth_g = load_truth(manifest, sid, "megre")
        dixon = FatWaterModel(megre.echo_times, megre.field_strength
                              if np.isfinite(megre.field_strength) else 3.0
                              ).fit(megre.signal, truth_g["labels"] > 0)
        mese = load_mese(manifest, sid)
        truth = load_truth(manifest, sid, "mese")
        muscle, body = truth["labels"] > 10, truth["labels"] > 0
        res = water_t2_subject(mese, dixon.pdff, dixon.fieldmap, megre.affine, muscle, body)
        free = EPGT2Model.from_echo_times(mese.echo_times).fit(res.maps.denoised, muscle,
                                                                b1=res.maps.epg.b1)
        maps = {"epg_pipeline": res.maps.epg.water_t2,
                "epg_b1_free": res.maps.epg_b1_free.water_t2,
                "epg_free": free.water_t2, "monoexp": res.maps.monoexp.t2}
        idx = np.flatnonzero(muscle.reshape(-1))
        pick = gen.choice(idx, min(sample_per_subject, idx.size), replace=False)
        sample = {"subject": sid, "t2_ms": 1e3 * truth["water_t2"].reshape(-1)[pick],
                  "b1": truth["b1"].reshape(-1)[pick],
                  "fat_share": truth["fat_share"].reshape(-1)[pick],
                  "pdff": truth["pdff"].reshape(-1)[pick]}
        for key, est in maps.items():
            rows.append({"subject": sid, "method": key,
                         **t2_errors(est, truth["water_t2"], muscle)})
            err = 1e3 * (est - truth["water_t2"])
            errors[key].append(err[muscle])
            sample[f"err_{key}_ms"] = err.reshape(-1)[pick]
        samples.append(pd.DataFrame(sample))
    pooled = []
    for key, errs in errors.items():
        e = np.concatenate(errs)
        e = e[np.isfinite(e)]
        pooled.append({"method": key, "n": e.size,
                       "median_abs_err_ms": float(np.median(np.abs(e))),
                       "p95_abs_err_ms": float(np.percentile(np.abs(e), 95)),
                       "bias_ms": float(np.median(e))})
    return CohortT2(pd.DataFrame(rows), pd.DataFrame(pooled),
                    pd.concat(samples, ignore_index=True), time.perf_counter() - start)
