"""Refits of one region of interest under changed noise and model assumptions.

Private helpers of :mod:`qmri_kernels.validation.error_budget`: arrays in, ROI means out.
Each function refits only the voxels of one ROI (a few thousand), never a whole volume, so
that a cohort's error budget takes seconds. No file is read here.
"""

from __future__ import annotations

import numpy as np

from ..fatwater import FatWaterModel
from ..physics import DEFAULT_FAT_SPECTRUM, REN2008_FAT_SPECTRUM, FatSpectrum
from ..t2 import EPGT2Model

__all__ = ["roi_mean", "dixon_roi_errors", "epg_roi_errors", "FAT_T2_FACTORS"]

#: Fat T2 of the EPG fit scaled by these factors for the "fat T2 ±20 %" rows.
FAT_T2_FACTORS: tuple[float, float] = (0.8, 1.2)


def roi_mean(values, mask, scale: float = 1.0) -> float:
    """Mean of the finite ``values`` inside ``mask``, times ``scale``.

    Parameters
    ----------
    values : array-like, shape (...)
        A map (NaN where not fitted).
    mask : array-like of bool, shape (...)
        The ROI.
    scale : float
        Unit conversion (100 for a fraction → %, 1000 for s → ms).

    Returns
    -------
    float
        NaN if no finite value lies in the mask.

    Examples
    --------
    >>> roi_mean(np.array([0.1, np.nan, 0.3]), np.array([True, True, True]), 100.0)
    20.0
    """
    v = np.asarray(values, dtype=float)[np.asarray(mask, dtype=bool)]
    v = v[np.isfinite(v)]
    return float(scale * v.mean()) if v.size else np.nan


def _complex_noise(shape, sigma: float, rng: np.random.Generator) -> np.ndarray:
    n = rng.standard_normal(tuple(shape) + (2,)) * sigma
    return n[..., 0] + 1j * n[..., 1]


def dixon_roi_errors(signal, roi, echo_times, *, field_strength: float,
                     fat_spectrum: FatSpectrum = DEFAULT_FAT_SPECTRUM, sigma: float,
                     n_repeats: int, rng: np.random.Generator) -> dict:
    """FF of one ROI refitted: with fresh noise, and with the other fat spectrum.

    The fat-water fit (:class:`qmri_kernels.fatwater.FatWaterModel`, region-growing
    field map inside the ROI) is run on the ROI's echoes as acquired (the base), on the
    same echoes with ``n_repeats`` fresh draws of complex Gaussian noise of SD ``sigma``,
    and with the six- and the nine-peak fat spectrum.

    Parameters
    ----------
    signal : complex array-like, shape (nx, ny, nz, n_echoes)
        The multi-echo gradient echo (signal units).
    roi : array-like of bool, shape (nx, ny, nz)
        Voxels to fit.
    echo_times : (n_echoes,) array-like
        s.
    field_strength : float
        T.
    fat_spectrum : FatSpectrum
        The spectrum the pipeline assumes (the base fit's).
    sigma : float
        Noise SD per real channel (signal units), e.g. from the background.
    n_repeats : int
        Noise draws (>= 1).
    rng : numpy.random.Generator
        Source of the noise.

    Returns
    -------
    dict
        ``base_percent`` (ROI mean PDFF, %), ``noise_pp`` ((n_repeats,) ndarray: each
        noisy refit minus the base, percentage points) and ``fat_spectrum_pp`` (six-peak
        minus nine-peak fit, pp: what assuming six peaks costs when the fat has nine).

    Raises
    ------
    ValueError
        If ``roi`` selects no voxel or does not match the signal's spatial shape.
    """
    s = np.asarray(signal)
    m = np.asarray(roi, dtype=bool)
    if m.shape != s.shape[:-1]:
        raise ValueError(f"roi has shape {m.shape} but signal has spatial shape "
                         f"{s.shape[:-1]}")
    if not m.any():
        raise ValueError("roi selects no voxel")

    def ff(spectrum, data) -> float:
        model = FatWaterModel(echo_times, field_strength=field_strength,
                              fat_spectrum=spectrum)
        return roi_mean(model.fit(data, mask=m).pdff, m, 100.0)

    base = ff(fat_spectrum, s)
    noisy = np.empty(int(n_repeats))
    work = s.copy()
    for k in range(noisy.size):
        work[m] = s[m] + _complex_noise(s[m].shape, sigma, rng)
        noisy[k] = ff(fat_spectrum, work) - base
    six = base if fat_spectrum.name == DEFAULT_FAT_SPECTRUM.name else ff(DEFAULT_FAT_SPECTRUM, s)
    nine = base if fat_spectrum.name == REN2008_FAT_SPECTRUM.name else ff(REN2008_FAT_SPECTRUM,
                                                                         s)
    return {"base_percent": base, "noise_pp": noisy, "fat_spectrum_pp": six - nine}


def epg_roi_errors(magnitude, model: EPGT2Model, *, fat_share, b1, sigma: float,
                   n_repeats: int, rng: np.random.Generator,
                   nine_over_six: float = np.nan) -> dict:
    """Water T2 of one ROI refitted under each changed assumption and with fresh noise.

    The base is the pipeline's EPG fit as it is fixed there: ``model`` (its slice profile
    and fat T2), the fat signal share and the smoothed B1 held at the pipeline's values,
    on the raw echoes of the ROI (the pipeline fits MP-PCA-denoised echoes; the refits
    all start from the same raw ones, so their differences are the assumptions' alone).
    The noise and B1 rows change the base. The slice-profile, fat-T2 and fat-spectrum
    rows compare two fits with B1 free, as in the pipeline's first pass from which its B1
    map comes: a wrong model also moves that B1 estimate, which absorbs part of the error
    (fixing B1 at the right model's estimate would exaggerate it).

    Parameters
    ----------
    magnitude : array-like, shape (V, n_echoes)
        Echo magnitudes of the ROI's V voxels (signal units).
    model : EPGT2Model
        The pipeline's model.
    fat_share, b1 : array-like, shape (V,)
        The fat signal share (fraction) and relative B1 the pipeline fixed.
    sigma : float
        Noise SD per real channel (signal units; the pipeline's MP-PCA estimate).
    n_repeats : int
        Noise draws (>= 1): each adds complex Gaussian noise to the magnitudes and takes
        the magnitude again.
    rng : numpy.random.Generator
        Source of the noise.
    nine_over_six : float
        Ratio of the ROI's nine-peak to six-peak Dixon FF; the fat share is scaled by it
        for the fat-spectrum row (NaN: that row is NaN).

    Returns
    -------
    dict
        ``base_ms`` (ROI mean water T2, ms), ``noise_ms`` ((n_repeats,) ndarray), and the
        change of the ROI mean (ms) when: ``slice_profile_ms`` — the library's default
        slice profile replaces the pipeline's; ``fat_t2_short_ms`` / ``fat_t2_long_ms``
        — the fat T2 is 20 % shorter / longer; ``b1_ms`` — B1 is taken as nominal (1)
        instead of the smoothed map; ``fat_spectrum_ms`` — the pipeline's fat share minus
        the nine-peak-scaled one (fit with it minus fit without).

    Raises
    ------
    ValueError
        If the shapes disagree or there is no voxel.
    """
    y = np.ascontiguousarray(np.asarray(magnitude, dtype=np.float32))
    share = np.asarray(fat_share, dtype=float)
    b1v = np.asarray(b1, dtype=float)
    if y.ndim != 2 or y.shape[0] == 0:
        raise ValueError(f"magnitude must be (V, n_echoes) with V > 0, got shape {y.shape}")
    if share.shape != y.shape[:1] or b1v.shape != y.shape[:1]:
        raise ValueError(f"fat_share {share.shape} and b1 {b1v.shape} must be ({y.shape[0]},)")
    share = np.where(np.isfinite(share), np.clip(share, 0.0, 1.0), np.nan)

    def t2(mdl, data=y, ff=share, b=b1v) -> float:
        return roi_mean(mdl.fit(data, fat_fraction=ff, b1=b, noise_sigma=sigma).water_t2,
                        np.ones(data.shape[0], bool), 1e3)

    base = t2(model)
    noisy = np.empty(int(n_repeats))
    for k in range(noisy.size):
        fresh = np.abs(y + _complex_noise(y.shape, sigma, rng)).astype(np.float32)
        noisy[k] = t2(model, data=fresh) - base
    # the assumptions: B1 free in both fits (the pipeline's first pass, which its B1 map
    # comes from), so that B1 can absorb what it would absorb in the pipeline
    free = t2(model, b=None)
    default = EPGT2Model(model.echo_spacing, model.n_echoes, fat_t2=model.fat_t2,
                         water_t1=model.water_t1, fat_t1=model.fat_t1,
                         t2_range=model.t2_range, b1_range=model.b1_range)
    short, long_ = (t2(model.with_fat_t2(model.fat_t2 * f), b=None) - free
                    for f in FAT_T2_FACTORS)
    spectrum = (free - t2(model, ff=np.clip(share * nine_over_six, 0.0, 1.0), b=None)
                if np.isfinite(nine_over_six) else np.nan)
    return {"base_ms": base, "noise_ms": noisy,
            "slice_profile_ms": t2(default, b=None) - free,
            "fat_t2_short_ms": short, "fat_t2_long_ms": long_,
            "b1_ms": t2(model, b=np.ones_like(b1v)) - base, "fat_spectrum_ms": spectrum}
