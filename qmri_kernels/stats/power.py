"""What a correlation study of n patients can detect, and how often it would replicate.

- :func:`spearman_power`: approximate power of the two-sided test of ρ = 0.
- :func:`min_detectable_rho`: the smallest |ρ| detected with the requested power at n.
- :func:`required_n`: the smallest n that detects a given ρ with the requested power.
- :func:`replication_rate`: simulate many studies from a caller-supplied model and report the
  share with p < α and the spread of ρ.

The power formulas work on Fisher's z = atanh(ρ̂), approximately normal with mean atanh(ρ).
For Pearson's r its variance is 1/(n − 3) (Fisher 1921). Spearman's ρ̂ varies more; Bonett &
Wright (2000) give var(z) ≈ (1 + ρ²/2)/(n − 3), which the default ``method="bonett_wright"``
uses under the alternative (under H0, ρ = 0, both variances are 1/(n − 3)).

References
----------
- Fisher RA (1921). On the "probable error" of a coefficient of correlation
  deduced from a small sample. Metron 1:3-32.
- Bonett DG, Wright TA (2000). Sample size requirements for estimating
  Pearson, Kendall and Spearman correlations. Psychometrika 65:23-28.
  doi:10.1007/BF02294183
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import optimize as _opt
from scipy import stats as _st

from ._checks import StatsError, as_count, as_paired, as_probability, as_seed_rng, check_alpha
from .correlation import spearman

__all__ = ["POWER_METHODS", "spearman_power", "min_detectable_rho", "required_n",
           "ReplicationResult", "replication_rate"]

#: Variance models of Fisher's z accepted by the power functions.
POWER_METHODS = ("bonett_wright", "fisher")


def _variance_factor(rho: float, method: str) -> float:
    if method not in POWER_METHODS:
        raise StatsError(f"method must be one of {POWER_METHODS}, got {method!r}")
    return 1.0 + rho * rho / 2.0 if method == "bonett_wright" else 1.0


def _power(rho: float, n: int, alpha: float, method: str) -> float:
    z_crit = _st.norm.isf(alpha / 2.0)
    sd0 = 1.0 / math.sqrt(n - 3)
    sd1 = math.sqrt(_variance_factor(rho, method)) * sd0
    mu = math.atanh(min(abs(rho), 1 - 1e-15))
    return float(_st.norm.sf((z_crit * sd0 - mu) / sd1) + _st.norm.cdf((-z_crit * sd0 - mu) / sd1))


def _check_rho(rho, name: str = "rho") -> float:
    try:
        v = float(rho)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"{name} must be a number in (-1, 1), got {rho!r}") from exc
    if not (math.isfinite(v) and -1.0 < v < 1.0):
        raise StatsError(f"{name} must lie in (-1, 1), got {rho!r}")
    return v


def spearman_power(rho: float, n: int, alpha: float = 0.05,
                   method: str = "bonett_wright") -> float:
    """Approximate power of the two-sided test of ρ = 0 when the true correlation is ρ.

    power = Φ((atanh|ρ| − z_{1−α/2} σ₀)/σ₁) + Φ((−atanh|ρ| − z_{1−α/2} σ₀)/σ₁), σ₀² =
    1/(n−3), σ₁² = (1 + ρ²/2)/(n−3) (``"bonett_wright"``) or 1/(n−3) (``"fisher"``).

    Parameters
    ----------
    rho : float
        True correlation in (−1, 1).
    n : int
        Number of pairs, ≥ 4.
    alpha : float
        Two-sided significance level (default 0.05).
    method : {"bonett_wright", "fisher"}
        Variance of Fisher's z under the alternative (Spearman: Bonett & Wright 2000;
        Pearson: Fisher 1921).

    Returns
    -------
    float
        Power in (α, 1).

    Raises
    ------
    StatsError
        ``rho`` outside (−1, 1), ``n`` < 4, ``alpha`` outside (0, 1), unknown ``method``.

    References
    ----------
    Fisher RA (1921), Metron 1:3-32; Bonett DG, Wright TA (2000), Psychometrika 65:23-28.

    Examples
    --------
    A true ρ of 0.6 studied in 13 patients is detected a little more than half the time:

    >>> round(spearman_power(0.6, 13), 2)
    0.58
    """
    rho = _check_rho(rho)
    n = as_count(n, "n", minimum=4)
    alpha = check_alpha(alpha)
    _variance_factor(0.0, method)
    return _power(rho, n, alpha, method)


def min_detectable_rho(n: int, alpha: float = 0.05, power: float = 0.8,
                       method: str = "bonett_wright") -> float:
    """Smallest |ρ| that a two-sided test at ``alpha`` detects with ``power`` in n pairs.

    Solves :func:`spearman_power` (ρ, n) = ``power`` for ρ in (0, 1). With
    ``method="fisher"`` this is the textbook tanh((z_{1−α/2} + z_power)/√(n−3)) (up to the
    negligible opposite tail); the default adds the Bonett & Wright (2000) variance inflation
    for Spearman's ρ, which raises the threshold slightly.

    Parameters
    ----------
    n : int
        Number of pairs, ≥ 4.
    alpha : float
        Two-sided significance level (default 0.05).
    power : float
        Required power in (alpha, 1) (default 0.8).
    method : {"bonett_wright", "fisher"}
        Variance model, see :func:`spearman_power`.

    Returns
    -------
    float
        The minimal detectable |ρ| in (0, 1).

    Raises
    ------
    StatsError
        ``n`` < 4; ``alpha`` or ``power`` outside (0, 1) or ``power`` ≤ ``alpha``; unknown
        ``method``.

    References
    ----------
    Fisher RA (1921), Metron 1:3-32; Bonett DG, Wright TA (2000), Psychometrika 65:23-28.

    Examples
    --------
    >>> round(min_detectable_rho(13, method="fisher"), 3)
    0.709
    >>> round(min_detectable_rho(13), 3)
    0.725
    """
    n = as_count(n, "n", minimum=4)
    alpha = check_alpha(alpha)
    power = as_probability(power, "power")
    if power <= alpha:
        raise StatsError(f"power ({power}) must exceed alpha ({alpha}); at ρ = 0 the test "
                         "already rejects with probability alpha")
    _variance_factor(0.0, method)
    return float(_opt.brentq(lambda r: _power(r, n, alpha, method) - power, 1e-12,
                             1 - 1e-12, xtol=1e-12))


def required_n(rho: float, alpha: float = 0.05, power: float = 0.8,
               method: str = "bonett_wright") -> int:
    """Smallest number of pairs that detects a true ρ with ``power`` (two-sided test).

    Starts from the closed form n = 3 + ((z_{1−α/2} + z_power √f)/atanh|ρ|)², f = 1 + ρ²/2
    (Bonett & Wright 2000) or 1 (Fisher), rounded up, and steps down while
    :func:`spearman_power` still reaches ``power``.

    Parameters
    ----------
    rho : float
        True correlation, 0 < |ρ| < 1.
    alpha : float
        Two-sided significance level (default 0.05).
    power : float
        Required power in (alpha, 1) (default 0.8).
    method : {"bonett_wright", "fisher"}
        Variance model, see :func:`spearman_power`.

    Returns
    -------
    int
        Number of pairs, ≥ 4.

    Raises
    ------
    StatsError
        ``rho`` zero or outside (−1, 1); ``alpha``/``power`` invalid; unknown ``method``.

    References
    ----------
    Bonett DG, Wright TA (2000), Psychometrika 65:23-28.

    Examples
    --------
    >>> required_n(0.6), required_n(0.6, method="fisher")
    (21, 20)
    """
    rho = _check_rho(rho)
    if rho == 0.0:
        raise StatsError("rho must be non-zero: no sample size detects a zero correlation")
    alpha = check_alpha(alpha)
    power = as_probability(power, "power")
    if power <= alpha:
        raise StatsError(f"power ({power}) must exceed alpha ({alpha})")
    f = _variance_factor(rho, method)
    z_a = _st.norm.isf(alpha / 2.0)
    z_b = _st.norm.ppf(power)
    n = max(4, math.ceil(3 + ((z_a + z_b * math.sqrt(f)) / math.atanh(abs(rho))) ** 2))
    while n > 4 and _power(rho, n - 1, alpha, method) >= power:
        n -= 1
    while _power(rho, n, alpha, method) < power:  # guard against round-off at the boundary
        n += 1
    return int(n)


@dataclass(frozen=True)
class ReplicationResult:
    """Outcome of many simulated replications of one correlation study.

    Attributes
    ----------
    rate : float
        Share of studies with a defined ρ and p < ``alpha`` (studies with undefined ρ count
        as not significant).
    rho_quantiles : tuple of float
        Quantiles of ρ over studies with a defined ρ, at ``quantile_levels``.
    quantile_levels : tuple of float
    alpha : float
    n_studies : int
    n_undefined : int
        Studies where x or y came out constant, so that ρ is undefined.
    rhos, pvals : (n_studies,) ndarray of float
        Per-study ρ and SPSS p (NaN where undefined); read-only.
    """

    rate: float
    rho_quantiles: tuple[float, ...]
    quantile_levels: tuple[float, ...]
    alpha: float
    n_studies: int
    n_undefined: int
    rhos: np.ndarray = field(repr=False, compare=False)
    pvals: np.ndarray = field(repr=False, compare=False)


def replication_rate(simulate: Callable[[np.random.Generator], tuple], n_studies: int,
                     seed, alpha: float = 0.05,
                     quantiles: tuple[float, ...] = (0.025, 0.5, 0.975)) -> ReplicationResult:
    """Share of simulated studies that find p < ``alpha``, and the spread of their ρ.

    ``simulate(rng)`` draws one complete synthetic study — the model of patients, measurement
    noise and scoring is the caller's — and returns its paired arrays ``(x, y)``. Each study
    is analysed as the paper did (:func:`spearman`, SPSS p). The replication rate is the
    empirical power of that design under that model.

    Parameters
    ----------
    simulate : callable
        ``simulate(rng: numpy.random.Generator) -> (x, y)`` with x, y 1-D of equal length ≥ 3.
        It must draw all randomness from ``rng``.
    n_studies : int
        Number of simulated studies, ≥ 1.
    seed : int or numpy.random.Generator
        Seed of the one generator passed to every call of ``simulate`` in turn.
    alpha : float
        Significance level (default 0.05).
    quantiles : tuple of float
        Levels in [0, 1] for ``rho_quantiles`` (default 2.5 %, 50 %, 97.5 %).

    Returns
    -------
    ReplicationResult
        ``rate``, ``rho_quantiles``, ``quantile_levels``, ``alpha``, ``n_studies``,
        ``n_undefined``, ``rhos``, ``pvals``.

    Raises
    ------
    StatsError
        ``simulate`` not callable or returning something other than two equal-length 1-D
        finite arrays of length ≥ 3 (the message gives the study index); bad ``n_studies``,
        ``seed``, ``alpha`` or ``quantiles``.

    References
    ----------
    Morris TP, White IR, Crowther MJ (2019). Using simulation studies to evaluate statistical
    methods. Stat Med 38:2074-2102.

    Examples
    --------
    >>> def study(rng):
    ...     x = rng.normal(size=13)
    ...     return x, 0.8 * x + 0.6 * rng.normal(size=13)
    >>> res = replication_rate(study, 400, seed=0)
    >>> bool(0.8 < res.rate <= 1.0), res.n_studies
    (True, 400)
    """
    if not callable(simulate):
        raise StatsError(f"simulate must be callable as simulate(rng) -> (x, y), "
                         f"got {type(simulate).__name__}")
    n_studies = as_count(n_studies, "n_studies")
    rng = as_seed_rng(seed)
    alpha = check_alpha(alpha)
    try:
        levels = tuple(float(q) for q in quantiles)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"quantiles must be numbers in [0, 1], got {quantiles!r}") from exc
    if not levels or any(not (0.0 <= q <= 1.0) for q in levels):
        raise StatsError(f"quantiles must be numbers in [0, 1], got {quantiles!r}")
    rhos = np.full(n_studies, np.nan)
    pvals = np.full(n_studies, np.nan)
    for i in range(n_studies):
        out = simulate(rng)
        try:
            x, y = out
        except (TypeError, ValueError) as exc:
            raise StatsError(f"simulate must return a pair (x, y); study {i} returned "
                             f"{type(out).__name__}") from exc
        try:
            a, b = as_paired(x, y, min_n=3, allow_constant=True)
        except StatsError as exc:
            raise StatsError(f"simulate returned bad data for study {i}: {exc}") from exc
        if np.all(a == a[0]) or np.all(b == b[0]):
            continue  # ρ undefined for this study
        res = spearman(a, b)
        rhos[i], pvals[i] = res.rho, res.pval
    defined = np.isfinite(rhos)
    rate = float(np.sum(pvals[defined] < alpha) / n_studies)
    qs = (tuple(float(v) for v in np.quantile(rhos[defined], levels)) if defined.any()
          else tuple(float("nan") for _ in levels))
    rhos.setflags(write=False)
    pvals.setflags(write=False)
    return ReplicationResult(rate=rate, rho_quantiles=qs, quantile_levels=levels, alpha=alpha,
                             n_studies=n_studies, n_undefined=int(n_studies - defined.sum()),
                             rhos=rhos, pvals=pvals)
