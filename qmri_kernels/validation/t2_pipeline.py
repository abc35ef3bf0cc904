"""The pipeline's water-T2 step opened up, and its maps over the cohort.

:func:`qmri_kernels.pipeline.t2_maps` stores the final maps only. :func:`t2_steps` runs
the same function on the same inputs — :func:`qmri_kernels.t2.water_t2_subject` with the
pipeline's Dixon maps, its body mask and the network's muscles carried onto the spin-echo
grid — so that the chapter "Water T2 mapping" can show what the stage discards (denoised
echoes, the first pass with voxel-wise B1) and check that the rerun reproduces the stored
map. The other helpers summarise maps without ground truth (:func:`water_t2_table`,
:func:`pick_voxels`, :func:`fat_voxels`, :func:`cohort_summary`) or score maps against
it (:func:`errors_against_truth`, :func:`cohort_accuracy`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage

from ..t2 import MeseData, SubjectT2, load_mese, water_t2_subject
from .chapters import muscle_mask
from .t2 import t2_errors
from .truth import load_truth

__all__ = ["T2Steps", "t2_steps", "water_t2_table", "pick_voxels", "fat_voxels",
           "errors_against_truth", "cohort_summary", "cohort_accuracy"]


@dataclass(frozen=True)
class T2Steps:
    """One subject's T2 step rerun with the pipeline's inputs (:func:`t2_steps`).

    Attributes
    ----------
    subject : str
        Subject label, e.g. ``"13"``.
    mese : qmri_kernels.t2.MeseData
        The echoes, (nx, ny, nz, n_echoes), and their grid.
    body, muscle : ndarray of bool, shape (nx, ny, nz)
        The pipeline's body mask of the echoes, and the network's muscles inside it.
    result : qmri_kernels.t2.SubjectT2
        The rerun: ``result.maps`` (EPG and mono-exponential fits, denoised echoes) and the
        Dixon PDFF, field map and fat share on the spin-echo grid.
    stored : qmri_kernels.pipeline.StageResult
        What :func:`qmri_kernels.pipeline.t2_maps` stored.
    dixon : tuple of ndarray
        The pipeline's Dixon PDFF (fraction), field map (Hz) on the MEGRE grid and its
        (4, 4) affine: the inputs of the rerun.
    """

    subject: str
    mese: MeseData
    body: np.ndarray
    muscle: np.ndarray
    result: SubjectT2
    stored: Any
    dixon: tuple[np.ndarray, np.ndarray, np.ndarray]

    @property
    def max_difference_ms(self) -> float:
        """Largest |rerun − stored| EPG water T2 (ms) over voxels finite in both."""
        a, b = self.result.maps.epg.water_t2, self.stored["water_t2"]
        ok = np.isfinite(a) & np.isfinite(b)
        return float(1e3 * np.max(np.abs(a[ok] - b[ok]))) if ok.any() else np.nan

    def refit(self, fat_t2: float) -> SubjectT2:
        """The same step with another fat T2 (s), e.g. a calibrated one.

        Parameters
        ----------
        fat_t2 : float
            Fat T2 of the EPG water/fat model, s (the default model uses 0.133 s).

        Returns
        -------
        SubjectT2
            The rerun on the same echoes, Dixon maps and masks (:attr:`mese`,
            :attr:`dixon`, :attr:`muscle`, :attr:`body`), water T2 in s.

        Raises
        ------
        ValueError
            If ``fat_t2`` is not a positive finite number.
        """
        pdff, fieldmap, affine = self.dixon
        return water_t2_subject(self.mese, pdff, fieldmap, affine, self.muscle, self.body,
                                fat_t2=fat_t2)


def t2_steps(manifest: Any, subject: str) -> T2Steps:
    """Run the pipeline's T2 step on one subject, keeping every intermediate result.

    Reads (computing them if missing) :func:`qmri_kernels.pipeline.t2_maps`, its Dixon
    input :func:`~qmri_kernels.pipeline.fat_water_maps` and the network's labels on the
    spin-echo grid (:func:`~qmri_kernels.pipeline.transferred_labels`), builds the body
    mask the stage uses (:func:`qmri_kernels.pipeline.body_mask`) and calls
    :func:`qmri_kernels.t2.water_t2_subject` exactly as the stage does.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort (no ground truth needed).
    subject : str
        ``"13"`` or ``"sub-13"``.

    Returns
    -------
    T2Steps
        The rerun, its inputs and masks, and the stored stage result to compare with
        (:attr:`T2Steps.max_difference_ms`).

    Raises
    ------
    KeyError
        If the subject is not in the manifest.
    qmri_kernels.dicom.DicomError
        If the subject's DICOM cannot be ingested (from the pipeline stages).
    """
    from ..pipeline import body_mask, fat_water_maps, t2_maps, transferred_labels

    sid = manifest.subject(subject).id
    stored = t2_maps(manifest, sid)
    fw = fat_water_maps(manifest, sid)
    labels = transferred_labels(manifest, sid)["labels_auto_mese"]
    mese = load_mese(manifest, sid)
    body = body_mask(mese.magnitude)
    muscle = muscle_mask(labels) & body
    dixon = (fw["pdff"], fw["fieldmap"], fw.affine("pdff"))
    result = water_t2_subject(mese, *dixon, muscle, body)
    return T2Steps(sid, mese, body, muscle, result, stored, dixon)


def water_t2_table(maps: Mapping[str, np.ndarray], mask) -> pd.DataFrame:
    """Median and quartiles of several T2 maps inside one mask, in ms.

    Parameters
    ----------
    maps : mapping of str to ndarray, each shape (nx, ny, nz)
        Name → T2 map in s (NaN where not fitted).
    mask : array-like of bool, shape (nx, ny, nz)
        Voxels summarised; NaN voxels of a map inside it are left out of that map's row.

    Returns
    -------
    pandas.DataFrame
        Index: the names; columns ``voxels``, ``median_ms``, ``q25_ms``, ``q75_ms``.

    Examples
    --------
    >>> t = water_t2_table({"a": np.array([0.03, 0.04, np.nan])}, [True, True, True])
    >>> float(t.loc["a", "median_ms"]), int(t.loc["a", "voxels"])
    (35.0, 2)
    """
    m = np.asarray(mask, dtype=bool)
    rows = {}
    for name, t2 in maps.items():
        v = 1e3 * np.asarray(t2, dtype=float)[m]
        v = v[np.isfinite(v)]
        q25, q50, q75 = (np.percentile(v, [25, 50, 75]) if v.size else (np.nan,) * 3)
        rows[name] = {"voxels": int(v.size), "median_ms": float(q50), "q25_ms": float(q25),
                      "q75_ms": float(q75)}
    return pd.DataFrame(rows).T


def pick_voxels(water_t2, b1, fat_share, mask) -> dict[str, tuple[int, int, int]]:
    """Three telling voxels chosen from fitted maps: low B1, long water T2, fatty.

    Voxels are taken from ``mask`` eroded by one voxel in-plane (away from fascia and
    fat borders, where partial volume dominates):

    - ``"low B1"``: lean (fat share < 5 %) with a water T2 below the median, at the 5th
      percentile of B1;
    - ``"long water T2"``: lean, at the 95th percentile of water T2;
    - ``"fatty"``: the median voxel among fat shares of 15–30 % (else the 95th percentile
      of the fat share).

    Parameters
    ----------
    water_t2, b1, fat_share : array-like, shape (nx, ny, nz)
        Fitted water T2 (s), relative B1 and fat signal share (fraction).
    mask : array-like of bool, shape (nx, ny, nz)
        Where to choose (e.g. the muscles).

    Returns
    -------
    dict of str to (int, int, int)
        Label → voxel index; a label is left out if no voxel qualifies.
    """
    t2, b1, share = (np.asarray(a, dtype=float) for a in (water_t2, b1, fat_share))
    inner = ndimage.binary_erosion(np.asarray(mask, bool), np.ones((3, 3, 1), bool))
    ok = inner & np.isfinite(t2) & np.isfinite(b1) & np.isfinite(share)
    out: dict[str, tuple[int, int, int]] = {}
    if not ok.any():
        return out
    lean = ok & (share < 0.05)
    fatty = ok & (share > 0.15) & (share < 0.30)
    if not fatty.any():
        fatty = ok & (share >= np.percentile(share[ok], 95))
    low_t2 = lean & (t2 <= np.median(t2[lean])) if lean.any() else lean
    for label, values, where, q in (("low B1", b1, low_t2, 5),
                                    ("long water T2", t2, lean, 95),
                                    ("fatty", share, fatty, 50)):
        idx = np.argwhere(where)
        if len(idx):
            v = values[where]
            out[label] = tuple(int(i) for i in idx[np.argmin(np.abs(v - np.percentile(v, q)))])
    return out


def fat_voxels(pdff, body, threshold: float = 0.9) -> np.ndarray:
    """Voxels of (nearly) pure fat by the Dixon PDFF, away from edges.

    Parameters
    ----------
    pdff : array-like, shape (nx, ny, nz)
        Dixon PDFF on the spin-echo grid (fraction; NaN where unknown).
    body : array-like of bool, shape (nx, ny, nz)
        Where fat may be found (e.g. the body mask of the echoes).
    threshold : float
        PDFF above which a voxel counts as fat.

    Returns
    -------
    ndarray of bool, shape (nx, ny, nz)
        Eroded in-plane by one voxel (3 × 3), so partial-volume edges drop out.
    """
    p = np.asarray(pdff, dtype=float)
    fat = np.asarray(body, bool) & np.isfinite(p) & (np.nan_to_num(p) > threshold)
    return ndimage.binary_erosion(fat, np.ones((3, 3, 1), bool))


def cohort_summary(manifest: Any, subjects=None) -> pd.DataFrame:
    """The pipeline's T2 maps of every subject inside the network's muscles, no truth.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort (no ground truth needed); missing maps are computed.
    subjects : iterable of str, optional
        Default: every subject of the manifest.

    Returns
    -------
    pandas.DataFrame
        Index ``subject`` ("sub-01"); columns ``muscle_voxels``, ``noise_sigma`` (MP-PCA
        estimate, signal units), ``epg_water_t2_median_ms``, ``monoexp_t2_median_ms``,
        ``b1_median``.
    """
    from ..pipeline import t2_maps, transferred_labels

    ids = [s.id for s in manifest.subjects] if subjects is None else list(subjects)
    rows = []
    for sid in ids:
        res = t2_maps(manifest, sid)
        muscle = muscle_mask(transferred_labels(manifest, sid)["labels_auto_mese"])
        muscle &= np.isfinite(res["water_t2"])
        rows.append({"subject": manifest.subject(sid).bids_id,
                     "muscle_voxels": int(muscle.sum()),
                     "noise_sigma": float(res.sidecars["water_t2"].get("FitSettings", {})
                                           .get("NoiseSigma", np.nan)),
                     "epg_water_t2_median_ms": 1e3 * float(np.median(res["water_t2"][muscle])),
                     "monoexp_t2_median_ms": 1e3 * float(np.nanmedian(res["t2"][muscle])),
                     "b1_median": float(np.nanmedian(res["b1"][muscle]))})
    return pd.DataFrame(rows).set_index("subject")


def cohort_accuracy(manifest: Any, subjects=None) -> pd.DataFrame:
    """The pipeline's EPG water T2 and mono-exponential T2 against the true water T2.

    Scored in the true muscles (truth labels of the spin-echo grid) with
    :func:`~qmri_kernels.validation.t2.t2_errors`; the maps are those of
    :func:`qmri_kernels.pipeline.t2_maps` (body mask and B1 smoothing over the network's
    muscles, as the pipeline runs).

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        A cohort with ground truth.
    subjects : iterable of str, optional
        Default: every subject of the manifest.

    Returns
    -------
    pandas.DataFrame
        One row per subject × method (``subject`` "01", ``method`` a key of
        :data:`qmri_kernels.t2.methods.METHODS`: ``epg_pipeline`` or ``monoexp``):
        ``n``, ``n_failed``, ``median_abs_err_ms``, ``p95_abs_err_ms``, ``bias_ms``.

    Raises
    ------
    qmri_kernels.validation.TruthUnavailable
        If the manifest has no ground truth.
    """
    from ..pipeline import t2_maps

    ids = [s.id for s in manifest.subjects] if subjects is None else list(subjects)
    rows = []
    for sid in ids:
        truth = load_truth(manifest, sid, "mese")
        res = t2_maps(manifest, sid)
        muscle = truth["labels"] > 10
        for method, name in (("epg_pipeline", "water_t2"), ("monoexp", "t2")):
            rows.append({"subject": manifest.subject(sid).id, "method": method,
                         **t2_errors(res[name], truth["water_t2"], muscle)})
    return pd.DataFrame(rows)


def errors_against_truth(maps: Mapping[str, np.ndarray], truth: Mapping[str, np.ndarray]
                         ) -> pd.DataFrame:
    """Water-T2 errors of several maps in the true muscles.

    Parameters
    ----------
    maps : mapping of str to ndarray, each shape (nx, ny, nz)
        Name → water T2 map in s, on the grid of ``truth``.
    truth : dict
        :func:`~qmri_kernels.validation.load_truth` of the spin-echo grid (``labels``,
        ``water_t2`` in s).

    Returns
    -------
    pandas.DataFrame
        Index: the names; columns of :func:`~qmri_kernels.validation.t2.t2_errors`
        (``n``, ``n_failed``, ``median_abs_err_ms``, ``p95_abs_err_ms``, ``bias_ms``).
    """
    muscle = np.asarray(truth["labels"]) > 10
    return pd.DataFrame({name: t2_errors(m, truth["water_t2"], muscle)
                         for name, m in maps.items()}).T
