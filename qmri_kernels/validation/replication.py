"""How often would the paper's findings replicate? Many 13-patient studies from the
synthetic cohort's latent disease model, simulated at the level of the ROI table.

The synthetic cohort is drawn from a known model (:mod:`qmri_kernels.phantom.
synthetic_cohort`): each patient has a latent inflammatory activity and chronicity
(bivariate normal, correlation 0.35); the biopsied muscle's water T2 follows activity and
its FF follows chronicity (log-normal, matching the paper's mean and SD); each
histopathology item is a coupled mix of the two plus biology the MRI does not see, scored
by two pathologists with their own noise (the noise SDs tuned to the paper's kappas). A
study of ``n`` patients draws all of that afresh, adds the measurement error of the
readers' FF and water T2, and runs the paper's ten Spearman tests. No images are fitted —
the image pipeline's error enters as the measurement SD, which the book measures.

Assumptions (stated in the chapter): the population is the model's, not the clinic's; the
measurement error is Gaussian and independent of severity; the scores' reader noise is
the one tuned for the cohort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..phantom.synthetic_cohort import SCORES
from ..results.correlation import PAPER_TESTS
from ..stats import spearman

__all__ = ["LatentStudyModel", "draw_study", "replication_table"]


@dataclass(frozen=True)
class LatentStudyModel:
    """Population parameters of one simulated study.

    Attributes
    ----------
    ff_mean_percent, ff_sd_percent : float
        Biopsied-muscle FF in the population (log-normal with these moments; the paper's
        7.3 ± 6.1 %).
    t2_mean_ms, t2_sd_ms : float
        Biopsied-muscle water T2 (normal; the paper's 54.7 ± 14.1 ms).
    latent_correlation : float
        Correlation of activity and chronicity.
    ff_error_pp, t2_error_ms : float
        SD of the measurement error of the readers' mean FF (percentage points) and water
        T2 (ms).
    reader_noise_sd : dict of str to float
        Per item, the pathologists' noise SD on the latent scale (the cohort's tuning).
    """

    ff_mean_percent: float = 7.3
    ff_sd_percent: float = 6.1
    t2_mean_ms: float = 54.7
    t2_sd_ms: float = 14.1
    latent_correlation: float = 0.35
    ff_error_pp: float = 0.5
    t2_error_ms: float = 1.5
    reader_noise_sd: dict | None = None


def draw_study(model: LatentStudyModel, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """One simulated study: per patient the measured FF and water T2 and the pathologists'
    mean score of every item.

    Parameters
    ----------
    model : LatentStudyModel
        Cohort distributions (FF %, water T2 ms), the latent correlation and measurement
        and reader noise.
    n : int
        Patients.
    rng : numpy.random.Generator
        Source of every draw (the study is a function of its state).

    Returns
    -------
    pandas.DataFrame
        ``n`` rows; columns ``ff_percent``, ``water_t2_ms`` and one per item of
        :data:`qmri_kernels.phantom.synthetic_cohort.SCORES` (mean of two readers, 0–4).
    """
    c = model.latent_correlation
    lat = rng.multivariate_normal([0.0, 0.0], [[1.0, c], [c, 1.0]], size=n)
    activity, chronicity = lat[:, 0], lat[:, 1]
    s2 = np.log1p((model.ff_sd_percent / model.ff_mean_percent) ** 2)
    ff = np.exp(np.log(model.ff_mean_percent) - s2 / 2 + np.sqrt(s2) * chronicity)
    t2 = model.t2_mean_ms + model.t2_sd_ms * activity
    out = {"ff_percent": ff + model.ff_error_pp * rng.standard_normal(n),
           "water_t2_ms": t2 + model.t2_error_ms * rng.standard_normal(n)}
    noise = model.reader_noise_sd or {}
    z_act, z_chr = activity, np.log(ff)
    z_chr = (z_chr - z_chr.mean()) / (z_chr.std() or 1.0)
    for item, (w_act, w_chr, coupling, mean, sd, _kappa) in SCORES.items():
        z = w_act * z_act + w_chr * z_chr
        z = z / (np.hypot(w_act, w_chr) or 1.0)
        severity = coupling * z + np.sqrt(1 - coupling ** 2) * rng.standard_normal(n)
        latent = mean + sd * severity
        sigma = noise.get(item, 0.5)
        reads = np.clip(np.rint(latent + sigma * rng.standard_normal((2, n))), 0, 4)
        out[item] = reads.mean(axis=0)
    return pd.DataFrame(out)


def replication_table(model: LatentStudyModel, n: int = 13, n_studies: int = 2000,
                      seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """The paper's ten tests over many simulated studies of ``n`` patients.

    Parameters
    ----------
    model : LatentStudyModel
        The simulated population (see :func:`draw_study`).
    n : int
        Patients per study (13 in the paper).
    n_studies : int
        Simulated studies.
    seed : int
        Seed of the one generator that draws all studies in turn.
    alpha : float
        Significance level of each test.

    Returns
    -------
    pandas.DataFrame
        One row per test (``measure``, ``item``): ``share_significant`` (fraction of
        studies with p < ``alpha``, SPSS's t approximation), ``rho_median``, ``rho_p05``,
        ``rho_p95``.
    """
    rng = np.random.default_rng(seed)
    rhos = {t: [] for t in PAPER_TESTS}
    sig = {t: 0 for t in PAPER_TESTS}
    for _ in range(int(n_studies)):
        study = draw_study(model, n, rng)
        for measure, item in PAPER_TESTS:
            if np.ptp(study[item]) == 0:
                rhos[(measure, item)].append(np.nan)
                continue
            r = spearman(study[measure], study[item])
            rhos[(measure, item)].append(r.rho)
            sig[(measure, item)] += r.pval < alpha
    rows = []
    for (measure, item), values in rhos.items():
        v = np.asarray(values, dtype=float)
        rows.append({"measure": measure, "item": item,
                     "share_significant": sig[(measure, item)] / n_studies,
                     "rho_median": np.nanmedian(v), "rho_p05": np.nanpercentile(v, 5),
                     "rho_p95": np.nanpercentile(v, 95)})
    return pd.DataFrame(rows)
