"""The simulated scanner's own IDEAL-IQ reconstruction: the maps a GE MR750w exports.

A GE IDEAL-IQ exam exports, beside (or instead of) the raw echoes, the scanner's water,
fat, fat-fraction and R2* images. How the scanner makes them is the simulator's business,
not the book's fit: this module does *not* call :mod:`qmri_kernels.fatwater`. It starts
from the truth maps and models what a vendor reconstruction does differently from the
book's fit, so that the two can disagree in a realistic way:

* its water and fat estimates carry their own noise (complex Gaussian, the echo noise
  over the square root of an effective number of signal averages, :data:`EFFECTIVE_NSA`;
  Pineda et al. 2005 give NSA ≈ 3–6 for a 6-echo IDEAL);
* the fat fraction uses magnitude discrimination (Liu et al. 2007, MRM 58:354): in a
  water-dominant voxel FF = 1 − |Ŵ|/|Ŵ + F̂|, in a fat-dominant one FF = |F̂|/|Ŵ + F̂|;
* its fat model and T1 weighting differ from the truth: a relative fat-signal scale
  :data:`FAT_SIGNAL_SCALE` (a fat spectrum with fewer peaks) and an additive
  :data:`FF_OFFSET` (the residual T1 bias of a 3° flip angle, fat having the shorter T1);
* R2* gets noise that grows as the signal falls;
* background (signal below :data:`BACKGROUND_SNR` noise levels) is written as 0, as the
  product's maps show it.

The values are then quantised the way GE stores them: FF as integer percent × 10
(0–1000), R2* as integer 1/s, water and fat as integer signal.
"""

from __future__ import annotations

import numpy as np

from ..grids import Grid

__all__ = ["EFFECTIVE_NSA", "FAT_SIGNAL_SCALE", "FF_OFFSET", "BACKGROUND_SNR",
           "R2STAR_NOISE_SCALE", "ideal_iq_maps", "ge_stored", "grid_points"]

#: Effective number of signal averages of the scanner's water and fat estimates.
EFFECTIVE_NSA: float = 4.0
#: Fat signal of the scanner's fat model relative to the truth's (fewer fat peaks).
FAT_SIGNAL_SCALE: float = 0.96
#: Additive fat-fraction bias of the scanner's reconstruction (T1 weighting), fraction.
FF_OFFSET: float = 0.004
#: Below this many noise standard deviations of |W + F| a voxel is background (0).
BACKGROUND_SNR: float = 5.0
#: R2* noise standard deviation × relative signal noise, 1/s.
R2STAR_NOISE_SCALE: float = 400.0


def grid_points(grid: Grid) -> np.ndarray:
    """World coordinates of every voxel centre of a grid.

    Parameters
    ----------
    grid : Grid
        The voxel grid (shape ``(nx, ny, nz)`` and its 4×4 voxel-to-RAS affine, mm).

    Returns
    -------
    ndarray, shape (nx, ny, nz, 3), float
        RAS coordinates of each voxel centre, mm.
    """
    nx, ny, nz = grid.shape
    ijk = np.stack(np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij"),
                   axis=-1).astype(float)
    return ijk @ np.asarray(grid.affine)[:3, :3].T + np.asarray(grid.affine)[:3, 3]


def ideal_iq_maps(pdff, r2star, amplitude, sigma: float, rng) -> dict[str, np.ndarray]:
    """The scanner's water, fat, fat fraction and R2* from the truth (see module notes).

    Parameters
    ----------
    pdff : (nx, ny, nz) array-like
        True proton-density fat fraction, [0, 1].
    r2star : (nx, ny, nz) array-like
        True R2*, 1/s.
    amplitude : (nx, ny, nz) array-like
        Water + fat signal at t = 0 (proton density × coil sensitivity × scale), ≥ 0.
    sigma : float
        Noise standard deviation per real channel of one echo, signal units.
    rng : int or numpy.random.Generator
        Seed or generator of the reconstruction's own noise.

    Returns
    -------
    dict of str to (nx, ny, nz) ndarray of float64
        ``water``, ``fat`` (signal units), ``pdff`` (fraction, clipped to [0, 1]) and
        ``r2star`` (1/s, ≥ 0); 0 in the background.

    Examples
    --------
    >>> m = ideal_iq_maps(np.full((2, 2, 1), 0.1), np.full((2, 2, 1), 40.0),
    ...                   np.full((2, 2, 1), 1e6), 1.0, 0)
    >>> bool(abs(m["pdff"].mean() - (0.1 * 0.96 / (0.9 + 0.1 * 0.96) + 0.004)) < 1e-4)
    True
    """
    rng = np.random.default_rng(rng)
    f = np.asarray(pdff, dtype=float)
    a = np.asarray(amplitude, dtype=float)
    sigma_map = float(sigma) / np.sqrt(EFFECTIVE_NSA)

    def noise():
        return sigma_map * (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape))

    w_hat = a * (1 - f) + noise()
    f_hat = a * f * FAT_SIGNAL_SCALE + noise()
    total = np.abs(w_hat + f_hat)
    safe = np.maximum(total, 1e-12)
    water_dominant = np.abs(w_hat) >= np.abs(f_hat)
    ff = np.where(water_dominant, 1 - np.abs(w_hat) / safe, np.abs(f_hat) / safe)
    ff = np.clip(ff + FF_OFFSET, 0.0, 1.0)
    r2 = np.asarray(r2star, dtype=float) + R2STAR_NOISE_SCALE * sigma_map / safe \
        * rng.standard_normal(f.shape)
    r2 = np.clip(r2, 0.0, 1000.0)
    background = total < BACKGROUND_SNR * sigma_map
    out = {"water": np.abs(w_hat), "fat": np.abs(f_hat), "pdff": ff, "r2star": r2}
    return {k: np.where(background, 0.0, v) for k, v in out.items()}


def ge_stored(kind: str, values: np.ndarray) -> np.ndarray:
    """GE's stored integers of a map (RescaleSlope 1, RescaleIntercept 0).

    Parameters
    ----------
    kind : {"pdff", "water", "fat", "r2star"}
    values : (nx, ny, nz) ndarray
        From :func:`ideal_iq_maps` (SI units).

    Returns
    -------
    (nx, ny, nz) ndarray of uint16
        FF as percent × 10 (0–1000), R2* in 1/s, water and fat as signal, rounded.
    """
    factor = {"pdff": 1000.0, "water": 1.0, "fat": 1.0, "r2star": 1.0}[kind]
    return np.clip(np.rint(np.asarray(values) * factor), 0, 65535).astype(np.uint16)
