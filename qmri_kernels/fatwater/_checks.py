"""Argument checks shared by the fat-water model, fit and edge helpers.

Every check raises with a message that names the offending argument and says what is wrong,
then returns a clean array the kernels can take as is.
"""

from __future__ import annotations

import numpy as np

from ..physics import FatSpectrum

#: Echo times above this many seconds are almost certainly milliseconds by mistake.
_MAX_ECHO_TIME_S = 1.0


def check_echo_times(echo_times) -> np.ndarray:
    """Validate echo times (s): 1-D, finite, non-negative, strictly increasing, ≥ 3 echoes.

    Returns
    -------
    (n_echoes,) float64 ndarray, read-only copy.

    Raises
    ------
    ValueError
        Naming ``echo_times`` and the problem.
    """
    te = np.array(echo_times, dtype=float, copy=True)
    if te.ndim != 1:
        raise ValueError(f"echo_times must be a 1-D sequence of times in s, got shape {te.shape}")
    if te.size < 3:
        raise ValueError(f"echo_times must hold at least 3 echoes to separate water, fat, "
                         f"R2* and the field map; got {te.size}")
    if not np.all(np.isfinite(te)):
        raise ValueError(f"echo_times must be finite, got {te.tolist()}")
    if np.any(te < 0):
        raise ValueError(f"echo_times must be non-negative (s), got {te.tolist()}")
    if np.any(np.diff(te) <= 0):
        raise ValueError(f"echo_times must be strictly increasing, got {te.tolist()}")
    if te[-1] > _MAX_ECHO_TIME_S:
        raise ValueError(f"echo_times must be in seconds; the last echo is {te[-1]:g}, which "
                         f"looks like milliseconds (divide by 1000)")
    te.setflags(write=False)
    return te


def check_field_strength(field_strength) -> float:
    """Validate the main field strength in tesla (finite, positive)."""
    try:
        b0 = float(field_strength)
    except (TypeError, ValueError):
        raise TypeError(f"field_strength must be a number in tesla, got "
                        f"{type(field_strength).__name__}") from None
    if not np.isfinite(b0) or b0 <= 0:
        raise ValueError(f"field_strength must be a positive number of tesla, got {b0}")
    return b0


def check_fat_spectrum(fat_spectrum) -> FatSpectrum:
    """Check that ``fat_spectrum`` is a :class:`~qmri_kernels.physics.FatSpectrum`."""
    if not isinstance(fat_spectrum, FatSpectrum):
        raise TypeError(f"fat_spectrum must be a qmri_kernels.physics.FatSpectrum, got "
                        f"{type(fat_spectrum).__name__}")
    return fat_spectrum


def check_complex_signal(signal, n_echoes: int) -> np.ndarray:
    """Validate a complex multi-echo signal of shape (..., n_echoes).

    Raises
    ------
    TypeError
        If ``signal`` is real (magnitude-only or split real/imaginary): the fit needs the
        phase; :func:`~qmri_kernels.fatwater.combine_complex` builds it at the edge.
    ValueError
        If the last axis is not ``n_echoes`` long.
    """
    arr = np.asarray(signal)
    if not np.iscomplexobj(arr):
        raise TypeError(
            f"signal must be complex (magnitude and phase, or real and imaginary parts), got "
            f"real dtype {arr.dtype}; a magnitude-only image cannot be separated with this "
            f"complex model — combine magnitude+phase or real+imaginary images first with "
            f"qmri_kernels.fatwater.combine_complex")
    if arr.ndim < 1 or arr.shape[-1] != n_echoes:
        raise ValueError(f"signal must have shape (..., n_echoes) with n_echoes={n_echoes} "
                         f"(the number of echo_times), got shape {arr.shape}")
    return arr


def check_mask(mask, shape: tuple[int, ...]) -> np.ndarray:
    """Validate a voxel mask against the spatial ``shape`` of the signal.

    ``None`` selects every voxel. Returns a C-contiguous boolean array of ``shape`` (a
    mask read from NIfTI is in Fortran order: it is copied once here, not by each step
    of the fit that walks it in C order).

    Raises
    ------
    ValueError
        If the mask's shape differs from ``shape`` (both are named in the message).
    """
    if mask is None:
        return np.ones(shape, dtype=bool)
    m = np.asarray(mask)
    if m.shape != tuple(shape):
        raise ValueError(f"mask shape {m.shape} does not match the signal's spatial shape "
                         f"{tuple(shape)} (signal.shape[:-1])")
    if m.dtype != bool:
        if not np.issubdtype(m.dtype, np.number):
            raise TypeError(f"mask must be boolean or numeric, got dtype {m.dtype}")
        m = m != 0
    return np.ascontiguousarray(m)
