"""Inter-reader agreement: intraclass correlation and (weighted) Cohen's kappa.

Two readers of the same cases rarely give identical numbers. For continuous measurements
(R1 and R2 drawing masks, giving fat fraction and water T2 per muscle) agreement is an
*intraclass correlation* (ICC): the share of the total variance that lies between the
targets rather than between readers or in noise. For ordinal scores (R3 and R4 grading
histology 0–4) it is *Cohen's kappa*: observed agreement corrected for the agreement that
two readers with these score frequencies would reach by chance, with partial credit for
near misses when weighted.

- :func:`icc`: the six Shrout & Fleiss (1979) forms, with the McGraw & Wong (1996) names as
  aliases, F test and F-based 95 % confidence interval (exact for the one-way and consistency
  forms, Satterthwaite-approximate for absolute agreement), computed from the two-way ANOVA
  mean squares.
- :func:`icc_table`: all six forms as one tidy table.
- :func:`weighted_kappa`: Cohen's (1960) kappa, or weighted with linear (Cicchetti & Allison
  1971) or quadratic (Fleiss & Cohen 1973) agreement weights, with the large-sample standard
  error of Fleiss, Levin & Paik (2003) that SAS and MedCalc report.

References
----------
- Shrout PE, Fleiss JL (1979). Intraclass correlations: uses in assessing
  rater reliability. Psychol Bull 86:420-428. doi:10.1037/0033-2909.86.2.420
- McGraw KO, Wong SP (1996). Forming inferences about some intraclass
  correlation coefficients. Psychol Methods 1:30-46. doi:10.1037/1082-989X.1.1.30
- Koo TK, Li MY (2016). A guideline of selecting and reporting intraclass
  correlation coefficients for reliability research. J Chiropr Med 15:155-163.
- Cohen J (1960). A coefficient of agreement for nominal scales. Educ Psychol
  Meas 20:37-46.
- Cohen J (1968). Weighted kappa: nominal scale agreement with provision for
  scaled disagreement or partial credit. Psychol Bull 70:213-220.
- Cicchetti DV, Allison T (1971). A new procedure for assessing
  reliability of scoring EEG sleep recordings. Am J EEG Technol 11:101-110.
- Fleiss JL, Cohen J (1973). The equivalence of weighted kappa and the intraclass
  correlation coefficient as measures of reliability. Educ Psychol Meas 33:613-619.
- Fleiss JL, Cohen J, Everitt BS (1969). Large sample standard errors of kappa and weighted
  kappa. Psychol Bull 72:323-327.
- Fleiss JL, Levin B, Paik MC (2003). Statistical Methods for Rates
  and Proportions, 3rd ed., chapter 18. Wiley, Hoboken NJ.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats as _st

from ._checks import StatsError

__all__ = ["ICCResult", "ICC_KINDS", "icc", "icc_table", "KappaResult", "KAPPA_WEIGHTS",
           "weighted_kappa"]

#: Canonical Shrout & Fleiss names, in the order of their Table 1.
ICC_KINDS = ("ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)", "ICC(3,k)")

# Every accepted spelling (upper case, no spaces) -> canonical name.
_ICC_ALIASES = {
    **{kind.upper(): kind for kind in ICC_KINDS},
    # McGraw & Wong (1996): one-way, absolute agreement (A), consistency (C)
    "ICC(1)": "ICC(1,1)", "ICC(A,1)": "ICC(2,1)", "ICC(C,1)": "ICC(3,1)",
    "ICC(K)": "ICC(1,k)", "ICC(A,K)": "ICC(2,k)", "ICC(C,K)": "ICC(3,k)",
    # pingouin / R psych short names
    "ICC1": "ICC(1,1)", "ICC2": "ICC(2,1)", "ICC3": "ICC(3,1)",
    "ICC1K": "ICC(1,k)", "ICC2K": "ICC(2,k)", "ICC3K": "ICC(3,k)",
}
_MODEL_LETTER = {"1": "1", "2": "2", "3": "3", "A": "2", "C": "3"}


@dataclass(frozen=True)
class ICCResult:
    """One intraclass correlation with its F test and 95 % confidence interval.

    Attributes
    ----------
    kind : str
        Canonical Shrout & Fleiss name, e.g. ``"ICC(2,1)"``.
    value : float
        The ICC (can be negative when between-target variance is smaller than error).
    ci95 : tuple of float
        F-based 95 % confidence interval (low, high) at full precision (not rounded).
    f, df1, df2, pval : float, int, int, float
        F test of ICC = 0: F = MS_targets / MS_within (one-way) or / MS_error (two-way).
    n_targets, n_raters : int
    ms_targets, ms_raters, ms_error, ms_within : float
        Mean squares of the two-way ANOVA (rows = targets, columns = raters) and the one-way
        within-target mean square, in squared units of the ratings.
    """

    kind: str
    value: float
    ci95: tuple[float, float]
    f: float
    df1: int
    df2: int
    pval: float
    n_targets: int
    n_raters: int
    ms_targets: float
    ms_raters: float
    ms_error: float
    ms_within: float


def _canonical_kind(kind: str, n_raters: int) -> str:
    if not isinstance(kind, str):
        raise StatsError(f"kind must be a string, one of {', '.join(ICC_KINDS)}; got {kind!r}")
    key = kind.replace(" ", "").upper()
    if key in _ICC_ALIASES:
        return _ICC_ALIASES[key]
    # a number of raters written out, e.g. "ICC(2,4)" for four raters (Shrout & Fleiss's
    # own notation)
    match = re.fullmatch(r"ICC\(([123AC]),(\d+)\)", key)
    if match and int(match.group(2)) == n_raters:
        return f"ICC({_MODEL_LETTER[match.group(1)]},k)"
    valid = ", ".join(ICC_KINDS) + "; aliases " + ", ".join(
        ["ICC(A,1)", "ICC(C,1)", "ICC(A,k)", "ICC(C,k)", "ICC1", "ICC2k", "..."])
    if match:
        raise StatsError(f"kind {kind!r} averages {match.group(2)} raters but ratings has "
                         f"{n_raters} columns; valid kinds: {valid}")
    raise StatsError(f"unknown ICC kind {kind!r}; valid kinds: {valid}")


def _as_ratings(ratings) -> np.ndarray:
    try:
        r = np.asarray(ratings, dtype=float)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"ratings must be a numeric (n_targets, n_raters) array: {exc}") from exc
    if r.ndim != 2:
        raise StatsError(f"ratings must be 2-D (n_targets, n_raters), got shape {r.shape}")
    n, k = r.shape
    if n < 2:
        raise StatsError(f"ratings needs at least 2 targets (rows), got {n}")
    if k < 2:
        raise StatsError(f"ratings needs at least 2 raters (columns), got {k}")
    if not np.all(np.isfinite(r)):
        bad = int(np.sum(~np.isfinite(r)))
        raise StatsError(f"ratings contains {bad} missing or non-finite value(s); the ANOVA "
                         "needs a complete table (drop incomplete targets first)")
    return r


def _mean_squares(r: np.ndarray) -> tuple[float, float, float, float]:
    """MS_targets, MS_raters, MS_error (two-way) and MS_within (one-way) of ``r``."""
    n, k = r.shape
    grand = r.mean()
    row_means = r.mean(axis=1, keepdims=True)
    col_means = r.mean(axis=0, keepdims=True)
    ss_rows = k * np.sum((row_means - grand) ** 2)
    ss_cols = n * np.sum((col_means - grand) ** 2)
    ss_err = np.sum((r - row_means - col_means + grand) ** 2)
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = ss_err / ((n - 1) * (k - 1))
    msw = (ss_cols + ss_err) / (n * (k - 1))
    return float(msr), float(msc), float(mse), float(msw)


def icc(ratings, kind: str = "ICC(2,1)") -> ICCResult:
    """Intraclass correlation of an ``(n_targets, n_raters)`` table (Shrout & Fleiss 1979).

    With the ANOVA mean squares MS_R (targets), MS_C (raters), MS_E (residual), MS_W
    (within targets, one-way), n targets and k raters:

    ========  ===========  ======================================================
    kind      McGraw-Wong  formula
    ========  ===========  ======================================================
    ICC(1,1)  ICC(1)       (MS_R − MS_W) / (MS_R + (k−1) MS_W)
    ICC(2,1)  ICC(A,1)     (MS_R − MS_E) / (MS_R + (k−1) MS_E + k (MS_C − MS_E)/n)
    ICC(3,1)  ICC(C,1)     (MS_R − MS_E) / (MS_R + (k−1) MS_E)
    ICC(1,k)  ICC(k)       (MS_R − MS_W) / MS_R
    ICC(2,k)  ICC(A,k)     (MS_R − MS_E) / (MS_R + (MS_C − MS_E)/n)
    ICC(3,k)  ICC(C,k)     (MS_R − MS_E) / MS_R
    ========  ===========  ======================================================

    ICC(·,1) is the reliability of one reader's value, ICC(·,k) that of the mean of the k
    readers. Koo & Li (2016) ask a report to name the model (1: one-way random;
    2: two-way random; 3: two-way mixed), the type (absolute agreement A or consistency C)
    and the unit (single or mean); two readers who disagree by a constant offset have perfect
    consistency but not perfect absolute agreement.

    Parameters
    ----------
    ratings : (n_targets, n_raters) array-like of float
        One row per target (e.g. subject × muscle), one column per rater; complete (no NaN).
        A wide DataFrame works.
    kind : str
        ``"ICC(1,1)"``, ``"ICC(2,1)"`` (default), ``"ICC(3,1)"``, ``"ICC(1,k)"``,
        ``"ICC(2,k)"``, ``"ICC(3,k)"``; aliases ``"ICC(A,1)"`` = ICC(2,1), ``"ICC(C,1)"`` =
        ICC(3,1), ``"ICC(A,k)"``, ``"ICC(C,k)"``, pingouin's ``"ICC2"``, ``"ICC3k"`` …, and the
        number of raters written out (``"ICC(2,4)"`` for 4 columns). Case and spaces ignored.

    Returns
    -------
    ICCResult
        ``value``, ``ci95`` (low, high; full precision), ``f``, ``df1``, ``df2``, ``pval``, canonical
        ``kind``, ``n_targets``, ``n_raters`` and the mean squares.

    Raises
    ------
    StatsError
        ``ratings`` not 2-D, fewer than 2 targets or raters, missing values, or all ratings
        identical; ``kind`` unknown (the message lists the valid kinds).

    Notes
    -----
    Confidence intervals follow McGraw & Wong (1996) Table 7 (identical to
    Shrout & Fleiss): for ICC(1,·) and ICC(3,·) they are exact, from the F distribution with
    (n−1, n(k−1)) or (n−1, (n−1)(k−1)) degrees of freedom; for ICC(2,·) the F quantiles use
    Satterthwaite's approximate degrees of freedom
    v = (a MS_C + b MS_E)² / ((a MS_C)²/(k−1) + (b MS_E)²/((n−1)(k−1))),
    a = kρ/(n(1−ρ)), b = 1 + kρ(n−1)/(n(1−ρ)), ρ = ICC(2,1). The ICC(2,k) bounds equal the
    Spearman–Brown step-up of the ICC(2,1) bounds. When all readers agree exactly on every
    target (MS_W = 0) the ICC is 1, F is infinite and the interval is (1, 1).

    References
    ----------
    - Shrout PE, Fleiss JL (1979). Psychol Bull 86:420-428.
    - McGraw KO, Wong SP (1996). Psychol Methods 1:30-46.
    - Koo TK, Li MY (2016). J Chiropr Med 15:155-163.

    Examples
    --------
    Shrout & Fleiss (1979) Table 2, six targets rated by four judges:

    >>> table = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8],
    ...          [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    >>> res = icc(table, "ICC(2,1)")
    >>> round(res.value, 3), res.kind, (res.df1, res.df2)
    (0.29, 'ICC(2,1)', (5, 15))
    >>> round(icc(table, "ICC(C,k)").value, 3)
    0.909
    """
    r = _as_ratings(ratings)
    n, k = r.shape
    canonical = _canonical_kind(kind, k)
    msr, msc, mse, msw = _mean_squares(r)
    if msr == 0.0 and msw == 0.0:
        raise StatsError("ratings are all identical; the ICC is undefined (0/0)")
    model, unit = canonical[4], canonical[6]
    df1 = n - 1
    df2 = n * (k - 1) if model == "1" else (n - 1) * (k - 1)
    denom_ms = msw if model == "1" else mse
    common = dict(kind=canonical, n_targets=n, n_raters=k, ms_targets=msr, ms_raters=msc,
                  ms_error=mse, ms_within=msw, df1=df1, df2=df2)
    if model != "1" and msr == 0.0 and mse == 0.0:
        raise StatsError("ratings do not vary between targets (each rater gives every target "
                         f"the same value); {canonical} is undefined (0/0)")
    if denom_ms == 0.0 and not (model == "2" and msc > 0.0):
        # no disagreement left: identical readers (MS_W = 0), or for consistency a constant
        # offset at most (MS_E = 0). ICC(A,·) with an offset stays < 1 and is computed below.
        return ICCResult(value=1.0, ci95=(1.0, 1.0), f=math.inf, pval=0.0, **common)

    f_obs = msr / denom_ms if denom_ms > 0.0 else math.inf
    pval = float(_st.f.sf(f_obs, df1, df2))
    q = 0.975

    if model in ("1", "3"):
        f_low = f_obs / _st.f.ppf(q, df1, df2)
        f_high = f_obs * _st.f.ppf(q, df2, df1)
        if model == "1":
            value = (msr - msw) / (msr + (k - 1) * msw) if unit == "1" else (msr - msw) / msr
        else:
            value = (msr - mse) / (msr + (k - 1) * mse) if unit == "1" else (msr - mse) / msr
        if unit == "1":
            ci = ((f_low - 1) / (f_low + k - 1), (f_high - 1) / (f_high + k - 1))
        else:
            ci = (1 - 1 / f_low, 1 - 1 / f_high)
    else:
        rho1 = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
        a = k * rho1 / (n * (1 - rho1))
        b = 1 + k * rho1 * (n - 1) / (n * (1 - rho1))
        v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1)
                                         + (b * mse) ** 2 / ((n - 1) * (k - 1)))
        f_star_low = _st.f.ppf(q, n - 1, v)
        f_star_high = _st.f.ppf(q, v, n - 1)
        if unit == "1":
            value = rho1
            low = n * (msr - f_star_low * mse) / (
                f_star_low * (k * msc + (k * n - k - n) * mse) + n * msr)
            high = n * (f_star_high * msr - mse) / (
                k * msc + (k * n - k - n) * mse + n * f_star_high * msr)
        else:
            value = (msr - mse) / (msr + (msc - mse) / n)
            low = n * (msr - f_star_low * mse) / (f_star_low * (msc - mse) + n * msr)
            high = n * (f_star_high * msr - mse) / (msc - mse + n * f_star_high * msr)
        ci = (low, high)
    return ICCResult(value=float(value), ci95=(float(ci[0]), float(ci[1])), f=float(f_obs),
                     pval=pval, **common)


def icc_table(ratings) -> pd.DataFrame:
    """All six Shrout & Fleiss ICC forms of one ratings table, as a tidy DataFrame.

    Parameters
    ----------
    ratings : (n_targets, n_raters) array-like of float
        As for :func:`icc`.

    Returns
    -------
    DataFrame
        One row per kind in :data:`ICC_KINDS` order; columns ``kind``, ``mcgraw_wong``,
        ``icc``, ``ci_low``, ``ci_high``, ``f``, ``df1``, ``df2``, ``pval``, ``n_targets``,
        ``n_raters``.

    Raises
    ------
    StatsError
        As for :func:`icc`.

    References
    ----------
    Shrout PE, Fleiss JL (1979). Psychol Bull 86:420-428.

    Examples
    --------
    >>> table = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8],
    ...          [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    >>> icc_table(table)["icc"].round(2).tolist()
    [0.17, 0.29, 0.71, 0.44, 0.62, 0.91]
    """
    mw = {"ICC(1,1)": "ICC(1)", "ICC(2,1)": "ICC(A,1)", "ICC(3,1)": "ICC(C,1)",
          "ICC(1,k)": "ICC(k)", "ICC(2,k)": "ICC(A,k)", "ICC(3,k)": "ICC(C,k)"}
    rows = []
    for kind in ICC_KINDS:
        res = icc(ratings, kind)
        rows.append((kind, mw[kind], res.value, res.ci95[0], res.ci95[1], res.f, res.df1,
                     res.df2, res.pval, res.n_targets, res.n_raters))
    return pd.DataFrame(rows, columns=["kind", "mcgraw_wong", "icc", "ci_low", "ci_high", "f",
                                       "df1", "df2", "pval", "n_targets", "n_raters"])


# ---------------------------------------------------------------------------------------
# kappa
# ---------------------------------------------------------------------------------------

#: Accepted ``weights`` of :func:`weighted_kappa`.
KAPPA_WEIGHTS = (None, "linear", "quadratic")


@dataclass(frozen=True)
class KappaResult:
    """Cohen's kappa (weighted or not) with its large-sample standard errors.

    Attributes
    ----------
    value : float
        κ (NaN when chance agreement is already perfect, e.g. both raters use one category).
    se : float
        Asymptotic standard error of κ (Fleiss, Cohen & Everitt 1969; Fleiss, Levin & Paik
        2003), as SAS ("ASE") and MedCalc report it.
    ci95 : tuple of float
        Wald 95 % interval κ ± 1.96·se (low, high), not clipped to [−1, 1].
    se0 : float
        Standard error under H0: κ = 0, used for ``pval``.
    pval : float
        Two-sided p of z = κ / se0.
    n : int
        Number of rated items.
    weights : str or None
        ``None`` (unweighted), ``"linear"`` or ``"quadratic"``.
    categories : tuple
        The ordered scale the table was built on.
    table : (k, k) ndarray of int
        Counts, rows ``rater_a``, columns ``rater_b``, in ``categories`` order (read-only).
    """

    value: float
    se: float
    ci95: tuple[float, float]
    se0: float
    pval: float
    n: int
    weights: str | None
    categories: tuple
    table: np.ndarray = field(repr=False, compare=False)


def _as_scores(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise StatsError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise StatsError(f"{name} is empty")
    if arr.dtype.kind in "US" and not isinstance(values, np.ndarray):
        # keep labels as given: NumPy would turn [0, "mild"] into strings
        arr = np.empty(len(values), dtype=object)
        arr[:] = list(values)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise StatsError(f"{name} contains {int(np.sum(~np.isfinite(arr)))} missing (NaN) "
                         "score(s); drop unrated items first")
    if arr.dtype.kind == "O" and any(v is None or (isinstance(v, float) and math.isnan(v))
                                     for v in arr.tolist()):
        raise StatsError(f"{name} contains missing (None/NaN) score(s)")
    return arr


def _agreement_weights(k: int, weights: str | None) -> np.ndarray:
    i, j = np.indices((k, k))
    if weights is None:
        return (i == j).astype(float)
    d = np.abs(i - j) / (k - 1)
    return 1.0 - d if weights == "linear" else 1.0 - d ** 2


def weighted_kappa(rater_a, rater_b, weights: str | None = "linear",
                   categories: Sequence | None = None) -> KappaResult:
    """Cohen's kappa between two raters, unweighted or weighted (Cohen 1960, 1968).

    With observed proportions p_ij (rows ``rater_a``, columns ``rater_b``), marginals p_i.,
    p_.j and agreement weights w_ij,

        κ_w = (p_o − p_e) / (1 − p_e),   p_o = Σ w_ij p_ij,   p_e = Σ w_ij p_i. p_.j.

    The weights depend only on the positions i, j of the scores in the ordered ``categories``
    (k of them): ``None`` gives w = 1 on the diagonal and 0 elsewhere (Cohen 1960);
    ``"linear"`` gives w = 1 − |i−j|/(k−1) (Cicchetti & Allison 1971;
    SAS's default, and what SPSS/MedCalc call "linear");
    ``"quadratic"`` gives w = 1 − ((i−j)/(k−1))² (Fleiss & Cohen 1973).

    Parameters
    ----------
    rater_a, rater_b : (n,) array-like
        Scores of the two raters for the same n items (ints such as 0–4, or any sortable
        labels).
    weights : {None, "linear", "quadratic"}
        Agreement weighting (default ``"linear"``, as in Wang et al. 2023).
    categories : sequence or None
        The ordered scale. ``None`` uses the sorted union of observed scores; pass the full
        scale (e.g. ``range(5)``) whenever some score might be unused, because the weights
        depend on the positions on the scale.

    Returns
    -------
    KappaResult
        ``value``, ``se``, ``ci95``, ``se0``, ``pval``, ``n``, ``weights``, ``categories``,
        ``table``. When chance agreement is already perfect (p_e = 1, e.g. both raters give
        every item the same single score) κ is undefined and ``value``, ``se``, ``ci95``,
        ``pval`` are NaN.

    Raises
    ------
    StatsError
        ``rater_a``/``rater_b`` empty, not 1-D, of unequal length or with missing scores;
        a score not in ``categories``; ``categories`` with duplicates or fewer than 2 entries;
        ``weights`` not one of ``None``, ``"linear"``, ``"quadratic"``.

    Notes
    -----
    The standard error is the large-sample one of Fleiss, Cohen & Everitt (1969) as given by
    Fleiss, Levin & Paik (2003, section 18.1):

        var(κ) = [Σ p_ij (w_ij − (w̄_i. + w̄_.j)(1 − κ))² − (κ − p_e(1 − κ))²] / (n (1 − p_e)²),

    w̄_i. = Σ_j p_.j w_ij, w̄_.j = Σ_i p_i. w_ij; ``se0`` is the same with p_ij replaced by
    p_i. p_.j and κ by 0. statsmodels' ``cohens_kappa`` computes the same quantities.

    References
    ----------
    - Cohen J (1960). Educ Psychol Meas 20:37-46.
    - Cohen J (1968). Psychol Bull 70:213-220.
    - Cicchetti DV, Allison T (1971). Am J EEG Technol 11:101-110.
    - Fleiss JL, Cohen J, Everitt BS (1969). Large sample standard errors of kappa and
      weighted kappa. Psychol Bull 72:323-327.
    - Fleiss JL, Levin B, Paik MC (2003). Statistical Methods for Rates and Proportions,
      3rd ed. Wiley.

    Examples
    --------
    >>> a = [0, 1, 2, 3, 4, 2, 1, 0, 3, 2]
    >>> b = [0, 1, 2, 3, 3, 2, 2, 0, 4, 1]
    >>> res = weighted_kappa(a, b, categories=range(5))
    >>> round(res.value, 3), res.n
    (0.714, 10)
    >>> round(weighted_kappa(a, b, weights=None).value, 3)
    0.487
    """
    a = _as_scores(rater_a, "rater_a")
    b = _as_scores(rater_b, "rater_b")
    if a.size != b.size:
        raise StatsError(f"rater_a and rater_b must have equal length, got {a.size} and {b.size}")
    if weights not in KAPPA_WEIGHTS:
        raise StatsError(f"weights must be one of {KAPPA_WEIGHTS}, got {weights!r}")
    if categories is None:
        try:
            cats = tuple(sorted(set(a.tolist()) | set(b.tolist())))
        except TypeError as exc:
            raise StatsError(f"scores of rater_a/rater_b cannot be ordered: {exc}") from exc
    else:
        if isinstance(categories, (str, bytes)):
            raise StatsError(f"categories must be a sequence of scores, got {categories!r}")
        cats = tuple(c.item() if isinstance(c, np.generic) else c for c in categories)
        if len(set(cats)) != len(cats):
            raise StatsError(f"categories has duplicate entries: {list(cats)}")
        if len(cats) < 2:
            raise StatsError(f"categories needs at least 2 entries, got {list(cats)}")
    index = {c: i for i, c in enumerate(cats)}
    for arr, name in ((a, "rater_a"), (b, "rater_b")):
        bad = sorted({v for v in arr.tolist() if v not in index}, key=str)
        if bad:
            raise StatsError(f"{name} has scores {bad} not in categories {list(cats)}")

    k = len(cats)
    n = int(a.size)
    table = np.zeros((k, k), dtype=np.int64)
    np.add.at(table, ([index[v] for v in a.tolist()], [index[v] for v in b.tolist()]), 1)
    table.setflags(write=False)
    nan = float("nan")
    if k < 2:  # both raters used one and the same score, scale not given
        return KappaResult(value=nan, se=nan, ci95=(nan, nan), se0=nan, pval=nan, n=n,
                           weights=weights, categories=cats, table=table)
    kappa, se, se0 = _kappa_and_se(table, _agreement_weights(k, weights))
    if not np.isfinite(kappa):
        return KappaResult(value=nan, se=nan, ci95=(nan, nan), se0=nan, pval=nan, n=n,
                           weights=weights, categories=cats, table=table)
    z = float(_st.norm.ppf(0.975))
    pval = float(2 * _st.norm.sf(abs(kappa) / se0)) if se0 > 0 else nan
    return KappaResult(value=kappa, se=se, ci95=(kappa - z * se, kappa + z * se), se0=se0,
                       pval=pval, n=n, weights=weights, categories=cats, table=table)


def _kappa_and_se(table: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """κ, its SE and its SE under H0 from a count table and agreement weights."""
    n = table.sum()
    p = table / n
    row = p.sum(axis=1)
    col = p.sum(axis=0)
    expected = np.outer(row, col)
    po = float(np.sum(w * p))
    pe = float(np.sum(w * expected))
    if np.isclose(pe, 1.0, rtol=0, atol=1e-12):
        return float("nan"), float("nan"), float("nan")
    kappa = (po - pe) / (1 - pe)
    w_row = w @ col          # w̄_i. = Σ_j p_.j w_ij
    w_col = row @ w          # w̄_.j = Σ_i p_i. w_ij
    spread = w_row[:, None] + w_col[None, :]
    var = (np.sum(p * (w - spread * (1 - kappa)) ** 2) - (kappa - pe * (1 - kappa)) ** 2)
    var0 = np.sum(expected * (w - spread) ** 2) - pe ** 2
    scale = n * (1 - pe) ** 2
    return (float(kappa), float(math.sqrt(max(var, 0.0) / scale)),
            float(math.sqrt(max(var0, 0.0) / scale)))
