"""Shared argument checks for :mod:`qmri_kernels.stats` (private).

Every public function validates its arguments here first, so that a bad input fails with one
:class:`StatsError` whose message names the argument and the problem.
"""

from __future__ import annotations

import numpy as np

__all__ = ["StatsError", "as_count", "as_paired", "as_probability", "as_seed_rng", "check_alpha"]


class StatsError(ValueError):
    """Invalid input to a statistics function (the message names the argument)."""


def as_paired(x, y, *, min_n: int = 3, names: tuple[str, str] = ("x", "y"),
              allow_constant: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Two finite 1-D float arrays of equal length ≥ ``min_n``.

    Raises
    ------
    StatsError
        Not 1-D, unequal lengths, fewer than ``min_n`` values, NaN/inf, non-numeric, or
        (unless ``allow_constant``) a constant array, for which a rank correlation is undefined.
    """
    arrays = []
    for value, name in zip((x, y), names):
        try:
            a = np.asarray(value, dtype=float)
        except (TypeError, ValueError) as exc:
            raise StatsError(f"{name} must be numeric, got {value!r:.60}") from exc
        if a.ndim != 1:
            raise StatsError(f"{name} must be 1-D, got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            bad = int(np.sum(~np.isfinite(a)))
            raise StatsError(f"{name} contains {bad} missing or non-finite value(s) (NaN/inf); "
                             "drop incomplete pairs first")
        arrays.append(a)
    a, b = arrays
    if a.size != b.size:
        raise StatsError(f"{names[0]} and {names[1]} must have equal length, "
                         f"got {a.size} and {b.size}")
    if a.size < min_n:
        raise StatsError(f"{names[0]} and {names[1]} need at least {min_n} pairs, got {a.size}")
    if not allow_constant:
        for arr, name in zip((a, b), names):
            if np.all(arr == arr[0]):
                raise StatsError(f"{name} is constant (all values {arr[0]:g}); "
                                 "its correlation is undefined")
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


def as_probability(value, name: str, *, open_low: bool = True, open_high: bool = True) -> float:
    """A float in (0, 1) (ends open or closed as asked)."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"{name} must be a number in (0, 1), got {value!r}") from exc
    low_ok = v > 0 if open_low else v >= 0
    high_ok = v < 1 if open_high else v <= 1
    if not (np.isfinite(v) and low_ok and high_ok):
        lo = "(" if open_low else "["
        hi = ")" if open_high else "]"
        raise StatsError(f"{name} must lie in {lo}0, 1{hi}, got {value!r}")
    return v


def check_alpha(alpha) -> float:
    """Significance level in (0, 1)."""
    return as_probability(alpha, "alpha")


def as_count(value, name: str, *, minimum: int = 1) -> int:
    """An integer ≥ ``minimum`` (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise StatsError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    if value < minimum:
        raise StatsError(f"{name} must be ≥ {minimum}, got {value}")
    return int(value)


def as_seed_rng(seed) -> np.random.Generator:
    """A ``numpy.random.Generator`` from an int seed, a SeedSequence or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        raise StatsError("seed is required (an int or numpy.random.Generator) so that results "
                         "are reproducible")
    if isinstance(seed, bool):
        raise StatsError(f"seed must be an int or numpy.random.Generator, got {seed!r}")
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"seed must be an int or numpy.random.Generator, got {seed!r}") from exc
