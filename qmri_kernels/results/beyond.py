"""What the paper could not show with 13 patients: power, and how error dims a correlation.

- :func:`rho_at_p` — the |ρ| that gives a printed p at n (SPSS's t approximation), so that
  a p reported without its ρ still says how strong the correlation was;
- :func:`paper_effect_sizes` — the paper's ten correlations as values or bounds;
- :func:`power_table` — power of an n-patient study for given ρ, and the n that 80 % power
  needs (Bonett & Wright 2000 variance of Fisher's z);
- :func:`spearman_brown` — reliability of the mean of k readers from one reader's;
- :func:`attenuation_table` — ρ_observed = ρ_true · √(rel_MRI · rel_score) (Spearman
  1904), with the reliabilities the book measures (readers' ICC, pathologists' kappa).

References
----------
- Spearman C (1904). The proof and measurement of association between two things. Am J
  Psychol 15:72-101.
- Brown W (1910). Some experimental results in the correlation of mental abilities. Br J
  Psychol 3:296-322 (with Spearman 1910, the Spearman–Brown formula).
- Bonett DG, Wright TA (2000). Sample size requirements for estimating Pearson, Kendall and
  Spearman correlations. Psychometrika 65:23-28.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import optimize as _opt

from ..paper import CORRELATIONS_REPORTED
from ..stats import attenuated_rho, disattenuated_rho, p_from_r, required_n, spearman_power
from .correlation import PAPER_TESTS

__all__ = ["rho_at_p", "paper_effect_sizes", "power_table", "spearman_brown",
           "attenuation_table"]


def rho_at_p(p: float, n: int) -> float:
    """The |ρ| whose two-sided t-approximation p (n − 2 df) equals ``p``.

    Parameters
    ----------
    p : float
        In (0, 1).
    n : int
        Pairs, ≥ 4.

    Returns
    -------
    float
        |ρ| in (0, 1).

    Raises
    ------
    ValueError
        ``p`` outside (0, 1) or ``n`` < 4.

    Examples
    --------
    >>> round(rho_at_p(0.031, 13), 3), round(rho_at_p(0.05, 13), 3)
    (0.598, 0.553)
    """
    if not 0.0 < p < 1.0 or n < 4:
        raise ValueError(f"need 0 < p < 1 and n ≥ 4, got p={p!r}, n={n!r}")
    return float(_opt.brentq(lambda r: p_from_r(r, n) - p, 1e-9, 1 - 1e-12, xtol=1e-12))


def paper_effect_sizes(n: int = 13) -> pd.DataFrame:
    """The paper's ten correlations as it reports them, turned into ρ or bounds on |ρ|.

    Where the paper gives ρ, that is the value; where it gives only "p ≤ 0.008", |ρ| is at
    least :func:`rho_at_p` (0.008, n); for the six tests with "p from 0.063 to 0.522", each
    |ρ| lies between the values those two p imply.

    Parameters
    ----------
    n : int
        Patients (13).

    Returns
    -------
    pandas.DataFrame
        One row per test (``measure``, ``item``): ``paper`` (what is printed), ``rho_low``
        and ``rho_high`` (bounds on |ρ|; equal where ρ is given), ``text`` ("0.597",
        "≥ 0.698", "0.196–0.529").
    """
    rows = []
    for measure, item in PAPER_TESTS:
        rho, p = CORRELATIONS_REPORTED[(measure, item)]
        if rho is not None:
            low = high = rho
            text = f"{rho:.3f}"
        elif p.startswith("≤"):
            low, high = rho_at_p(float(p.split()[1]), n), 1.0
            text = f"≥ {low:.3f}"
        else:
            p_low, p_high = (float(v) for v in p.split()[0].split("–"))
            low, high = rho_at_p(p_high, n), rho_at_p(p_low, n)
            text = f"{low:.3f}–{high:.3f}"
        rows.append({"measure": measure, "item": item, "paper": p if rho is None
                     else f"ρ = {rho}, p = {p}", "rho_low": low, "rho_high": high,
                     "text": text})
    return pd.DataFrame(rows)


def power_table(n: int, effects: Mapping[str, float], alpha: float = 0.05,
                power: float = 0.8) -> pd.DataFrame:
    """Power of a study of ``n`` patients for each ρ, and the n that ``power`` needs.

    Parameters
    ----------
    n : int
        Patients in the study.
    effects : mapping of str to float
        Label → true ρ (non-zero, in (−1, 1); NaN rows are kept empty).
    alpha, power : float
        Two-sided significance level and wanted power (fractions).

    Returns
    -------
    pandas.DataFrame
        Index: the labels; columns ``rho``, ``power at n`` (fraction), ``n for 80 %
        power`` (the column named after ``power``).
    """
    col = f"n for {power:.0%} power"
    rows = {}
    for label, rho in effects.items():
        ok = rho is not None and np.isfinite(rho) and 0 < abs(rho) < 1
        rows[label] = {"rho": rho,
                       f"power at n = {n}": spearman_power(rho, n, alpha) if ok else np.nan,
                       col: required_n(rho, alpha, power) if ok else np.nan}
    return pd.DataFrame.from_dict(rows, orient="index")


def spearman_brown(reliability: float, k: float = 2) -> float:
    """Reliability of the mean of ``k`` equivalent readers from one reader's.

    k·r / (1 + (k − 1)·r) (Spearman 1910; Brown 1910). NaN in, NaN out; a reliability ≤ 0
    (agreement no better than chance) gives NaN.

    Parameters
    ----------
    reliability : float
        One reader's reliability (e.g. an intraclass correlation), dimensionless, at most 1.
    k : float
        Number of readers averaged (2: the mean of two readers); not checked.

    Returns
    -------
    float
        Predicted reliability of the ``k``-reader mean, in (0, 1] for a reliability in
        (0, 1]; NaN for a non-finite or non-positive ``reliability``.

    Examples
    --------
    >>> round(spearman_brown(0.5), 3)
    0.667
    """
    r = float(reliability)
    if not np.isfinite(r) or r <= 0:
        return float("nan")
    return k * r / (1 + (k - 1) * r)


def attenuation_table(correlations: pd.DataFrame, mri_reliability: Mapping[str, float],
                      score_reliability: Mapping[str, float], n: int = 13) -> pd.DataFrame:
    """How much the measured reliabilities shrink each of the ten correlations.

    The factor √(rel_MRI · rel_score) multiplies a true ρ (Spearman 1904; exact for
    Pearson's r with independent errors, approximate for Spearman's ρ). Read against the
    paper's effect sizes: a factor near 1 means the readers' and pathologists' disagreement
    cannot explain a weak correlation; a small one means a real correlation could hide.

    Parameters
    ----------
    correlations : pandas.DataFrame
        :func:`qmri_kernels.results.study_correlations` (``measure``, ``item``, ``rho``).
    mri_reliability : mapping of str to float
        Measure → reliability of the value that enters (e.g. the readers' mean: the
        Spearman–Brown step of ICC(A,1)).
    score_reliability : mapping of str to float
        Item → reliability of the score that enters (e.g. the pathologists' mean from the
        linearly weighted kappa; kappa stands in for a reliability here).
    n : int
        Patients, for the paper's bounds (:func:`paper_effect_sizes`).

    Returns
    -------
    pandas.DataFrame
        One row per test: ``measure``, ``item``, ``reliability_mri``,
        ``reliability_score``, ``factor``, ``rho_book``, ``rho_book_corrected``,
        ``paper_rho`` (text), ``paper_rho_corrected`` (text: the paper's value or bounds
        divided by the factor). NaN (or "—") where a reliability is missing.
    """
    paper = paper_effect_sizes(n).set_index(["measure", "item"])
    rows = []
    for r in correlations.itertuples(index=False):
        rx = float(mri_reliability.get(r.measure, np.nan))
        ry = float(score_reliability.get(r.item, np.nan))
        ok = np.isfinite(rx) and np.isfinite(ry) and 0 < rx <= 1 and 0 < ry <= 1
        factor = float(attenuated_rho(1.0, rx, ry)) if ok else np.nan
        corrected = (float(disattenuated_rho(r.rho, rx, ry))
                     if ok and np.isfinite(r.rho) else np.nan)
        pr = paper.loc[(r.measure, r.item)]
        if not ok:
            paper_corrected = "—"
        elif pr.rho_low == pr.rho_high:
            paper_corrected = f"{pr.rho_low / factor:.3f}"
        elif pr.rho_high >= 1.0:
            paper_corrected = f"≥ {pr.rho_low / factor:.3f}"
        else:
            paper_corrected = f"{pr.rho_low / factor:.3f}–{pr.rho_high / factor:.3f}"
        rows.append({"measure": r.measure, "item": r.item, "reliability_mri": rx,
                     "reliability_score": ry, "factor": factor, "rho_book": r.rho,
                     "rho_book_corrected": corrected, "paper_rho": pr.text,
                     "paper_rho_corrected": paper_corrected})
    return pd.DataFrame(rows)
