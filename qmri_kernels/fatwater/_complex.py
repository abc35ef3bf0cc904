"""Build the complex multi-echo signal from the images a scanner writes (the I/O edge)."""

from __future__ import annotations

import numpy as np

__all__ = ["combine_complex"]

# Phases a little outside [-π, π] survive rounding in DICOM rescaling; anything beyond this
# is not radians (GE writes phase as integers scaled by 1000, Siemens as 0..4095).
_PHASE_LIMIT_RAD = 2.0 * np.pi + 1e-3


def combine_complex(magnitude=None, phase=None, *, real=None, imag=None) -> np.ndarray:
    """Combine magnitude + phase, or real + imaginary images, into one complex64 array.

    The fat-water fit needs the complex signal of every echo. Scanners store it as two real
    images per echo: magnitude and phase (GE IDEAL-IQ, most DICOM exports) or real and
    imaginary parts. Pass exactly one of the two pairs.

    Parameters
    ----------
    magnitude : array-like, shape (...), optional
        Non-negative magnitude images (any unit).
    phase : array-like, shape (...), optional
        Phase in radians, within [-2π, 2π] (rescale scanner integers before calling).
    real, imag : array-like, shape (...), optional (keyword only)
        Real and imaginary parts.

    Returns
    -------
    ndarray, complex64, shape (...)
        ``magnitude · exp(i · phase)`` or ``real + i · imag``; a new array (the inputs are
        not modified).

    Raises
    ------
    ValueError
        If neither or both pairs are given, a pair is incomplete, shapes differ, values are
        not finite, the magnitude is negative or the phase is not in radians.
    TypeError
        If an input is complex already.

    Examples
    --------
    >>> import numpy as np
    >>> z = combine_complex(np.array([2.0]), np.array([np.pi / 2]))
    >>> bool(np.allclose(z, 2j, atol=1e-6))
    True
    >>> combine_complex(real=np.array([1.0]), imag=np.array([-1.0]))
    array([1.-1.j], dtype=complex64)
    """
    polar = magnitude is not None or phase is not None
    cartesian = real is not None or imag is not None
    if polar and cartesian:
        raise ValueError("pass either magnitude and phase, or real and imag, not both")
    if not polar and not cartesian:
        raise ValueError("pass magnitude and phase, or real and imag")
    if polar:
        if magnitude is None or phase is None:
            missing = "phase" if phase is None else "magnitude"
            raise ValueError(f"{missing} is missing: magnitude and phase come as a pair")
        mag = _real_array(magnitude, "magnitude")
        ph = _real_array(phase, "phase")
        _same_shape(mag, ph, "magnitude", "phase")
        if np.any(mag < 0):
            raise ValueError("magnitude must be non-negative")
        ph_max = float(np.max(np.abs(ph))) if ph.size else 0.0
        if ph_max > _PHASE_LIMIT_RAD:
            raise ValueError(f"phase must be in radians (|phase| ≤ 2π); got values up to "
                             f"{ph_max:g} — rescale the scanner's integer phase first")
        out = mag * np.exp(1j * ph)
    else:
        if real is None or imag is None:
            missing = "imag" if imag is None else "real"
            raise ValueError(f"{missing} is missing: real and imag come as a pair")
        re = _real_array(real, "real")
        im = _real_array(imag, "imag")
        _same_shape(re, im, "real", "imag")
        out = re + 1j * im
    return np.ascontiguousarray(out, dtype=np.complex64)


def _real_array(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got complex dtype {arr.dtype}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_a} shape {a.shape} does not match {name_b} shape {b.shape}")
