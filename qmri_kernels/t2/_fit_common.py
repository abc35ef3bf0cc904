"""Input preparation shared by the T2 fits: validation, masking, flattening, write-back."""

from __future__ import annotations

import numpy as np

from ._validate import as_float_array

#: Echoes with an expected magnitude below this many noise standard deviations are biased
#: upwards by the Rician noise floor by more than ~5 % (Gudbjartsson & Patz 1995, MRM
#: 34:910: E[M] ≈ sqrt(A² + σ²) for A ≳ 2σ); the fits stop the echo train there.
NOISE_FLOOR_SNR: float = 3.0


def prepare(magnitude, mask, n_echoes: int, n_params: int):
    """Validate ``magnitude`` and ``mask``; return the masked voxels as float32 (V, N).

    Parameters
    ----------
    magnitude : array-like, shape (..., n_echoes)
        Magnitude images; must be finite and >= 0 inside the mask.
    mask : array-like of bool, shape (...), or None
        Voxels to fit; None fits every voxel.
    n_echoes : int
        Expected number of echoes (the model's).
    n_params : int
        Free parameters of the fit; fewer echoes than this is an error.

    Returns
    -------
    data : (V, n_echoes) float32, C-contiguous
    mask : (...) bool
    """
    mag = np.asarray(magnitude)
    if not np.issubdtype(mag.dtype, np.number) or np.iscomplexobj(mag):
        raise ValueError(f"magnitude must be a real numeric array (magnitude images), got "
                         f"dtype {mag.dtype}")
    if mag.ndim < 1:
        raise ValueError("magnitude must have a last axis of echoes, got a scalar")
    if mag.shape[-1] != n_echoes:
        raise ValueError(f"magnitude has {mag.shape[-1]} echoes on its last axis but the "
                         f"model has {n_echoes}")
    if n_echoes < n_params:
        raise ValueError(f"magnitude has {n_echoes} echoes, fewer than the {n_params} "
                         f"parameters of the fit")
    spatial = mag.shape[:-1]
    if mask is None:
        m = np.ones(spatial, dtype=bool)
    else:
        m = np.asarray(mask)
        if m.shape != spatial:
            raise ValueError(f"mask has shape {m.shape} but magnitude has spatial shape "
                             f"{spatial} (magnitude shape {mag.shape})")
        if m.dtype != bool:
            if not np.all((m == 0) | (m == 1)):
                raise ValueError("mask must be boolean (or 0/1)")
            m = m.astype(bool)
    data = np.ascontiguousarray(mag.reshape(-1, n_echoes) if m.all() else mag[m],
                                dtype=np.float32)
    if data.size:
        # two reductions instead of a pass per check: NaN propagates through min and max
        lo, hi = float(data.min()), float(data.max())
        if np.isnan(lo) or np.isnan(hi):
            raise ValueError("magnitude contains NaN inside the mask")
        if np.isinf(hi) or np.isinf(lo):
            raise ValueError("magnitude contains inf inside the mask")
        if lo < 0:
            raise ValueError(f"magnitude must be >= 0 (magnitude images), got minimum "
                             f"{lo} inside the mask")
    return data, m


def prepare_map(value, name: str, mask: np.ndarray, *, lower: float | None = None,
                upper: float | None = None, positive: bool = False) -> np.ndarray:
    """A per-voxel map (scalar or shape ``mask.shape``), returned as float64 (V,)."""
    arr = as_float_array(value, name, positive=positive)
    if arr.ndim == 0:
        flat = np.full(int(mask.sum()), float(arr))
    elif arr.shape == mask.shape:
        flat = np.ascontiguousarray(arr[mask], dtype=np.float64)
    else:
        raise ValueError(f"{name} has shape {arr.shape}; it must be a scalar or match the "
                         f"spatial shape {mask.shape} of magnitude")
    if lower is not None and (flat < lower).any():
        raise ValueError(f"{name} must be >= {lower}, got minimum {flat.min()}")
    if upper is not None and (flat > upper).any():
        raise ValueError(f"{name} must be <= {upper}, got maximum {flat.max()}")
    return flat


def echoes_above_floor(data: np.ndarray, sigma: np.ndarray | None, minimum: int,
                       floor_snr: float = NOISE_FLOOR_SNR) -> np.ndarray:
    """Length of the leading run of echoes at or above ``floor_snr · sigma`` per voxel.

    The fits use echoes ``[0, m)``; ``m`` is at least ``minimum`` (the parameter count)
    and the whole train when ``sigma`` is None.

    Parameters
    ----------
    data : (V, N) array
    sigma : (V,) array or None
        Noise standard deviation per real channel, same units as ``data``.
    """
    v, n = data.shape
    if sigma is None:
        return np.full(v, n, dtype=np.int64)
    below = data < floor_snr * sigma[:, None]
    first = np.where(below.any(axis=1), below.argmax(axis=1), n)
    return np.maximum(first, min(minimum, n)).astype(np.int64)


def unflatten(values: np.ndarray, mask: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """Scatter (V, ...) values back into a volume of ``mask.shape + values.shape[1:]``."""
    if mask.all():
        out = np.array(values, dtype=np.float64).reshape(mask.shape + values.shape[1:])
    else:
        out = np.full(mask.shape + values.shape[1:], fill, dtype=np.float64)
        out[mask] = values
    out.setflags(write=False)
    return out
