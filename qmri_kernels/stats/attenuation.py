"""Attenuation of a correlation by measurement error (Spearman 1904).

A qMRI value read by two readers with ICC 0.84 and a histology score graded by two
pathologists with kappa 0.5 are both noisy measurements of what they stand for. Random
measurement error can only weaken a correlation: with reliabilities r_xx and r_yy (the share
of each variable's variance that is true-score variance, e.g. an ICC),

    ρ_observed = ρ_true · √(r_xx · r_yy).

:func:`attenuated_rho` applies this; :func:`disattenuated_rho` inverts it (Spearman's
correction for attenuation). Both are exact for Pearson correlations under the classical test
model (independent errors); for Spearman's ρ they are an approximation that a book can use to
show the size of the effect, not a correction to report as a result.

References
----------
- Spearman C (1904). The proof and measurement of association between two
  things. Am J Psychol 15:72-101. doi:10.2307/1412159
"""

from __future__ import annotations

import numpy as np

from ._checks import StatsError

__all__ = ["attenuated_rho", "disattenuated_rho"]


def _as_array(value, name: str, low: float, high: float, open_low: bool) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"{name} must be numeric, got {value!r:.60}") from exc
    if not np.all(np.isfinite(a)):
        raise StatsError(f"{name} contains NaN/inf")
    bad = (a <= low) if open_low else (a < low)
    bad |= a > high
    if np.any(bad):
        lo = "(" if open_low else "["
        raise StatsError(f"{name} must lie in {lo}{low:g}, {high:g}], got {value!r:.60}")
    return a


def _result(a: np.ndarray):
    return float(a) if a.ndim == 0 else a


def attenuated_rho(rho_true, reliability_x, reliability_y):
    """Correlation observed between two noisy measurements (Spearman 1904).

    ρ_observed = ρ_true · √(reliability_x · reliability_y).

    Parameters
    ----------
    rho_true : float or array-like
        Correlation between the error-free quantities, in [−1, 1].
    reliability_x, reliability_y : float or array-like
        Reliabilities in (0, 1] (e.g. an ICC of the readers, or test-retest correlation).
        Arrays broadcast.

    Returns
    -------
    float or ndarray
        The attenuated correlation (float when all inputs are scalars).

    Raises
    ------
    StatsError
        ``rho_true`` outside [−1, 1], a reliability outside (0, 1], NaN, or shapes that do not
        broadcast.

    References
    ----------
    Spearman C (1904), Am J Psychol 15:72-101.

    Examples
    --------
    A true correlation of 0.8 seen through readers with ICC 0.84 and scores with
    reliability 0.5:

    >>> round(attenuated_rho(0.8, 0.84, 0.5), 3)
    0.518
    """
    rho = _as_array(rho_true, "rho_true", -1.0, 1.0, open_low=False)
    rx = _as_array(reliability_x, "reliability_x", 0.0, 1.0, open_low=True)
    ry = _as_array(reliability_y, "reliability_y", 0.0, 1.0, open_low=True)
    try:
        return _result(rho * np.sqrt(rx * ry))
    except ValueError as exc:
        raise StatsError(f"rho_true, reliability_x and reliability_y do not broadcast: {exc}") \
            from exc


def disattenuated_rho(rho_observed, reliability_x, reliability_y):
    """Spearman's (1904) correction for attenuation: ρ_observed / √(rel_x · rel_y).

    Parameters
    ----------
    rho_observed : float or array-like
        Observed correlation in [−1, 1].
    reliability_x, reliability_y : float or array-like
        Reliabilities in (0, 1]. Arrays broadcast.

    Returns
    -------
    float or ndarray
        The corrected correlation. It is not clipped: a value beyond ±1 means that the
        reliabilities are underestimated or the sampling error of ρ_observed is large (with
        13 patients it is), and is itself worth reporting.

    Raises
    ------
    StatsError
        ``rho_observed`` outside [−1, 1], a reliability outside (0, 1], NaN, or shapes that do
        not broadcast.

    References
    ----------
    Spearman C (1904), Am J Psychol 15:72-101.

    Examples
    --------
    >>> round(disattenuated_rho(0.597, 0.934, 0.7), 3)
    0.738
    """
    rho = _as_array(rho_observed, "rho_observed", -1.0, 1.0, open_low=False)
    rx = _as_array(reliability_x, "reliability_x", 0.0, 1.0, open_low=True)
    ry = _as_array(reliability_y, "reliability_y", 0.0, 1.0, open_low=True)
    try:
        return _result(rho / np.sqrt(rx * ry))
    except ValueError as exc:
        raise StatsError(f"rho_observed, reliability_x and reliability_y do not broadcast: "
                         f"{exc}") from exc
