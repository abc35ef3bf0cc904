"""Score the pipeline's segmentation and biopsied-muscle values against ground truth.

The pipeline segments each subject's T2-weighted series
(:func:`qmri_kernels.pipeline.segmentation` → ``labels_auto``), carries the labels onto the
PDFF (MEGRE) and water-T2 (MESE) grids (:func:`qmri_kernels.pipeline.transferred_labels`),
erodes them in-plane and measures every muscle (:func:`qmri_kernels.pipeline.roi_table`).
With ground truth — only a simulated cohort has it — this module says how close each step
came. It never segments, transfers or fits by itself: it reads what the pipeline made.

Terms
-----
true value
    The mean of the true map (PDFF in %, water T2 in ms) over the true biopsied muscle on
    that map's grid, over the target voxels the T2-weighted stack **covers** (those whose
    centre lies within its acquired extent, :func:`qmri_kernels.masks.transfer_labels`):
    slices beyond it get no labels, so no pipeline can measure them.
segmentation-and-transfer error
    The pipeline's transferred labels, eroded by a chosen radius, over the **true** maps,
    minus the true value: the error of the masks alone (:func:`biopsy_transfer_error`).
end-to-end error
    The ROI table's biopsied-muscle mean (fitted maps under the pipeline's masks, with the
    pipeline's erosion: the number the correlations use) minus the true value
    (:func:`biopsy_end_to_end`).

Every function raises :class:`~qmri_kernels.validation.TruthUnavailable` on a cohort
without ground truth; check :func:`~qmri_kernels.validation.has_truth` first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import pipeline
from ..dicom import load_series
from ..grids import Grid
from ..labels import MUSCLES, SIDES, label_index
from ..masks import check_same_grid, erode_labels, roi_statistics, transfer_labels
from ..pipeline.stages import ROI_ERODE_MM
from ..segment import dice
from .truth import load_truth

__all__ = ["dice_table", "biopsy_truth", "biopsy_transfer_error", "biopsy_end_to_end",
           "summarise_errors", "ROI_ERODE_MM"]

#: (grid, library map, ROI-table map, column stem, unit of values, unit of errors, SI → unit)
_MEASURES = (("megre", "pdff", "ff_percent", "ff", "percent", "pp", 100.0),
             ("mese", "water_t2", "water_t2_ms", "water_t2", "ms", "ms", 1000.0))


def dice_table(manifest: Any, subject: str) -> pd.DataFrame:
    """Dice of the pipeline's network labels against the true labels, per muscle and side.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        A cohort with ground truth.
    subject : str
        ``"13"`` or ``"sub-13"``.

    Returns
    -------
    pandas.DataFrame
        22 rows (11 muscles × 2 sides); columns ``subject``, ``muscle``, ``side``,
        ``label`` (index in :mod:`qmri_kernels.labels`), ``dice`` (0–1), ``n_auto`` and
        ``n_truth`` (voxels on the T2-weighted grid).

    Raises
    ------
    TruthUnavailable
        If the cohort has no ground truth.
    qmri_kernels.masks.GridMismatchError
        If the true labels do not lie on the ingested T2-weighted grid.
    """
    entry = manifest.subject(subject)
    labels, affine = pipeline.segmentation(manifest, entry.id).maps["labels_auto"]
    truth = load_truth(manifest, entry.id, "t2w")
    check_same_grid(labels.shape, affine, truth["labels"].shape, truth["affine"],
                    name_a=f"labels_auto of {entry.bids_id}",
                    name_b=f"the true T2-weighted labels of {entry.bids_id}")
    rows = []
    for side in SIDES:
        for muscle in MUSCLES:
            idx = label_index(muscle, side)
            auto, true = labels == idx, truth["labels"] == idx
            rows.append({"subject": entry.id, "muscle": muscle, "side": side, "label": idx,
                         "dice": dice(auto, true), "n_auto": int(auto.sum()),
                         "n_truth": int(true.sum())})
    return pd.DataFrame(rows)


def _covered(manifest: Any, subject: str, shape: tuple[int, ...],
             affine: np.ndarray) -> np.ndarray:
    """Voxels of a target grid whose centre lies within the T2-weighted stack's extent."""
    pipeline.ensure_ingested(manifest, subject)
    t2w = load_series(manifest.rawdata, subject, "t2w").grid
    target = Grid(tuple(shape[:3]), affine, float(np.linalg.norm(affine[:3, 2])))
    empty = np.zeros(t2w.shape, dtype=np.int16)
    return transfer_labels(empty, t2w, target, method="nearest").covered


def biopsy_truth(manifest: Any, subject: str) -> dict[str, Any]:
    """True mean FF and water T2 of the biopsied muscle (see "true value" above).

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        A cohort with ground truth; gives the biopsy site.
    subject : str
        ``"13"`` or ``"sub-13"``.

    Returns
    -------
    dict
        ``subject``, ``muscle``, ``side``, ``ff_true_percent`` (true PDFF × 100 over the
        true muscle on the MEGRE grid), ``water_t2_true_ms`` (MESE grid), and the voxel
        counts ``megre_true_n_voxels``, ``mese_true_n_voxels``.

    Raises
    ------
    TruthUnavailable
        If the cohort has no ground truth.
    """
    entry = manifest.subject(subject)
    idx = label_index(entry.biopsy_muscle, entry.biopsy_side)
    out: dict[str, Any] = {"subject": entry.id, "muscle": entry.biopsy_muscle,
                           "side": entry.biopsy_side}
    for role, key, _, stem, unit, _, factor in _MEASURES:
        t = load_truth(manifest, entry.id, role)
        mask = (t["labels"] == idx) & _covered(manifest, entry.id, t["labels"].shape,
                                               t["affine"])
        values = t[key][mask]
        values = values[np.isfinite(values)]
        out[f"{stem}_true_{unit}"] = float(values.mean() * factor) if values.size else np.nan
        out[f"{role}_true_n_voxels"] = int(values.size)
    return out


def biopsy_transfer_error(manifest: Any, subject: str, *,
                          erode_mm: float = ROI_ERODE_MM) -> dict[str, Any]:
    """Error of segmentation and mask transfer alone, measured on the **true** maps.

    The pipeline's transferred network labels (:func:`qmri_kernels.pipeline.
    transferred_labels`) are eroded in-plane by ``erode_mm`` as
    :func:`qmri_kernels.pipeline.roi_table` does (:func:`qmri_kernels.masks.erode_labels`),
    and the biopsied muscle's mean is taken over the true PDFF and water-T2 maps; the fits
    play no part.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        A cohort with ground truth.
    subject : str
        ``"13"`` or ``"sub-13"``.
    erode_mm : float
        In-plane erosion radius (mm) of the transferred labels; 0 measures them as they
        are. Default: the pipeline's :data:`~qmri_kernels.pipeline.stages.ROI_ERODE_MM`.

    Returns
    -------
    dict
        The keys of :func:`biopsy_truth`, plus ``erode_mm``, ``ff_measured_percent``,
        ``ff_error_pp`` (percentage points), ``water_t2_measured_ms``,
        ``water_t2_error_ms``, ``megre_n_voxels`` and ``mese_n_voxels`` (voxels measured).

    Raises
    ------
    TruthUnavailable
        If the cohort has no ground truth.
    qmri_kernels.masks.GridMismatchError
        If the pipeline's labels do not lie on the truth's grid.
    """
    entry = manifest.subject(subject)
    out = biopsy_truth(manifest, entry.id)
    out["erode_mm"] = float(erode_mm)
    moved = pipeline.transferred_labels(manifest, entry.id)
    for role, key, _, stem, unit, err_unit, _ in _MEASURES:
        labels, affine = moved.maps[f"labels_auto_{role}"]
        if erode_mm > 0:
            labels = erode_labels(labels, erode_mm, tuple(np.linalg.norm(affine[:3, :2],
                                                                         axis=0)))
        t = load_truth(manifest, entry.id, role)
        stats = roi_statistics((labels, affine), {key: (t[key], t["affine"])}, subject=entry,
                               reader="auto", muscles=[entry.biopsy_muscle])
        row = stats[stats.biopsied].iloc[0]
        _record(out, role, stem, unit, err_unit, float(row["mean"]), int(row["n_voxels"]))
    return out


def _record(out: dict, role: str, stem: str, unit: str, err_unit: str, measured: float,
            n_voxels: int) -> None:
    """Add the measured value, its error against ``out``'s true value and the voxel count."""
    out[f"{stem}_measured_{unit}"] = measured
    out[f"{stem}_error_{err_unit}"] = measured - out[f"{stem}_true_{unit}"]
    out[f"{role}_n_voxels"] = n_voxels


def biopsy_end_to_end(manifest: Any, roi: pd.DataFrame | None = None) -> pd.DataFrame:
    """End-to-end error of the biopsied muscle's FF and water T2, per subject.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        A cohort with ground truth.
    roi : pandas.DataFrame, optional
        The pipeline's ROI table (columns :data:`qmri_kernels.masks.ROI_COLUMNS`); default
        :func:`qmri_kernels.pipeline.roi_table` of the manifest (computed if needed). Its
        ``auto`` reader's biopsied rows of ``ff_percent`` and ``water_t2_ms`` are the
        measured values.

    Returns
    -------
    pandas.DataFrame
        One row per subject of ``roi`` (manifest order): the columns of
        :func:`biopsy_truth`, ``ff_measured_percent``, ``ff_error_pp``,
        ``water_t2_measured_ms``, ``water_t2_error_ms``, ``megre_n_voxels``,
        ``mese_n_voxels``.

    Raises
    ------
    TruthUnavailable
        If the cohort has no ground truth.
    ValueError
        If ``roi`` lacks the ``auto`` reader's biopsied value of a subject.
    """
    roi = pipeline.roi_table(manifest) if roi is None else roi
    sel = roi[(roi["reader"] == "auto") & roi["biopsied"].astype(bool)]
    present = set(sel["subject"].astype(str))
    rows = []
    for entry in manifest.subjects:
        if entry.id not in present:
            continue
        out = biopsy_truth(manifest, entry.id)
        for role, _, table_map, stem, unit, err_unit, _ in _MEASURES:
            row = sel[(sel["subject"].astype(str) == entry.id) & (sel["map"] == table_map)]
            if len(row) != 1:
                raise ValueError(f"roi: expected one biopsied {table_map} row of reader auto "
                                 f"for {entry.bids_id}, found {len(row)}")
            _record(out, role, stem, unit, err_unit, float(row["mean"].iloc[0]),
                    int(row["n_voxels"].iloc[0]))
        rows.append(out)
    return pd.DataFrame(rows)


def summarise_errors(table: pd.DataFrame) -> pd.DataFrame:
    """The biopsied-muscle errors in terms of the study: against the spread of patients.

    A correlation with histology depends on how patients rank, so what matters is the
    scatter of the errors against the spread of the true values between patients. If the
    errors are independent of the true values, a correlation coefficient is attenuated by
    the factor 1 / sqrt(1 + (SD_error / SD_patients)²) (Spearman 1904, Am J Psychol 15:72);
    a constant bias does not change it.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`biopsy_end_to_end` or rows of :func:`biopsy_transfer_error`.

    Returns
    -------
    pandas.DataFrame
        Rows ``FF (pp)`` and ``water T2 (ms)``; columns ``patients_sd`` (SD of the true
        values between subjects), ``mean_error``, ``error_sd``, ``max_abs_error``,
        ``error_sd_over_patients_sd``, ``attenuation`` (the factor above) and ``spearman``
        (rank correlation of measured with true values).
    """
    rows = {}
    for (*_, stem, unit, err_unit, _), name in zip(_MEASURES, ("FF (pp)", "water T2 (ms)")):
        err = table[f"{stem}_error_{err_unit}"].astype(float)
        true = table[f"{stem}_true_{unit}"].astype(float)
        measured = table[f"{stem}_measured_{unit}"].astype(float)
        spread, scatter = float(true.std(ddof=1)), float(err.std(ddof=1))
        ratio = scatter / spread if spread > 0 else np.nan
        rows[name] = {"patients_sd": spread, "mean_error": float(err.mean()),
                      "error_sd": scatter, "max_abs_error": float(err.abs().max()),
                      "error_sd_over_patients_sd": ratio,
                      "attenuation": float(1.0 / np.sqrt(1.0 + ratio ** 2)),
                      "spearman": float(true.corr(measured, method="spearman"))}
    return pd.DataFrame(rows).T
