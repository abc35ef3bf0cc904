"""Water T2 mapping of one subject, as the pipeline runs it.

:func:`map_water_t2` chains the steps of chapter 4 on a multi-echo spin echo:

1. noise level and Marchenko-Pastur PCA denoising (:mod:`.denoise`);
2. the EPG water/fat fit with the fat share fixed from the Dixon PDFF when given
   (:func:`.residual_fat_share` of the PDFF resampled onto this grid by
   :func:`resample_to_grid`), B1 free;
3. B1 smoothed over the muscles and the fit repeated with B1 fixed (:mod:`.b1`);
4. for comparison, the mono-exponential fit of the raw magnitudes (first echo skipped).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..physics import T2_FAT_3T
from ._validate import as_float_array
from .b1 import fit_with_smooth_b1
from .denoise import mppca_denoise
from .epg_model import EPGT2Fit, EPGT2Model
from .monoexp import MonoExpT2Fit, MonoExpT2Model

__all__ = ["WaterT2Maps", "map_water_t2", "resample_to_grid"]


def resample_to_grid(volume, source_affine, target_shape, target_affine,
                     order: int = 1, fill: float = np.nan) -> np.ndarray:
    """Resample a map onto another grid by world (scanner) coordinates.

    Each target voxel centre is mapped through ``inv(source_affine) @ target_affine`` into
    the source voxel grid and interpolated (``order`` 1: trilinear; 0: nearest), so series
    with different slice positions are matched in space, never by slice index.

    Parameters
    ----------
    volume : array-like, shape (X, Y, Z)
        Source map (NaN allowed: NaN neighbours make the result NaN for ``order`` 1).
    source_affine, target_affine : (4, 4) array-like
        Voxel centre → RAS mm.
    target_shape : tuple of 3 int
        (nx, ny, nz) of the target grid.
    order : {0, 1}
        Interpolation order: 1 trilinear, 0 nearest voxel.
    fill : float
        Value outside the source volume (beyond half a voxel).

    Returns
    -------
    ndarray, float64, ``target_shape``
        The map in the source's units on the target grid.

    Raises
    ------
    ValueError
        If ``volume`` is not 3-D, an affine is not a finite (4, 4) array, or ``order`` is
        not 0 or 1.
    """
    vol = np.asarray(volume, dtype=np.float64)
    if vol.ndim != 3:
        raise ValueError(f"volume must be 3-D, got shape {vol.shape}")
    src = as_float_array(source_affine, "source_affine")
    tgt = as_float_array(target_affine, "target_affine")
    if src.shape != (4, 4) or tgt.shape != (4, 4):
        raise ValueError("source_affine and target_affine must be 4 × 4")
    if order not in (0, 1):
        raise ValueError(f"order must be 0 or 1, got {order}")
    shape = tuple(int(s) for s in target_shape)
    ijk = np.indices(shape).reshape(3, -1)
    m = np.linalg.solve(src, tgt)
    pts = m[:3, :3] @ ijk + m[:3, 3:4]
    inside = np.all((pts > -0.5) & (pts < np.array(vol.shape)[:, None] - 0.5), axis=0)
    clipped = np.clip(pts, 0, np.array(vol.shape)[:, None] - 1)
    out = ndimage.map_coordinates(vol, clipped, order=order, mode="nearest")
    out[~inside] = fill
    return out.reshape(shape)


@dataclass(frozen=True)
class WaterT2Maps:
    """The fits of :func:`map_water_t2`.

    Attributes
    ----------
    epg : EPGT2Fit
        Final EPG fit (denoised, smooth B1 fixed, fat share fixed if given).
    epg_b1_free : EPGT2Fit
        The first pass with voxel-wise B1.
    monoexp : MonoExpT2Fit
        Mono-exponential fit of the raw magnitudes.
    fat_share : ndarray or None
        The fixed fat signal share, (X, Y, Z), if one was given.
    noise_sigma : float
        Noise SD estimated by Marchenko-Pastur PCA (signal units).
    denoised : ndarray
        The denoised magnitudes the EPG fits used.
    """

    epg: EPGT2Fit
    epg_b1_free: EPGT2Fit
    monoexp: MonoExpT2Fit
    fat_share: np.ndarray | None
    noise_sigma: float
    denoised: np.ndarray


def map_water_t2(magnitude, echo_times, mask, voxel_size, *, fat_share=None,
                 b1_mask=None, body_mask=None, fat_t2: float = T2_FAT_3T,
                 denoise: bool = True, b1_fwhm_mm: float = 20.0,
                 model: EPGT2Model | None = None) -> WaterT2Maps:
    """Water T2 of one multi-echo spin-echo volume (the steps in the module docstring).

    Parameters
    ----------
    magnitude : array-like, shape (X, Y, Z, N)
        Echo magnitudes; echo n at n·ΔTE.
    echo_times : (N,) array-like
        Echo times in s (must be uniformly spaced from ΔTE).
    mask : array-like of bool, shape (X, Y, Z)
        Voxels to fit (e.g. the body or the muscles).
    voxel_size : sequence of 3 float
        mm, for the B1 smoothing.
    fat_share : array-like, shape (X, Y, Z), optional
        Fat signal share of this sequence to fix (from the PDFF by
        :func:`qmri_kernels.t2.residual_fat_share`); NaN voxels are fitted free.
    b1_mask : array-like of bool, optional
        Voxels feeding the smooth B1 map (default ``mask``; muscles recommended).
    body_mask : array-like of bool, optional
        Where to estimate the noise and denoise (default ``mask``).
    fat_t2 : float
        Fat T2 in s (see :func:`qmri_kernels.t2.calibrate_fat_t2`).
    denoise : bool
        Apply MP-PCA before the EPG fits.
    b1_fwhm_mm : float
        In-plane FWHM of the B1 smoothing, mm.
    model : EPGT2Model, optional
        Overrides the default model built from ``echo_times`` and ``fat_t2``.

    Returns
    -------
    WaterT2Maps
        The final EPG fit (water T2 in s, B1 relative, fat share), the B1-free first
        pass, the mono-exponential fit of the raw magnitudes (T2 in s, first echo
        skipped), the fixed fat share, the MP-PCA noise SD (signal units) and the
        denoised echoes; every map (X, Y, Z), NaN outside ``mask``.

    Raises
    ------
    ValueError
        If ``mask`` does not match the spatial shape of ``magnitude``, or as the fits
        (:meth:`EPGT2Model.fit`, :func:`fit_with_smooth_b1`) for bad echo times, data or
        voxel size.
    """
    mag = np.asarray(magnitude)
    m = np.asarray(mask, dtype=bool)
    if m.shape != mag.shape[:-1]:
        raise ValueError(f"mask has shape {m.shape} but magnitude has spatial shape "
                         f"{mag.shape[:-1]}")
    epg = model if model is not None else EPGT2Model.from_echo_times(echo_times,
                                                                     fat_t2=fat_t2)
    body = m if body_mask is None else np.asarray(body_mask, dtype=bool)
    if denoise:
        work, sigma = mppca_denoise(mag, body)
    else:
        from .denoise import mp_noise_sigma
        work, sigma = mag, mp_noise_sigma(mag, body)
    final, first = fit_with_smooth_b1(epg, work, m, voxel_size, fat_share, b1_mask=b1_mask,
                                      fwhm_mm=b1_fwhm_mm, noise_sigma=sigma)
    mono = MonoExpT2Model(echo_times, skip_echoes=1).fit(mag, m, noise_sigma=sigma)
    share = None if fat_share is None else np.asarray(fat_share, dtype=float)
    return WaterT2Maps(final, first, mono, share, sigma, work)
