"""Spatially smooth B1: regularising the refocusing field of the EPG fit.

The transmit field B1+ at 3 T varies over the thigh on the scale of the RF wavelength in
tissue (about 26 cm at 128 MHz; Collins et al. 2004, MRM 51:1028), so voxel-wise B1
estimates from an 8-echo train differ from their neighbours mostly by noise. Smoothing the
first-pass B1 map and refitting water T2 with B1 fixed removes one free parameter per
voxel: the Cramér-Rao bound of water T2 at T2 = 35 ms, B1 = 0.9, SNR 60 drops from about
1.7 to 1.1 ms (measured in chapter 4). Smoothing is a normalised convolution
(Knutsson & Westin 1993, CVPR 515-523) restricted to the fitted mask, in-plane per slice
(the spin-echo slices are 13 mm apart), with one robust re-weighting pass.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ._validate import as_float_array, as_positive_scalar
from .epg_model import EPGT2Fit, EPGT2Model

__all__ = ["smooth_b1", "fit_with_smooth_b1"]


def smooth_b1(b1, mask, voxel_size, fwhm_mm: float = 20.0, weights=None) -> np.ndarray:
    """Gaussian normalised convolution of a B1 map inside ``mask``, in-plane.

    Parameters
    ----------
    b1 : array-like, shape (X, Y) or (X, Y, Z)
        Voxel-wise relative B1; NaN voxels carry no weight.
    mask : array-like of bool, same shape as ``b1``
        Voxels whose B1 estimates are used (e.g. the muscle mask).
    voxel_size : sequence of float
        Voxel size in mm along each axis of ``b1`` (the slice axis is not smoothed).
    fwhm_mm : float
        Full width at half maximum of the in-plane Gaussian, mm.
    weights : array-like, same shape as ``b1``, optional
        Non-negative confidence of each estimate (default 1).

    Returns
    -------
    ndarray, float64, same shape as ``b1``
        Smoothed B1 wherever the Gaussian reaches a weighted estimate of its slice (also
        outside ``mask``, which only selects the estimates used); NaN elsewhere.

    Raises
    ------
    ValueError
        If ``b1`` is not 2-D or 3-D or holds ±inf, ``mask`` or ``weights`` has another
        shape, ``voxel_size`` has not one positive entry per axis, ``fwhm_mm`` is not
        positive, or a weight is negative.
    """
    b = as_float_array(np.where(np.isnan(np.asarray(b1, float)), 0.0, b1), "b1")
    valid = np.asarray(mask, dtype=bool) & ~np.isnan(np.asarray(b1, float))
    if np.asarray(mask).shape != b.shape:
        raise ValueError(f"mask has shape {np.asarray(mask).shape} but b1 has {b.shape}")
    if b.ndim not in (2, 3):
        raise ValueError(f"b1 must be 2-D or 3-D, got shape {b.shape}")
    vs = as_float_array(voxel_size, "voxel_size", positive=True)
    if vs.shape != (b.ndim,):
        raise ValueError(f"voxel_size must have {b.ndim} entries (mm), got {vs.tolist()}")
    fwhm = as_positive_scalar(fwhm_mm, "fwhm_mm")
    w = np.ones(b.shape) if weights is None else as_float_array(weights, "weights",
                                                                 nonnegative=True)
    if w.shape != b.shape:
        raise ValueError(f"weights has shape {w.shape} but b1 has {b.shape}")
    sigma = fwhm / (2 * np.sqrt(2 * np.log(2))) / vs
    if b.ndim == 3:
        sigma[2] = 0.0
    w = np.where(valid, w, 0.0)
    smooth = _normalised_convolution(b, w, sigma)
    # One robust pass: estimates more than 3 robust SDs from the smooth field get no weight.
    dev = np.abs(b - smooth)[valid & (w > 0)]
    if dev.size:
        scale = 1.4826 * np.median(dev)
        if scale > 0:
            w = np.where(np.abs(b - smooth) > 3 * scale, 0.0, w)
            smooth = _normalised_convolution(b, w, sigma)
    return smooth


def _normalised_convolution(b, w, sigma):
    num = ndimage.gaussian_filter(b * w, sigma, mode="constant")
    den = ndimage.gaussian_filter(w, sigma, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-6 * max(den.max(), 1e-300), num / den, np.nan)


def fit_with_smooth_b1(model: EPGT2Model, magnitude, mask, voxel_size, fat_fraction=None,
                       *, b1_mask=None, fwhm_mm: float = 20.0, noise_sigma=None
                       ) -> tuple[EPGT2Fit, EPGT2Fit]:
    """Two-pass EPG fit: B1 free, smooth B1 (:func:`smooth_b1`), refit with B1 fixed.

    Parameters
    ----------
    model : EPGT2Model
        The acquisition (echo spacing, slice profile, fat T2 and T1s) used for both passes.
    magnitude : array-like, shape (X, Y[, Z], n_echoes)
        Echo magnitudes, signal units.
    mask : array-like of bool, shape (X, Y[, Z])
        Voxels to fit.
    b1_mask : array-like of bool, shape (X, Y[, Z]), optional
        Voxels whose first-pass B1 feeds the smooth map (default ``mask``; the muscles
        are a good choice). Estimates are weighted by 1 / (1 + (relative residual /
        median)²).
    voxel_size : sequence of float
        Voxel size in mm of the spatial axes.
    fat_fraction : array-like or None
        Fixed fat signal share, as in :meth:`EPGT2Model.fit`.
    fwhm_mm : float
        In-plane smoothing of B1, mm.
    noise_sigma : float or array-like, optional
        As in :meth:`EPGT2Model.fit`.

    Returns
    -------
    final : EPGT2Fit
        Water T2 and fat fraction fitted with B1 fixed to the smooth map.
    first : EPGT2Fit
        The B1-free first pass (its ``b1`` is the noisy voxel-wise estimate).

    Raises
    ------
    ValueError
        If ``b1_mask`` and ``mask`` differ in shape, or as :meth:`EPGT2Model.fit` and
        :func:`smooth_b1` for bad data, masks, voxel size or ``fwhm_mm``.
    """
    first = model.fit(magnitude, mask, fat_fraction, noise_sigma=noise_sigma)
    m = np.asarray(mask, dtype=bool)
    src = m if b1_mask is None else np.asarray(b1_mask, dtype=bool) & m
    if src.shape != m.shape:
        raise ValueError(f"b1_mask has shape {src.shape} but mask has {m.shape}")
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = first.residual / np.where(first.s0 > 0, first.s0, np.nan)
    ok = src & np.isfinite(rel)
    med = np.median(rel[ok]) if ok.any() else 1.0
    weights = np.where(ok, 1.0 / (1.0 + (rel / med) ** 2), 0.0)
    b1s = smooth_b1(first.b1, src, voxel_size, fwhm_mm, weights)
    b1s = np.where(m & np.isnan(b1s), first.b1, b1s)
    final = model.fit(magnitude, mask, fat_fraction, b1=b1s, noise_sigma=noise_sigma)
    return final, first
