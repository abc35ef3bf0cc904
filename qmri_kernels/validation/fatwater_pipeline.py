"""The pipeline's fat-water maps examined: noise floor, fit variants, cohort tables.

The chapter "Fat-water separation" shows the maps of
:func:`qmri_kernels.pipeline.fat_water_maps`. This module holds what it does with them:

- :func:`pdff_noise_floor` — the Cramér–Rao bound of PDFF at the pipeline's fitted
  parameters (Pineda et al. 2005), and, when the truth is known, the errors in units of it;
- :func:`fit_variants` — the same echoes refitted with other fat spectra and field-map
  methods (a deliberate refit of one step), with :func:`swap_reference` saying what a
  variant's PDFF is compared with;
- :func:`spectral_mismatch` — the bias of the six-peak fit on echoes re-simulated from the
  true maps with the nine-peak spectrum of Ren et al. 2008 (needs ground truth);
- :func:`cohort_summary` (no truth needed) and :func:`cohort_accuracy` (against the truth)
  over every subject of a manifest.

References
----------
Pineda AR, Reeder SB, Wen Z, Pelc NJ (2005). Cramér-Rao bounds for three-point
decomposition of water and fat. Magn Reson Med 54:625-635. doi:10.1002/mrm.20623
Ren J, Dimitrov I, Sherry AD, Malloy CR (2008). Composition of adipose tissue and marrow
fat in humans by 1H NMR at 7 Tesla. J Lipid Res 49:2055-2062.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..fatwater import (FatWaterFit, FatWaterModel, background_noise_sigma, load_megre,
                        pdff_crlb, signal)
from ..labels import LABELS
from ..physics import DEFAULT_FAT_SPECTRUM, REN2008_FAT_SPECTRUM, FatSpectrum
from .chapters import muscle_mask
from .fatwater import evaluate_fit
from .truth import load_truth

__all__ = ["NoiseFloor", "pdff_noise_floor", "fit_variants", "swap_reference",
           "spectral_mismatch", "cohort_summary", "cohort_accuracy", "MEDIAN_ABS_Z"]

#: Median of |z| for a standard normal z: the median |error| of an efficient, unbiased fit
#: is this many Cramér–Rao standard deviations.
MEDIAN_ABS_Z: float = 0.674


@dataclass(frozen=True)
class NoiseFloor:
    """The Cramér–Rao bound of PDFF over a set of voxels (:func:`pdff_noise_floor`).

    Attributes
    ----------
    crlb : ndarray, shape (V,)
        Lower bound on the standard deviation of PDFF (fraction) of each voxel.
    z : ndarray, shape (V,), or None
        (fit − truth) / bound, when the true PDFF was given.
    summary : pandas.Series
        Noise σ, voxels, the bound's prediction of the median |error| (pp) and, with the
        truth, the median |error| itself (pp).
    """

    crlb: np.ndarray
    z: np.ndarray | None
    summary: pd.Series


def pdff_noise_floor(water, fat, r2star, fieldmap, echo_times, sigma: float, mask, *,
                     field_strength: float, pdff=None, true_pdff=None) -> NoiseFloor:
    """Cramér–Rao bound of PDFF at fitted parameters, and the errors in units of it.

    The bound is evaluated at the pipeline's fitted water and fat signals, R2* and field
    map. The maps keep |W| and |F|; the model gives water and fat one phase at t = 0 and
    the bound depends only on their relative phase, so the magnitudes suffice.

    Parameters
    ----------
    water, fat : array-like, shape (nx, ny, nz)
        Fitted |W| and |F| (signal units).
    r2star : array-like, shape (nx, ny, nz)
        R2* in 1/s.
    fieldmap : array-like, shape (nx, ny, nz)
        Off-resonance in Hz.
    echo_times : (n_echoes,) array-like
        Echo times in s.
    sigma : float
        Noise standard deviation per real channel (signal units), e.g.
        :func:`qmri_kernels.fatwater.background_noise_sigma`.
    mask : array-like of bool, shape (nx, ny, nz)
        Voxels to evaluate (e.g. the muscles).
    field_strength : float
        B0 in tesla.
    pdff, true_pdff : array-like, shape (nx, ny, nz), optional
        Fitted and true PDFF (fractions); both given: ``z`` and the measured median error.

    Returns
    -------
    NoiseFloor
        Over the V voxels of ``mask`` whose four maps are finite: the bound (fraction)
        per voxel, ``z`` (None unless both PDFFs are given) and the summary (pp).

    Raises
    ------
    ValueError
        If the maps and the mask differ in shape, or the mask selects no voxel with a
        finite fit.
    """
    m = np.asarray(mask, dtype=bool)
    maps = [np.asarray(a, dtype=float) for a in (water, fat, r2star, fieldmap)]
    if any(a.shape != m.shape for a in maps):
        raise ValueError(f"water, fat, r2star, fieldmap and mask must share one shape, got "
                         f"{[a.shape for a in maps]} and {m.shape}")
    m = m & np.all([np.isfinite(a) for a in maps], axis=0)
    if not m.any():
        raise ValueError("mask selects no voxel with finite fitted maps")
    w, f, r2, psi = (a[m] for a in maps)
    crlb = pdff_crlb(w, f, r2, psi, echo_times, sigma, field_strength=field_strength)
    summary = {"noise σ (signal units)": float(sigma), "voxels": int(m.sum()),
               "Cramér–Rao prediction of the median |error| (pp)":
                   100 * MEDIAN_ABS_Z * float(np.nanmedian(crlb))}
    z = None
    if pdff is not None and true_pdff is not None:
        err = np.asarray(pdff, dtype=float)[m] - np.asarray(true_pdff, dtype=float)[m]
        z = err / crlb
        summary["median |error| against the truth (pp)"] = 100 * float(np.nanmedian(np.abs(err)))
    return NoiseFloor(crlb, z, pd.Series(summary))


def fit_variants(signal_, echo_times, mask, *, field_strength: float,
                 spectra: Mapping[str, FatSpectrum] | None = None,
                 methods: tuple[str, ...] = ("region-growing", "voxelwise")
                 ) -> dict[str, FatWaterFit]:
    """The same echoes fitted with every combination of fat spectrum and field-map method.

    Parameters
    ----------
    signal_ : complex array-like, shape (nx, ny, nz, n_echoes)
        The echoes.
    echo_times : (n_echoes,) array-like
        Echo times in s.
    mask : array-like of bool, shape (nx, ny, nz)
        Where to fit (the pipeline's body mask).
    field_strength : float
        B0 in tesla.
    spectra : mapping of str to FatSpectrum, optional
        Name → spectrum; default the six-peak spectrum and a single peak at 1.3 ppm.
    methods : tuple of str
        ``fieldmap_method`` values of :class:`~qmri_kernels.fatwater.FatWaterModel`.

    Returns
    -------
    dict of str to FatWaterFit
        Keyed ``"<spectrum>, <method>"``, spectra outer, methods inner.
    """
    if spectra is None:
        spectra = {"six peaks": DEFAULT_FAT_SPECTRUM,
                   "one peak": FatSpectrum([1.3], [1.0], name="single peak")}
    out = {}
    for name, spectrum in spectra.items():
        for method in methods:
            model = FatWaterModel(echo_times, field_strength=field_strength,
                                  fat_spectrum=spectrum, fieldmap_method=method)
            out[f"{name}, {method}"] = model.fit(signal_, mask=mask)
    return out


def _cortex_index() -> int:
    return next(lab.index for lab in LABELS if lab.abbreviation == "COR")


def swap_reference(pipeline_pdff, truth: Mapping[str, np.ndarray] | None = None
                   ) -> tuple[np.ndarray, np.ndarray, str]:
    """What a refitted PDFF map is compared with to count fat-water swaps.

    With ground truth: the true PDFF, counted over the body except the femoral cortex
    (5 % proton density and R2* near 400 1/s put its signal at the noise level, so its
    PDFF is noise, not a swap). Without: the pipeline's own map (six peaks, region-grown
    field map), counted wherever it is finite — a variant's "swaps" are then the voxels
    where it disagrees with the pipeline by more than
    :data:`~qmri_kernels.fatwater.SWAP_THRESHOLD`.

    Parameters
    ----------
    pipeline_pdff : array-like, shape (nx, ny, nz)
        The pipeline's PDFF (fraction; NaN outside the body mask).
    truth : dict, optional
        :func:`~qmri_kernels.validation.load_truth` of the MEGRE grid.

    Returns
    -------
    reference : ndarray, shape (nx, ny, nz)
        PDFF (fraction) to compare with.
    counted : ndarray of bool, shape (nx, ny, nz)
        Voxels where a swap counts.
    name : str
        What the reference is, for a figure title.
    """
    if truth is not None:
        labels = np.asarray(truth["labels"])
        return (np.asarray(truth["pdff"], dtype=float), (labels > 0) & (labels != _cortex_index()),
                "the true PDFF (femoral cortex left out)")
    ref = np.asarray(pipeline_pdff, dtype=float)
    return ref, np.isfinite(ref), "the pipeline's PDFF"


def spectral_mismatch(truth: Mapping[str, np.ndarray], echo_times, mask, *,
                      field_strength: float, sigma: float, rng=0) -> pd.DataFrame:
    """Accuracy of the six-peak fit on echoes simulated with six and with nine fat peaks.

    Both echo sets are simulated from the same true maps (proton density scaled to 1000,
    PDFF, R2*, B0) with the same complex Gaussian noise of standard deviation ``sigma``
    per channel; only the fat spectrum differs (:data:`~qmri_kernels.physics.
    DEFAULT_FAT_SPECTRUM`, six peaks, or :data:`~qmri_kernels.physics.REN2008_FAT_SPECTRUM`,
    nine). Both are fitted with the default six-peak model inside ``mask`` and scored by
    :func:`~qmri_kernels.validation.fatwater.evaluate_fit`.

    Parameters
    ----------
    truth : dict
        :func:`~qmri_kernels.validation.load_truth` of the MEGRE grid (``pd``, ``pdff``,
        ``r2star``, ``b0``, ``labels``).
    echo_times : (n_echoes,) array-like
        Echo times in s.
    mask : array-like of bool, shape (nx, ny, nz)
        Where to fit.
    field_strength : float
        B0 in tesla.
    sigma : float
        Noise standard deviation per real channel (signal units of the scaled data).
    rng : int or numpy.random.Generator
        Seeds the noise.

    Returns
    -------
    pandas.DataFrame
        Rows: the keys of ``evaluate_fit``; columns ``six-peak data``, ``nine-peak data``.
    """
    gen = np.random.default_rng(rng)
    pd_w = 1000 * truth["pd"] * (1 - truth["pdff"])
    pd_f = 1000 * truth["pd"] * truth["pdff"]
    shape = np.shape(pd_w) + (len(echo_times),)
    noise = sigma * (gen.standard_normal(shape) + 1j * gen.standard_normal(shape))
    model = FatWaterModel(echo_times, field_strength=field_strength)
    out = {}
    for name, spectrum in (("six-peak data", DEFAULT_FAT_SPECTRUM),
                           ("nine-peak data", REN2008_FAT_SPECTRUM)):
        echoes = signal(pd_w, pd_f, truth["r2star"], truth["b0"], echo_times,
                        field_strength=field_strength, fat_spectrum=spectrum) + noise
        fit = model.fit(echoes.astype(np.complex64), mask=mask)
        out[name] = evaluate_fit(fit.pdff, fit.r2star, truth["pdff"], truth["r2star"],
                                 truth["labels"])
    return pd.DataFrame(out)


def _subject_summary(manifest: Any, sid: str) -> dict[str, Any]:
    from ..pipeline import body_mask, fat_water_maps, transferred_labels

    fw = fat_water_maps(manifest, sid)
    megre = load_megre(manifest, sid)
    body = body_mask(megre.signal)
    b0 = float(fw.sidecars["pdff"]["MagneticFieldStrength"])
    sigma = background_noise_sigma(megre.signal, ~body)
    muscle = muscle_mask(transferred_labels(manifest, sid)["labels_auto_megre"]) & body
    floor = pdff_noise_floor(fw["water"], fw["fat"], fw["r2star"], fw["fieldmap"],
                             megre.echo_times, sigma, muscle, field_strength=b0)
    field = fw["fieldmap"][np.isfinite(fw["fieldmap"])]
    return {"subject": manifest.subject(sid).bids_id, "body_voxels": int(body.sum()),
            "muscle_voxels": int(floor.summary["voxels"]), "noise_sigma": sigma,
            "muscle_pdff_median_percent": 100 * float(np.nanmedian(fw["pdff"][muscle])),
            "muscle_r2star_median_per_s": float(np.nanmedian(fw["r2star"][muscle])),
            "fieldmap_p1_hz": float(np.percentile(field, 1)),
            "fieldmap_p99_hz": float(np.percentile(field, 99)),
            "crlb_median_abs_error_pp":
                floor.summary["Cramér–Rao prediction of the median |error| (pp)"]}


def cohort_summary(manifest: Any, subjects=None) -> pd.DataFrame:
    """The pipeline's fat-water maps of every subject, summarised without ground truth.

    Per subject: :func:`qmri_kernels.pipeline.fat_water_maps` (computed if missing), the
    body mask the fit used, the network's muscles carried onto the MEGRE grid
    (:func:`qmri_kernels.pipeline.transferred_labels`), the background noise σ and the
    Cramér–Rao prediction of the median |PDFF error| in those muscles
    (:func:`pdff_noise_floor`).

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort (no ground truth needed); missing maps are computed.
    subjects : iterable of str, optional
        Default: every subject of the manifest.

    Returns
    -------
    pandas.DataFrame
        Index ``subject`` ("sub-01"); columns ``body_voxels``, ``muscle_voxels``,
        ``noise_sigma`` (signal units), ``muscle_pdff_median_percent``,
        ``muscle_r2star_median_per_s``, ``fieldmap_p1_hz``, ``fieldmap_p99_hz`` (1st and
        99th percentile over the body), ``crlb_median_abs_error_pp``.
    """
    ids = [s.id for s in manifest.subjects] if subjects is None else list(subjects)
    return pd.DataFrame([_subject_summary(manifest, sid) for sid in ids]).set_index("subject")


def cohort_accuracy(manifest: Any, subjects=None) -> pd.DataFrame:
    """The pipeline's PDFF and R2* maps of every subject against the truth.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        A cohort with ground truth.
    subjects : iterable of str, optional
        Default: every subject of the manifest.

    Returns
    -------
    pandas.DataFrame
        Index ``subject`` ("sub-01"); the columns of
        :func:`~qmri_kernels.validation.fatwater.evaluate_fit` (errors in pp and 1/s,
        muscles and body from the true labels).

    Raises
    ------
    qmri_kernels.validation.TruthUnavailable
        If the manifest has no ground truth.
    """
    from ..pipeline import fat_water_maps

    ids = [s.id for s in manifest.subjects] if subjects is None else list(subjects)
    rows = []
    for sid in ids:
        truth = load_truth(manifest, sid, "megre")
        fw = fat_water_maps(manifest, sid)
        rows.append({"subject": manifest.subject(sid).bids_id,
                     **evaluate_fit(fw["pdff"], fw["r2star"], truth["pdff"], truth["r2star"],
                                    truth["labels"])})
    return pd.DataFrame(rows).set_index("subject")
