"""Argument checks shared by the T2 forward models and fits.

Every check raises :class:`ValueError` whose message starts with the argument's name, so a
user sees at once which input is wrong and why.
"""

from __future__ import annotations

import numbers

import numpy as np


def as_float_array(value, name: str, *, positive: bool = False, nonnegative: bool = False,
                   allow_inf: bool = False) -> np.ndarray:
    """Convert ``value`` to a float64 array and check it is finite (and its sign).

    Parameters
    ----------
    value : array-like
        Input to check.
    name : str
        Argument name used in the error message.
    positive, nonnegative : bool
        Require ``value > 0`` or ``value >= 0`` element-wise.
    allow_inf : bool
        Accept ``+inf`` (e.g. an infinite T1 meaning no longitudinal relaxation).

    Raises
    ------
    ValueError
        If ``value`` is not numeric, contains NaN (or inf when not allowed) or has the
        wrong sign.
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric, got {value!r}") from exc
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    if allow_inf:
        if np.isneginf(arr).any():
            raise ValueError(f"{name} contains -inf")
    elif not np.isfinite(arr).all():
        raise ValueError(f"{name} contains inf; it must be finite")
    if positive and (arr <= 0).any():
        raise ValueError(f"{name} must be > 0, got minimum {arr.min()!r}")
    if nonnegative and (arr < 0).any():
        raise ValueError(f"{name} must be >= 0, got minimum {arr.min()!r}")
    return arr


def as_positive_scalar(value, name: str) -> float:
    """A finite scalar > 0 (e.g. an echo spacing in s)."""
    arr = as_float_array(value, name, positive=True)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got an array of shape {arr.shape}")
    return float(arr)


def as_count(value, name: str, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def broadcast_maps(**arrays: np.ndarray) -> tuple[tuple[int, ...], list[np.ndarray]]:
    """Broadcast named arrays together; the error names them all on mismatch.

    Returns the common shape and C-contiguous flattened float64 copies (in keyword order).
    """
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError as exc:
        desc = ", ".join(f"{k} {v.shape}" for k, v in arrays.items())
        raise ValueError(f"shapes do not broadcast together: {desc}") from exc
    flat = [np.ascontiguousarray(np.broadcast_to(a, shape), dtype=np.float64).reshape(-1)
            for a in arrays.values()]
    return shape, flat
