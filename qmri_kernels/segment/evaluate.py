"""Segment cohort subjects and measure the result against the synthetic cohort's truth.

Used by the chapter "Segmentation and measurement" and by ``benchmarks/segment.py``:
:func:`segment_subject` reads a subject's ingested T2-weighted series (ingesting the DICOM
first if needed) and segments it; :func:`dice_table` compares with the truth labels;
:func:`biopsy_end_to_end` carries the labels onto the PDFF and T2 grids and compares the
biopsied muscle's mean FF and water T2 with the truth.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd

from .. import derivatives
from ..dicom import load_subject_series
from ..masks import roi_statistics, transfer_labels
from ..phantom.grid import Grid
from ..phantom.labels import MUSCLES, SIDES, label_index
from ..phantom.protocol import PROTOCOL
from ..phantom.truth import truth_path
from .inference import Segmenter
from .metrics import dice

__all__ = ["SubjectSegmentation", "load_t2w", "segment_subject", "dice_table",
           "truth_grid", "fitted_maps", "biopsy_end_to_end"]


@dataclass(frozen=True)
class SubjectSegmentation:
    """One subject's T2-weighted series, the network's labels and the truth labels.

    Attributes
    ----------
    subject : str
    image : (nx, ny, nz) ndarray of float32
    grid : Grid
        The T2-weighted grid (with its slice thickness).
    labels : (nx, ny, nz) ndarray of int16
        Network output, post-processed.
    truth : (nx, ny, nz) ndarray of int16 or None
        Truth labels on the same grid (synthetic cohort).
    seconds : float
        Inference time (network + post-processing).
    """

    subject: str
    image: np.ndarray
    grid: Grid
    labels: np.ndarray
    truth: np.ndarray | None
    seconds: float


def load_t2w(manifest: Any, subject: str):
    """The subject's ingested T2-weighted series (:class:`~qmri_kernels.dicom.LoadedSeries`).

    Reads ``<derivatives>/sub-XX/anat/sub-XX_T2w.nii.gz``; if the subject has not been
    ingested yet, ingests its DICOM (:func:`qmri_kernels.dicom.ingest`) first.
    """
    return load_subject_series(manifest, subject, "t2w")


def segment_subject(manifest: Any, subject: str, segmenter: Segmenter,
                    threads: int | None = None) -> SubjectSegmentation:
    """Segment one subject's T2-weighted series; attach the truth labels if the cohort has
    them (the truth must be on the same grid, which is checked)."""
    series = load_t2w(manifest, subject)
    start = time.perf_counter()
    labels = segmenter.segment(series.data, series.affine, threads=threads)
    seconds = time.perf_counter() - start
    truth = None
    if getattr(manifest, "truth", None) is not None:
        t = _truth_maps(manifest, subject, "t2w", ("labels",))
        if t["labels"].shape != labels.shape or not np.allclose(t["affine"], series.affine,
                                                                  atol=1e-2):
            raise ValueError(f"sub-{subject}: truth labels {t['labels'].shape} do not lie on "
                             f"the ingested T2-weighted grid {labels.shape}")
        truth = t["labels"]
    return SubjectSegmentation(manifest.subject(subject).id, series.data, series.grid,
                               labels, truth, seconds)


def dice_table(seg: SubjectSegmentation) -> pd.DataFrame:
    """Dice of every muscle and side: columns subject, muscle, side, label, dice,
    n_network, n_truth (voxels)."""
    if seg.truth is None:
        raise ValueError(f"sub-{seg.subject} has no truth labels to compare with")
    rows = []
    for side in SIDES:
        for m in MUSCLES:
            idx = label_index(m, side)
            a, b = seg.labels == idx, seg.truth == idx
            rows.append({"subject": seg.subject, "muscle": m, "side": side, "label": idx,
                         "dice": dice(a, b), "n_network": int(a.sum()),
                         "n_truth": int(b.sum())})
    return pd.DataFrame(rows)


def _truth_maps(manifest: Any, subject: str, role: str, keys) -> dict[str, np.ndarray]:
    """Only the requested truth maps (``"labels"`` first), with the labels' affine."""
    out: dict[str, np.ndarray] = {}
    for key in keys:
        path = truth_path(manifest.truth, subject, role, key)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no truth {key}; generate the cohort with "
                                    "`python -m qmri_kernels.phantom.cohort`")
        img = nib.load(path)
        out[key] = np.asarray(img.dataobj, dtype=np.int16 if key == "labels" else np.float32)
        out.setdefault("affine", img.affine.copy())
    return out


def truth_grid(manifest: Any, subject: str, role: str) -> Grid:
    """Grid of a series from its truth labels (affine) and the protocol (slice thickness)."""
    t = _truth_maps(manifest, subject, role, ("labels",))
    return Grid(t["labels"].shape, t["affine"], PROTOCOL[role].slice_thickness)


def fitted_maps(manifest: Any, subject: str) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """The fitted PDFF (MEGRE grid) and EPG water T2 (MESE grid) maps of a subject from the
    derivatives (:mod:`qmri_kernels.derivatives`), or ``None`` if either is not there yet."""
    root = manifest.derivatives
    sid = manifest.subject(subject).id
    if not all(derivatives.map_exists(root, sid, name) for name in ("pdff", "water_t2")):
        return None
    out = {}
    for name in ("pdff", "water_t2"):
        data, affine, _ = derivatives.read_map(root, sid, name)
        out[name] = (data, affine)
    return out


def biopsy_end_to_end(manifest: Any, seg: SubjectSegmentation, *,
                      maps: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
                      erode_mm: float = 0.0) -> dict:
    """Biopsied-muscle FF and water T2 measured through the network mask vs the truth.

    The network labels are carried from the T2-weighted grid onto the MEGRE (PDFF) and MESE
    (water T2) grids (:func:`~qmri_kernels.masks.transfer_labels`), and the biopsied muscle's
    mean is taken over the maps. The reference is the true mean of that muscle (truth labels,
    truth map) over the same target slices the T2-weighted stack covers.

    Parameters
    ----------
    manifest : Manifest
        Gives the biopsy site and the truth.
    seg : SubjectSegmentation
    maps : dict, optional
        ``{"pdff": (array, affine), "water_t2": (array, affine)}`` — fitted maps on the MEGRE
        and MESE grids. Default: the truth maps, which isolates the error of segmentation and
        transfer from that of the fits.
    erode_mm : float
        In-plane erosion of the transferred labels.

    Returns
    -------
    dict
        subject, muscle, side, ff_true_percent, ff_measured_percent, ff_error_pp,
        water_t2_true_ms, water_t2_measured_ms, water_t2_error_ms, and per target the
        excluded slices.
    """
    entry = manifest.subject(seg.subject)
    idx = label_index(entry.biopsy_muscle, entry.biopsy_side)
    out: dict[str, Any] = {"subject": entry.id, "muscle": entry.biopsy_muscle,
                           "side": entry.biopsy_side}
    for role, key, name in (("megre", "pdff", "ff"), ("mese", "water_t2", "water_t2")):
        truth = _truth_maps(manifest, seg.subject, role, ("labels", key))
        target = Grid(truth["labels"].shape, truth["affine"], PROTOCOL[role].slice_thickness)
        moved = transfer_labels(seg.labels, seg.grid, target, erode_mm=erode_mm)
        values = (truth[key], truth["affine"]) if maps is None else maps[key]
        stats = roi_statistics((moved.labels, target.affine), {key: values},
                               subject=entry, reader="network", muscles=[entry.biopsy_muscle])
        measured = stats.query("biopsied").iloc[0]
        true_mask = (truth["labels"] == idx) & moved.covered
        scale = 100.0 if key == "pdff" else 1000.0
        true_mean = float(truth[key][true_mask].mean() * scale)
        unit = "percent" if key == "pdff" else "ms"
        out[f"{name}_true_{unit}"] = true_mean
        out[f"{name}_measured_{unit}"] = float(measured["mean"])
        out[f"{name}_error_{'pp' if key == 'pdff' else 'ms'}"] = float(measured["mean"]) - true_mean
        out[f"{role}_n_voxels"] = int(measured["n_voxels"])
        out[f"{role}_excluded_slices"] = list(moved.excluded_slices)
    return out
