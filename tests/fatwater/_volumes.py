"""A small synthetic thigh volume for the fat-water tests (not part of the library).

Two elliptical legs in a 42 cm field of view, each with skin-side subcutaneous fat of
varying thickness, a femur (low-signal cortex around fatty marrow), thin intermuscular fat
septa and muscle whose PDFF varies in patches between 0 and 30 %; a smooth polynomial B0
spanning ±200 Hz over the field of view, smooth coil shading and initial phase, and complex
Gaussian noise. Simulated with the library's forward model, ``fatwater.signal``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from qmri_kernels.fatwater import signal
from qmri_kernels.physics import DEFAULT_FAT_SPECTRUM

#: Tissue codes of the ``labels`` map.
BACKGROUND, SUBCUT_FAT, CORTEX, MARROW, MUSCLE, SEPTUM = 0, 1, 2, 3, 4, 5
ECHO_TIMES = 1.5e-3 * np.arange(1, 7)


def legs_volume(shape=(128, 128, 3), snr=60.0, b0_span_hz=200.0, rng=0,
                fat_spectrum=DEFAULT_FAT_SPECTRUM, echo_times=ECHO_TIMES,
                fov_mm=420.0, slice_spacing_mm=9.0):
    """Simulate the two-leg volume.

    Parameters
    ----------
    shape : (nx, ny, nz)
    snr : float
        First-echo muscle magnitude over the noise standard deviation per real channel.
    b0_span_hz : float
        B0 spans ±this over the field of view.
    rng : int or numpy.random.Generator
    fat_spectrum : FatSpectrum used for the simulation.

    Returns
    -------
    dict with ``signal`` (nx, ny, nz, n_echoes) complex64 and the truth maps ``water``,
    ``fat`` (real, ≥ 0), ``pdff``, ``r2star`` (1/s), ``fieldmap`` (Hz), ``labels``,
    ``body`` (bool), ``echo_times`` (s).
    """
    rng = np.random.default_rng(rng)
    nx, ny, nz = shape
    px = fov_mm / nx
    x = (np.arange(nx) - (nx - 1) / 2) * px
    y = (np.arange(ny) - (ny - 1) / 2) * (fov_mm / ny)
    z = (np.arange(nz) - (nz - 1) / 2) * slice_spacing_mm
    X, Y, Z = np.meshgrid(x, y, z, indexing="ij")
    labels = np.zeros(shape, dtype=np.int16)
    for side in (-1.0, 1.0):
        cx, cy = side * 95.0, 5.0
        a, b = 80.0 + rng.uniform(-6, 6), 68.0 + rng.uniform(-6, 6)
        dx, dy = X - cx, Y - cy
        r_ell = np.sqrt((dx / a) ** 2 + (dy / b) ** 2)
        phi = np.arctan2(dy, dx)
        fat_mm = 11.0 + 5.0 * np.cos(2 * phi + rng.uniform(0, np.pi)) + 0.02 * Z
        inner = np.sqrt((dx / (a - fat_mm)) ** 2 + (dy / (b - fat_mm)) ** 2)
        labels[r_ell <= 1.0] = SUBCUT_FAT
        labels[inner <= 1.0] = MUSCLE
        # intermuscular septa: three thin radial fat lines
        for k in range(3):
            t = rng.uniform(0, 2 * np.pi)
            dist = np.abs(-np.sin(t) * dx + np.cos(t) * dy)
            along = np.cos(t) * dx + np.sin(t) * dy
            sept = (dist < 0.7 * px) & (along > 20) & (inner <= 1.0)
            labels[sept] = SEPTUM
        fx, fy = cx - side * 5.0, cy + 8.0
        rf = np.hypot(X - fx, Y - fy)
        labels[rf <= 14.0] = CORTEX
        labels[rf <= 9.0] = MARROW

    def smooth_field(sigma_px, lo, hi):
        f = ndimage.gaussian_filter(rng.standard_normal(shape), (sigma_px, sigma_px, 0.7))
        f = (f - f.min()) / (np.ptp(f) + 1e-12)
        return lo + (hi - lo) * f

    pd = np.zeros(shape)
    pdff = np.zeros(shape)
    r2 = np.zeros(shape)
    muscle_ff = np.clip(smooth_field(6.0, -0.08, 0.32), 0.0, 0.30)
    tissue = {SUBCUT_FAT: (1.0, 0.92, 50.0), CORTEX: (0.05, 0.0, 300.0),
              MARROW: (0.95, 0.93, 60.0), SEPTUM: (0.9, 0.85, 50.0)}
    for lab, (p, ff, r) in tissue.items():
        sel = labels == lab
        pd[sel], pdff[sel], r2[sel] = p, ff, r
    sel = labels == MUSCLE
    pd[sel] = 0.75
    pdff[sel] = muscle_ff[sel]
    r2[sel] = smooth_field(8.0, 30.0, 45.0)[sel]
    water = pd * (1 - pdff)
    fat = pd * pdff

    xn, yn, zn = X / (fov_mm / 2), Y / (fov_mm / 2), Z / (fov_mm / 2)
    b0 = 150 * xn + 60 * yn - 50 * xn ** 2 + 40 * xn * yn + 30 * yn ** 2 + 20 * zn
    b0 = -b0_span_hz + 2 * b0_span_hz * (b0 - b0.min()) / np.ptp(b0)
    shading = 0.7 + 0.5 * np.exp(-((xn - 0.2) ** 2 + (yn + 0.3) ** 2) / 0.6)
    phase0 = 0.8 + 1.2 * xn - 0.7 * yn
    coil = shading * np.exp(1j * phase0)
    s = signal(water * coil, fat * coil, r2, b0, echo_times, fat_spectrum=fat_spectrum)
    sigma = 0.75 * np.exp(-35.0 * echo_times[0]) * np.median(shading[labels == MUSCLE]) / snr
    noise = sigma * (rng.standard_normal(s.shape) + 1j * rng.standard_normal(s.shape))
    body = labels > 0
    return dict(signal=(s + noise).astype(np.complex64), water=water * shading,
                fat=fat * shading, pdff=pdff, r2star=r2, fieldmap=b0, labels=labels,
                body=body, echo_times=np.asarray(echo_times, float), sigma=sigma)


def voxel_coordinates(mask):
    """(V, 3) int64 (i, j, k) of the True voxels of a 0- to 3-D mask, in C order, and the
    mask's 3-D shape (trailing axes of length 1): the layout of the references."""
    shape3 = tuple(int(n) for n in np.shape(mask)) + (1,) * (3 - np.ndim(mask))
    return np.stack(np.nonzero(np.reshape(mask, shape3)), axis=1), shape3
