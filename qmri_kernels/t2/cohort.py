"""Water-T2 accuracy over the synthetic cohort, and fit throughput, for chapter 4.

:func:`evaluate_cohort` runs, per subject, the Dixon fat-water fit, the chapter's T2
pipeline (:func:`qmri_kernels.t2.water_t2_subject`), the EPG fit with the fat share free
and the mono-exponential fit, and scores every water-T2 map in the muscles against the
phantom's truth. :func:`measure_throughput` times the EPG kernel against the SciPy
reference on the same voxels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._reference import fit_epg_voxel
from .epg_model import EPGT2Model
from .subject import load_mese, t2_errors, water_t2_subject

__all__ = ["CohortT2", "evaluate_cohort", "measure_throughput", "METHODS"]

#: Method key → label used in tables and figures.
METHODS: dict[str, str] = {
    "epg_pipeline": "EPG, fat share from Dixon, smooth B1 (pipeline)",
    "epg_b1_free": "EPG, fat share from Dixon, voxel-wise B1",
    "epg_free": "EPG, fat share free",
    "monoexp": "mono-exponential (echoes 2-8)",
}


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
    """
    from ..fatwater import FatWaterModel, load_megre
    from ..phantom.truth import load_truth

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


def measure_throughput(model: EPGT2Model, data, fat_fraction=None, *, n_reference: int = 20,
                       repeats: int = 2, rng=0) -> dict:
    """Voxels/s of :meth:`EPGT2Model.fit` and of the SciPy reference on the same voxels.

    Parameters
    ----------
    model : EPGT2Model
    data : (V, n_echoes) array-like
        Echo trains (e.g. the muscle voxels of one subject).
    fat_fraction : (V,) array-like, optional
        Fixed fat share per voxel (None: free).
    n_reference : int
        Voxels fitted by the reference (a seeded random sample).
    repeats : int
        Timed runs of the fast fit (the best counts; the first run's compilation and
        dictionary building are excluded by a warm-up).

    Returns
    -------
    dict
        ``voxels``, ``voxels_per_s``, ``reference_voxels``, ``reference_voxels_per_s``,
        ``ratio``, ``max_abs_t2_difference_ms`` (kernel vs reference on the sample).
    """
    y = np.ascontiguousarray(data, dtype=np.float32)
    ff = None if fat_fraction is None else np.asarray(fat_fraction, dtype=float)
    model.fit(y[:200], fat_fraction=None if ff is None else ff[:200])
    best = np.inf
    for _ in range(max(int(repeats), 1)):
        t0 = time.perf_counter()
        fit = model.fit(y, fat_fraction=ff)
        best = min(best, time.perf_counter() - t0)
    idx = np.random.default_rng(rng).choice(y.shape[0], min(n_reference, y.shape[0]),
                                            replace=False)
    t0 = time.perf_counter()
    ref = np.array([fit_epg_voxel(model, y[i], None if ff is None else ff[i])["water_t2"]
                    for i in idx])
    ref_s = time.perf_counter() - t0
    return {"voxels": int(y.shape[0]), "voxels_per_s": y.shape[0] / best,
            "reference_voxels": int(idx.size), "reference_voxels_per_s": idx.size / ref_s,
            "ratio": (y.shape[0] / best) / (idx.size / ref_s),
            "max_abs_t2_difference_ms": float(1e3 * np.max(np.abs(fit.water_t2[idx] - ref)))}
