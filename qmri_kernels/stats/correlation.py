"""Spearman rank correlation as SPSS reports it, and what to add when n is 13.

Wang et al. 2023 report Spearman's ρ with the p value SPSS prints: the t approximation with
n − 2 degrees of freedom. With 13 patients and Likert scores full of ties, a reader should
also see a resampling p value, a confidence interval, a correction for the many scores tested,
and how much a single patient moves ρ:

- :func:`spearman`: ρ (average ranks for ties, Pearson correlation of the ranks) and the
  two-sided t-approximation p, as SPSS and ``scipy.stats.spearmanr``.
- :func:`p_from_r`: the same p from a published ρ and n (to audit a paper's numbers).
- :func:`spearman_permutation_p`: seeded permutation p (``scipy.stats.permutation_test``).
- :func:`spearman_bootstrap_ci`: paired bias-corrected and accelerated (BCa) bootstrap
  interval (Efron 1987), resampling as ``scipy.stats.bootstrap``.
- :func:`benjamini_hochberg`: false-discovery-rate q values (Benjamini & Hochberg 1995).
- :func:`leave_one_out_rho`: ρ with each pair left out in turn (influence).
- :func:`correlation_table`: all of the above for several pairs of columns, as one table.

Ties: ranks are averaged (``method="average"``), as in SPSS; ρ is then the Pearson
correlation of the ranks, not the 1 − 6Σd²/(n(n²−1)) shortcut that only holds without ties.

References
----------
- Spearman C (1904). The proof and measurement of association between two
  things. Am J Psychol 15:72-101. doi:10.2307/1412159
- Efron B (1987). Better bootstrap confidence intervals. J Am Stat Assoc
  82:171-185. doi:10.1080/01621459.1987.10478410
- Benjamini Y, Hochberg Y (1995). Controlling the false discovery
  rate: a practical and powerful approach to multiple testing. J R Stat Soc B 57:289-300.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import special as _sp
from scipy import stats as _st

from ._checks import StatsError, as_count, as_paired, as_probability, as_seed_rng

__all__ = ["SpearmanResult", "BootstrapCI", "spearman", "p_from_r", "spearman_permutation_p",
           "spearman_bootstrap_ci", "benjamini_hochberg", "leave_one_out_rho",
           "correlation_table", "CORRELATION_COLUMNS"]

#: Columns of :func:`correlation_table`.
CORRELATION_COLUMNS = ("x", "y", "n", "rho", "p_t", "p_perm", "ci_low", "ci_high", "q_bh")


@dataclass(frozen=True)
class SpearmanResult:
    """Spearman's ρ with the SPSS (t-approximation) two-sided p value.

    Attributes
    ----------
    rho : float
        Spearman's rank correlation in [−1, 1].
    pval : float
        Two-sided p of t = ρ √((n−2)/(1−ρ²)) on n − 2 degrees of freedom.
    n : int
        Number of pairs.
    """

    rho: float
    pval: float
    n: int


@dataclass(frozen=True)
class BootstrapCI:
    """A bootstrap confidence interval; unpacks as ``low, high``.

    Attributes
    ----------
    low, high : float
        Interval ends.
    confidence : float
        Confidence level, e.g. 0.95.
    n_resamples : int
        Resamples drawn.
    n_undefined : int
        Resamples in which ρ was undefined (one variable constant) and that were left out.
    method : str
        ``"BCa"``.
    """

    low: float
    high: float
    confidence: float
    n_resamples: int
    n_undefined: int
    method: str = "BCa"

    def __iter__(self):
        return iter((self.low, self.high))


def _rank_corr(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman ρ along ``axis`` (average ranks; NaN where a rank vector is constant)."""
    rx = _st.rankdata(x, axis=axis)
    ry = _st.rankdata(y, axis=axis)
    rx = rx - rx.mean(axis=axis, keepdims=True)
    ry = ry - ry.mean(axis=axis, keepdims=True)
    sxx = np.sum(rx * rx, axis=axis)
    syy = np.sum(ry * ry, axis=axis)
    sxy = np.sum(rx * ry, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = sxy / np.sqrt(sxx * syy)
    # ranks of n ≤ a few thousand are exact half-integers: tiny negative sums are round-off
    rho = np.where((sxx <= 1e-12) | (syy <= 1e-12), np.nan, rho)
    return np.clip(rho, -1.0, 1.0)


def _t_pvalue(rho: float, n: int) -> float:
    if abs(rho) >= 1.0:
        return 0.0
    t = rho * math.sqrt((n - 2) / (1.0 - rho * rho))
    return float(2.0 * _st.t.sf(abs(t), n - 2))


def spearman(x, y) -> SpearmanResult:
    """Spearman's rank correlation with the SPSS p value (Spearman 1904).

    Parameters
    ----------
    x, y : (n,) array-like of float
        Paired observations, n ≥ 3, finite, neither constant.

    Returns
    -------
    SpearmanResult
        ``rho``, ``pval`` (two-sided, t approximation on n − 2 df; equals
        ``scipy.stats.spearmanr``), ``n``.

    Raises
    ------
    StatsError
        Unequal lengths, n < 3, NaN/inf, or a constant ``x`` or ``y``.

    Notes
    -----
    The t approximation is what SPSS prints as "Sig. (2-tailed)". For small n with many ties
    it can be off; :func:`spearman_permutation_p` is the check.

    References
    ----------
    - Spearman C (1904), Am J Psychol 15:72-101.
    - Zar JH (1972). Significance testing of the Spearman rank correlation coefficient.
      J Am Stat Assoc 67:578-580 (accuracy of the t approximation).

    Examples
    --------
    >>> res = spearman([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5])
    >>> round(res.rho, 3), round(res.pval, 3), res.n
    (0.829, 0.042, 6)
    """
    a, b = as_paired(x, y, min_n=3)
    rho = float(_rank_corr(a, b))
    return SpearmanResult(rho=rho, pval=_t_pvalue(rho, a.size), n=int(a.size))


def p_from_r(r: float, n: int) -> float:
    """Two-sided p value of a correlation r from n pairs (t approximation, n − 2 df).

    t = r √((n−2)/(1−r²)); this is the p SPSS prints for Spearman's ρ and Pearson's r, so a
    reader can check a published (r, n, p) triple.

    Parameters
    ----------
    r : float
        Correlation coefficient in [−1, 1].
    n : int
        Number of pairs, ≥ 3.

    Returns
    -------
    float
        Two-sided p in [0, 1] (0 for |r| = 1).

    Raises
    ------
    StatsError
        ``r`` outside [−1, 1] or not finite; ``n`` not an integer ≥ 3.

    References
    ----------
    - Fisher RA (1915). Frequency distribution of the values of the correlation coefficient in
      samples from an indefinitely large population. Biometrika 10:507-521 (exact for
      Pearson's r under bivariate normality).
    - Zar JH (1972). J Am Stat Assoc 67:578-580 (the same formula as an approximation for
      Spearman's ρ, as SPSS uses it).

    Examples
    --------
    Wang et al. 2023: fat fraction vs fat score, r = 0.597 with 13 patients, reported p = 0.031:

    >>> round(p_from_r(0.597, 13), 3)
    0.031
    """
    try:
        r = float(r)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"r must be a number in [-1, 1], got {r!r}") from exc
    if not (math.isfinite(r) and -1.0 <= r <= 1.0):
        raise StatsError(f"r must lie in [-1, 1], got {r}")
    n = as_count(n, "n", minimum=3)
    return _t_pvalue(r, n)


def spearman_permutation_p(x, y, n_resamples: int = 9999, seed=0) -> float:
    """Two-sided permutation p value of Spearman's ρ (pairings permuted).

    Under H0 (no association) every pairing of the x values with the y values is equally
    likely. ``scipy.stats.permutation_test`` with ``permutation_type="pairings"`` shuffles x
    against fixed y: exactly (all n! pairings) when n! ≤ ``n_resamples``, otherwise by Monte
    Carlo with ``n_resamples`` seeded shuffles. Ties are handled by the ranks themselves.

    Parameters
    ----------
    x, y : (n,) array-like of float
        Paired observations, n ≥ 3, finite, neither constant.
    n_resamples : int
        Random pairings for the Monte Carlo test (default 9999).
    seed : int or numpy.random.Generator
        Seed of the shuffles.

    Returns
    -------
    float
        Two-sided p (Monte Carlo p counts the observed pairing, so it is ≥ 1/(n_resamples+1)).

    Raises
    ------
    StatsError
        As :func:`spearman`; ``n_resamples`` not a positive integer; bad ``seed``.

    References
    ----------
    Pitman EJG (1937). Significance tests which may be applied to samples from any
    populations. II. The correlation coefficient test. J R Stat Soc Suppl 4:225-232.

    Examples
    --------
    With 6 pairs all 720 pairings are enumerated, so the p value is exact:

    >>> p = spearman_permutation_p([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5])
    >>> round(p, 4)
    0.0583
    """
    a, b = as_paired(x, y, min_n=3)
    n_resamples = as_count(n_resamples, "n_resamples")
    rng = as_seed_rng(seed)
    rb = _st.rankdata(b)

    def statistic(xs, axis=-1):
        return _rank_corr(xs, np.broadcast_to(rb, xs.shape), axis=axis)

    res = _st.permutation_test((a,), statistic, permutation_type="pairings", vectorized=True,
                               n_resamples=n_resamples, alternative="two-sided", rng=rng)
    return float(min(res.pvalue, 1.0))


def spearman_bootstrap_ci(x, y, n_resamples: int = 9999, seed=0,
                          confidence: float = 0.95) -> BootstrapCI:
    """Paired BCa bootstrap confidence interval of Spearman's ρ (Efron 1987).

    Pairs are resampled with replacement; the bias-corrected and accelerated (BCa) interval
    takes the bootstrap quantiles at
    α₁,₂ = Φ(z₀ + (z₀ + z_α)/(1 − a(z₀ + z_α))), with the bias z₀ from the share of
    bootstrap ρ below the observed ρ and the acceleration a from the leave-one-out
    (jackknife) ρ. The resamples and formulas are those of ``scipy.stats.bootstrap(...,
    paired=True, method="BCa")`` — the same seed gives the same interval — with one
    difference: resamples in which ρ is undefined (all drawn x, or all drawn y, equal; likely
    with few patients and tied Likert scores) are left out and counted in ``n_undefined``
    instead of turning the whole interval into NaN.

    Parameters
    ----------
    x, y : (n,) array-like of float
        Paired observations, n ≥ 3, finite, neither constant.
    n_resamples : int
        Bootstrap resamples (default 9999).
    seed : int or numpy.random.Generator
        Seed of the resampling.
    confidence : float
        Two-sided confidence level in (0, 1) (default 0.95).

    Returns
    -------
    BootstrapCI
        ``low``, ``high`` (unpacks as a pair), ``confidence``, ``n_resamples``,
        ``n_undefined``, ``method``.

    Raises
    ------
    StatsError
        As :func:`spearman`; ``confidence`` outside (0, 1); ``n_resamples`` < 2; fewer than 2
        resamples with a defined ρ.

    Notes
    -----
    If every leave-one-out ρ is equal the acceleration is 0 (bias-corrected percentile
    interval). The interval is not symmetric about ρ and is only as good as 13 pairs allow:
    it describes resampling variability, not bias.

    References
    ----------
    Efron B (1987), J Am Stat Assoc 82:171-185; Efron B, Tibshirani RJ (1993), An
    Introduction to the Bootstrap, ch. 14. Chapman & Hall.

    Examples
    --------
    >>> x = [0.8, 2.1, 3.5, 4.0, 5.2, 6.3, 7.7, 8.1, 9.9, 12.0, 14.2, 20.5, 26.2]
    >>> y = [1, 1, 2, 1, 1, 2, 2, 1, 3, 2, 3, 4, 4]
    >>> ci = spearman_bootstrap_ci(x, y, n_resamples=2000, seed=1)
    >>> low, high = ci
    >>> bool(low < spearman(x, y).rho < high), ci.n_resamples
    (True, 2000)
    """
    a, b = as_paired(x, y, min_n=3)
    n_resamples = as_count(n_resamples, "n_resamples", minimum=2)
    confidence = as_probability(confidence, "confidence")
    rng = as_seed_rng(seed)
    n = a.size
    idx = rng.integers(0, n, (n_resamples, n))  # same draws as scipy.stats.bootstrap
    theta_b = _rank_corr(a[idx], b[idx], axis=-1)
    defined = np.isfinite(theta_b)
    n_undefined = int(n_resamples - defined.sum())
    theta_b = theta_b[defined]
    if theta_b.size < 2:
        raise StatsError(f"only {theta_b.size} of {n_resamples} bootstrap resamples have a "
                         "defined rho; x or y has too few distinct values")
    theta_hat = float(_rank_corr(a, b))
    low_q, high_q = _bca_levels(theta_hat, theta_b, _loo_rho(a, b),
                                (1.0 - confidence) / 2.0)
    low, high = np.quantile(theta_b, [low_q, high_q])
    return BootstrapCI(low=float(low), high=float(high), confidence=confidence,
                       n_resamples=n_resamples, n_undefined=n_undefined)


def _bca_levels(theta_hat: float, theta_b: np.ndarray, theta_jack: np.ndarray,
                alpha: float) -> tuple[float, float]:
    """BCa quantile levels (Efron & Tibshirani 1993 eqs. 14.9-14.15), as scipy computes them."""
    share = (np.count_nonzero(theta_b < theta_hat)
             + np.count_nonzero(theta_b <= theta_hat)) / (2.0 * theta_b.size)
    z0 = float(_sp.ndtri(share))
    jack = theta_jack[np.isfinite(theta_jack)]
    u = jack.mean() - jack if jack.size else np.zeros(1)
    den = np.sum(u ** 2)
    accel = float(np.sum(u ** 3) / (6.0 * den ** 1.5)) if den > 0 else 0.0
    z_alpha = float(_sp.ndtri(alpha))
    levels = []
    for z in (z_alpha, -z_alpha):
        num = z0 + z
        levels.append(float(_sp.ndtr(z0 + num / (1.0 - accel * num))))
    return levels[0], levels[1]


def leave_one_out_rho(x, y) -> np.ndarray:
    """Spearman's ρ with each pair left out in turn (influence of single patients).

    Parameters
    ----------
    x, y : (n,) array-like of float
        Paired observations, n ≥ 4, finite, neither constant.

    Returns
    -------
    (n,) ndarray of float
        Element i is ρ of the n − 1 pairs without pair i; NaN where leaving pair i out makes
        x or y constant. Compare with the full-sample ρ: a patient whose removal moves ρ a
        lot carries the correlation.

    Raises
    ------
    StatsError
        Unequal lengths, n < 4, NaN/inf, or a constant ``x`` or ``y``.

    References
    ----------
    Quenouille MH (1956). Notes on bias in estimation. Biometrika 43:353-360 (the jackknife).

    Examples
    --------
    >>> loo = leave_one_out_rho([1, 2, 3, 4, 5], [1, 2, 3, 4, 0])
    >>> loo.round(2).tolist()
    [-0.2, -0.2, -0.2, -0.2, 1.0]
    """
    a, b = as_paired(x, y, min_n=4)
    return _loo_rho(a, b)


def _loo_rho(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n = a.size
    keep = ~np.eye(n, dtype=bool)
    xs = np.broadcast_to(a, (n, n))[keep].reshape(n, n - 1)
    ys = np.broadcast_to(b, (n, n))[keep].reshape(n, n - 1)
    return _rank_corr(xs, ys, axis=-1)


def benjamini_hochberg(pvals) -> np.ndarray:
    """Benjamini–Hochberg false-discovery-rate q values (Benjamini & Hochberg 1995).

    For m p values sorted ascending p₍₁₎ ≤ … ≤ p₍ₘ₎, q₍ᵢ₎ = min_{j ≥ i} min(1, m p₍ⱼ₎ / j),
    returned in the input order. Rejecting every test with q ≤ 0.05 controls the expected
    share of false discoveries at 5 % (for independent or positively dependent tests).

    Parameters
    ----------
    pvals : (m,) array-like of float
        p values in [0, 1], m ≥ 1, no NaN.

    Returns
    -------
    (m,) ndarray of float
        q values, same order as ``pvals`` (equal to statsmodels
        ``multipletests(pvals, method="fdr_bh")[1]``).

    Raises
    ------
    StatsError
        Empty, not 1-D, NaN, or values outside [0, 1].

    References
    ----------
    Benjamini Y, Hochberg Y (1995), J R Stat Soc B 57:289-300.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.20]).round(3).tolist()
    [0.04, 0.053, 0.053, 0.2]
    """
    try:
        p = np.asarray(pvals, dtype=float)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"pvals must be numeric, got {pvals!r:.60}") from exc
    if p.ndim != 1 or p.size == 0:
        raise StatsError(f"pvals must be a non-empty 1-D array, got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise StatsError(f"pvals contains {int(np.sum(~np.isfinite(p)))} NaN/inf value(s)")
    if np.any((p < 0) | (p > 1)):
        raise StatsError(f"pvals must lie in [0, 1], got min {p.min():g}, max {p.max():g}")
    m = p.size
    order = np.argsort(p, kind="mergesort")
    scaled = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return q


def correlation_table(frame: pd.DataFrame, pairs: Iterable[Sequence[str]], *,
                      n_resamples: int = 9999, seed=0, confidence: float = 0.95,
                      dropna: bool = True) -> pd.DataFrame:
    """Spearman ρ, t and permutation p, BCa interval and BH q for several column pairs.

    Parameters
    ----------
    frame : DataFrame
        One row per patient; numeric columns.
    pairs : iterable of (str, str)
        ``(x_column, y_column)`` pairs, e.g. ``[("ff_percent", "score_fat")]``.
    n_resamples : int
        Resamples for both the permutation p and the bootstrap interval (default 9999).
    seed : int
        Master seed; pair i uses the i-th child of ``numpy.random.SeedSequence(seed)`` (one
        for the permutation, one for the bootstrap), so a row does not change when other
        pairs are added after it.
    confidence : float
        Level of the bootstrap interval (default 0.95).
    dropna : bool
        Drop, per pair, the rows where x or y is missing (SPSS's pairwise deletion; ``n``
        says how many pairs remain). With ``False`` a missing value is an error.

    Returns
    -------
    DataFrame
        Columns ``x``, ``y``, ``n``, ``rho``, ``p_t`` (SPSS t approximation), ``p_perm``,
        ``ci_low``, ``ci_high``, ``q_bh`` (Benjamini–Hochberg over ``p_t`` of all rows).

    Raises
    ------
    StatsError
        ``frame`` not a DataFrame, a named column missing, a pair not of two names, or any
        error of :func:`spearman` for one pair (the message names the pair).

    References
    ----------
    See :func:`spearman`, :func:`spearman_permutation_p`, :func:`spearman_bootstrap_ci`,
    :func:`benjamini_hochberg`.

    Examples
    --------
    >>> df = pd.DataFrame({"ff": [1, 2, 3, 4, 5, 6], "fat": [2, 1, 4, 3, 6, 5],
    ...                    "t2": [6, 5, 4, 3, 2, 1]})
    >>> tab = correlation_table(df, [("ff", "fat"), ("ff", "t2")], n_resamples=500)
    >>> tab[["x", "y", "n"]].values.tolist()
    [['ff', 'fat', 6], ['ff', 't2', 6]]
    >>> tab["rho"].round(3).tolist()
    [0.829, -1.0]
    """
    if not isinstance(frame, pd.DataFrame):
        raise StatsError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    pairs = [tuple(p) for p in pairs]
    if not pairs:
        raise StatsError("pairs is empty; give at least one (x_column, y_column)")
    for pair in pairs:
        if len(pair) != 2:
            raise StatsError(f"each entry of pairs must be (x_column, y_column), got {pair!r}")
        missing = [c for c in pair if c not in frame.columns]
        if missing:
            raise StatsError(f"pairs names column(s) {missing} not in frame "
                             f"(columns: {list(frame.columns)})")
    children = np.random.SeedSequence(seed).spawn(len(pairs))
    rows = []
    for (xc, yc), child in zip(pairs, children):
        sub = frame[[xc, yc]]
        if dropna:
            sub = sub.dropna()
        seed_perm, seed_boot = child.spawn(2)
        try:
            x = sub[xc].to_numpy(dtype=float)
            y = sub[yc].to_numpy(dtype=float)
            res = spearman(x, y)
            p_perm = spearman_permutation_p(x, y, n_resamples=n_resamples,
                                            seed=np.random.default_rng(seed_perm))
            ci = spearman_bootstrap_ci(x, y, n_resamples=n_resamples,
                                       seed=np.random.default_rng(seed_boot),
                                       confidence=confidence)
        except (StatsError, ValueError, TypeError) as exc:
            raise StatsError(f"pair ({xc!r}, {yc!r}): {exc}") from exc
        rows.append((xc, yc, res.n, res.rho, res.pval, p_perm, ci.low, ci.high))
    table = pd.DataFrame(rows, columns=list(CORRELATION_COLUMNS[:-1]))
    table["q_bh"] = benjamini_hochberg(table["p_t"].to_numpy())
    return table
