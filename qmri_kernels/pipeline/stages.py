"""The per-subject stages: each computes its maps once and caches them as BIDS derivatives.

Every stage takes ``(manifest, subject, *, force=False)``. If all its outputs exist in the
manifest's derivative root (NIfTI + sidecar, :func:`qmri_kernels.derivatives.map_exists`)
and ``force`` is false, it reads them back; otherwise it computes them — calling the stages
it needs first, which are themselves cached — and writes them all-or-nothing
(:func:`qmri_kernels.derivatives.write_maps`). Either way it returns a :class:`StageResult`
whose maps are exactly what is on disk.

A stage recomputes when its outputs are missing, ``force`` is set, its settings changed
(label transfer) or the library's code changed since they were written (the sidecar's
``StageSettings`` record :func:`qmri_kernels.provenance.code_digest`); it does not watch
its input files. After forcing an upstream stage, force the downstream ones too — the
command line's ``--force`` forces every stage it runs, in order.

The stages hold no algorithm: fat-water separation is
:class:`qmri_kernels.fatwater.FatWaterModel`, water T2 is
:func:`qmri_kernels.t2.water_t2_subject` (Dixon PDFF and field map resampled onto the
spin-echo grid in world coordinates, converted to the fat share the fat-saturated echo
train leaves, EPG and mono-exponential fits), segmentation is
:class:`qmri_kernels.segment.Segmenter`, label transfer is
:func:`qmri_kernels.masks.transfer_labels` and the ROI table is
:func:`qmri_kernels.masks.roi_statistics`. The fits run inside a body mask
(:func:`qmri_kernels.pipeline.body.body_mask`).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd

from .. import derivatives as D
from ..dicom import DicomError, bids_path, ingest, load_series
from ..dicom.bids import parse_name
from ..phantom.grid import Grid
from ..phantom.labels import muscle_labels
from ..provenance import code_digest
from .body import body_mask

__all__ = ["StageResult", "ensure_ingested", "fat_water_maps", "segmentation",
           "transferred_labels", "t2_maps", "roi_table", "roi_table_path", "ROI_TABLE_NAME",
           "FAT_WATER_MAPS", "T2_MAPS"]

#: File name of the cohort's ROI table in the derivative root.
ROI_TABLE_NAME = "roi_statistics.csv"
#: Maps written by :func:`fat_water_maps` (MEGRE grid).
FAT_WATER_MAPS: tuple[str, ...] = ("pdff", "water", "fat", "r2star", "fieldmap",
                                   "dixon_residual")
#: Maps written by :func:`t2_maps` (MESE grid).
T2_MAPS: tuple[str, ...] = ("water_t2", "epg_fat_fraction", "b1", "epg_residual", "t2",
                            "monoexp_residual")
_MUSCLES = np.array(sorted(lab.index for lab in muscle_labels()))
_MASK_NOTE = "body mask: qmri_kernels.pipeline.body.body_mask of the echoes"


@dataclass(frozen=True)
class StageResult:
    """What a stage produced for one subject.

    Attributes
    ----------
    stage : str
        Function name of the stage.
    subject : str
        Subject label, e.g. ``"01"``.
    maps : dict of str to (ndarray, ndarray)
        ``name -> (data, affine)`` as stored: float32 maps in SI units (NaN outside the
        fit), int16 labels; affine (4, 4) voxel centre → RAS mm. The pairs go straight into
        :func:`qmri_kernels.masks.roi_statistics`.
    paths : dict of str to Path
        NIfTI file of each map (its JSON sidecar beside it).
    computed : bool
        True if this call computed the maps, False if it read them from disk.
    seconds : float
        Wall time of the call.
    sidecars : dict of str to dict
        JSON sidecar of each map.
    """

    stage: str
    subject: str
    maps: dict[str, tuple[np.ndarray, np.ndarray]]
    paths: dict[str, Path]
    computed: bool
    seconds: float
    sidecars: dict[str, dict] = field(default_factory=dict, repr=False)

    def __getitem__(self, name: str) -> np.ndarray:
        """The data of map ``name``."""
        return self.maps[name][0]

    def affine(self, name: str) -> np.ndarray:
        """The affine of map ``name``."""
        return self.maps[name][1]


# ----------------------------------------------------------------------------- helpers

def _cached(stage: str, manifest, subject: str, names: Iterable[str], force: bool,
            compute: Callable[[Any], Mapping[str, tuple]],
            settings: Mapping[str, Any] | None = None) -> StageResult:
    """Read ``names`` if present (and made with ``settings``), else compute and write them."""
    start = time.perf_counter()
    entry = manifest.subject(subject)
    root = manifest.derivatives
    names = tuple(names)
    # what made the maps: the settings and the library's code (a changed kernel or network
    # makes every cached map stale)
    wanted = json.loads(json.dumps({**(settings or {}), "CodeDigest": code_digest()}))
    computed = force or not all(D.map_exists(root, entry.id, n) for n in names)
    if not computed:
        computed = any(D.read_sidecar(root, entry.id, n).get("StageSettings") != wanted
                       for n in names)
    if computed:
        items = dict(compute(entry))
        if set(items) != set(names):
            raise RuntimeError(f"stage {stage} produced {sorted(items)}, expected "
                               f"{sorted(names)}")
        items = {n: (d, a, {**s, "StageSettings": wanted}) for n, (d, a, s) in items.items()}
        D.write_maps(root, entry.id, items)
    maps, paths, sidecars = {}, {}, {}
    for n in names:
        data, affine, sidecar = D.read_map(root, entry.id, n)
        maps[n] = (data, affine)
        paths[n] = D.map_path(root, entry.id, n)
        sidecars[n] = sidecar
    return StageResult(stage, entry.id, maps, paths, computed, time.perf_counter() - start,
                       sidecars)


def _uris(root: Path, paths: Iterable[Path]) -> list[str]:
    return [D.bids_uri(root, p) for p in paths]


def _series_grid(root: Path, subject: str, role: str) -> tuple[Grid, Path]:
    """Grid of an ingested series from its first image's header and sidecar."""
    kw = {"megre": dict(echo=1, part="mag"), "mese": dict(echo=1), "t2w": {}}[role]
    path = bids_path(root, subject, role, **kw)
    if role == "megre" and not path.is_file():
        path = bids_path(root, subject, role, echo=1, part="real")
    if not path.is_file():
        raise DicomError(f"{path}: no ingested {role} image for sub-{subject}")
    img = nib.load(path)
    side = json.loads(path.with_name(path.name[: -len(".nii.gz")] + ".json").read_text())
    thickness = float(side.get("SliceThickness", np.nan))
    if not np.isfinite(thickness) or thickness <= 0:
        raise DicomError(f"{path}: sidecar gives no SliceThickness; label transfer needs the "
                         "slab thickness")
    return Grid(tuple(int(s) for s in img.shape[:3]), np.asarray(img.affine, float),
                thickness), path


def _field_strength(series, role: str) -> float:
    b0 = float(series.sidecars[0].get("MagneticFieldStrength", np.nan)) \
        if series.sidecars else np.nan
    if not np.isfinite(b0) or b0 <= 0:
        raise DicomError(f"{series.paths[0]}: the sidecar gives no MagneticFieldStrength; the "
                         f"{role} fit needs the field strength (T)")
    return b0


# ------------------------------------------------------------------------------ stages

def ensure_ingested(manifest, subject: str, *, force: bool = False) -> StageResult:
    """Ingest the subject's DICOM into the derivative root unless already done.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
    subject : str
        ``"01"`` or ``"sub-01"``.
    force : bool
        Re-ingest even if ingested images exist.

    Returns
    -------
    StageResult
        No maps; ``paths`` maps each ingested file name (NIfTI and JSON) to its path.

    Raises
    ------
    KeyError
        If the subject is not in the manifest.
    qmri_kernels.dicom.DicomError
        If the DICOM cannot be ingested (nothing is written then).
    """
    start = time.perf_counter()
    entry = manifest.subject(subject)
    anat = Path(manifest.derivatives) / entry.bids_id / "anat"

    def existing() -> dict[str, Path]:
        if not anat.is_dir():
            return {}
        return {p.name: p for p in sorted(anat.iterdir()) if parse_name(p.name) is not None}

    computed = force or not existing()
    if computed:
        ingest(entry.dicom_root, manifest.derivatives, entry.id)
    return StageResult("ensure_ingested", entry.id, {}, existing(), computed,
                       time.perf_counter() - start)


def fat_water_maps(manifest, subject: str, *, force: bool = False) -> StageResult:
    """Fat-water separation of the multi-echo gradient echo (MEGRE grid).

    Loads the complex echoes (:func:`qmri_kernels.dicom.load_series`, ``part="complex"``),
    fits :class:`qmri_kernels.fatwater.FatWaterModel` (echo times and field strength from
    the sidecars) inside the body mask, and writes :data:`FAT_WATER_MAPS`: ``pdff``,
    ``water``, ``fat``, ``r2star`` (1/s), ``fieldmap`` (Hz), ``dixon_residual``.

    Returns
    -------
    StageResult
    """
    from ..fatwater import FatWaterModel

    def compute(entry):
        ensure_ingested(manifest, entry.id)
        root = manifest.derivatives
        s = load_series(root, entry.id, "megre", part="complex")
        b0 = _field_strength(s, "fat-water")
        model = FatWaterModel(s.echo_times, field_strength=b0)
        mask = body_mask(s.data)
        fit = model.fit(s.data, mask=mask)
        sidecar = {
            "Sources": _uris(root, s.paths),
            "MagneticFieldStrength": b0,
            "EchoTime": [float(t) for t in s.echo_times],
            "FitSettings": {
                "Model": "qmri_kernels.fatwater.FatWaterModel",
                "FatSpectrum": model.fat_spectrum.name,
                "FieldmapMethod": model.fieldmap_method,
                "Reliability": model.reliability,
                "R2starBounds": list(model.r2star_bounds),
                "MaxJumpHz": model.max_jump_hz,
                "MaxIterations": model.max_iter,
                "Mask": _MASK_NOTE, "MaskVoxels": int(mask.sum()),
            },
        }
        values = {"pdff": fit.pdff, "water": fit.water, "fat": fit.fat,
                  "r2star": fit.r2star, "fieldmap": fit.fieldmap,
                  "dixon_residual": fit.residual}
        return {n: (v, s.affine, sidecar) for n, v in values.items()}

    return _cached("fat_water_maps", manifest, subject, FAT_WATER_MAPS, force, compute)


def segmentation(manifest, subject: str, *, force: bool = False, segmenter=None
                 ) -> StageResult:
    """Network labels of the T2-weighted series (``labels_auto``, T2-weighted grid).

    Parameters
    ----------
    manifest, subject, force
        As for every stage.
    segmenter : qmri_kernels.segment.Segmenter, optional
        A loaded network (default: the shipped weights, loaded on each computing call; pass
        one to reuse it over subjects).

    Returns
    -------
    StageResult
        ``labels_auto`` (int16, :mod:`qmri_kernels.phantom.labels` indices).
    """
    def compute(entry):
        from ..segment import load_segmenter     # torch: imported only to compute

        ensure_ingested(manifest, entry.id)
        root = manifest.derivatives
        s = load_series(root, entry.id, "t2w")
        net = load_segmenter() if segmenter is None else segmenter
        labels = net.segment(s.data, s.affine)
        sidecar = {"Sources": _uris(root, s.paths),
                   "Segmentation": {"Method": "qmri_kernels.segment.Segmenter (2-D U-Net), "
                                              "post-processed",
                                    "Weights": Path(net.path).name,
                                    "WeightsSHA256": net.sidecar.get("sha256")}}
        return {"labels_auto": (labels, s.affine, sidecar)}

    return _cached("segmentation", manifest, subject, ("labels_auto",), force, compute)


def transferred_labels(manifest, subject: str, *, force: bool = False, reader: str = "auto",
                       method: str = "shape", erode_mm: float = 0.0) -> StageResult:
    """A reader's labels carried from the T2-weighted grid onto the MEGRE and MESE grids.

    Parameters
    ----------
    manifest, subject, force
        As for every stage.
    reader : str
        ``"auto"``: the network's labels (:func:`segmentation` runs if needed); another
        reader (``"R1"``) needs ``labels_<reader>`` written on the T2-weighted grid first
        (:func:`qmri_kernels.derivatives.write_map`).
    method, erode_mm
        Passed to :func:`qmri_kernels.masks.transfer_labels`; changing them recomputes.

    Returns
    -------
    StageResult
        ``labels_<reader>_megre`` and ``labels_<reader>_mese``; their sidecars list the
        covered and the excluded (not extrapolated) target slices.

    Raises
    ------
    FileNotFoundError
        If a reader other than ``"auto"`` has no labels on disk.
    """
    from ..masks import check_same_grid, transfer_labels

    source_name = D.label_spec(reader).name
    names = (D.label_spec(reader, "megre").name, D.label_spec(reader, "mese").name)

    def compute(entry):
        ensure_ingested(manifest, entry.id)
        root = manifest.derivatives
        if reader == "auto":
            src = segmentation(manifest, entry.id)
            labels, affine = src.maps[source_name]
        else:
            labels, affine, _ = D.read_map(root, entry.id, source_name)
        source_grid, _ = _series_grid(root, entry.id, "t2w")
        check_same_grid(labels.shape, affine, source_grid.shape, source_grid.affine,
                        name_a=f"labels of {reader}", name_b="the T2-weighted series")
        source_uri = D.bids_uri(root, D.map_path(root, entry.id, source_name))
        out = {}
        for name, role in zip(names, ("megre", "mese")):
            target, ref = _series_grid(root, entry.id, role)
            moved = transfer_labels(labels, source_grid, target, method=method,
                                    erode_mm=erode_mm)
            out[name] = (moved.labels, target.affine, {
                "Sources": [source_uri], "SpatialReference": D.bids_uri(root, ref),
                "CoveredSlices": list(moved.covered_slices),
                "ExcludedSlices": list(moved.excluded_slices),
                "Transfer": moved.summary()})
        return out

    return _cached("transferred_labels", manifest, subject, names, force, compute,
                   settings={"reader": reader, "method": method, "erode_mm": float(erode_mm)})


def t2_maps(manifest, subject: str, *, force: bool = False) -> StageResult:
    """Water T2 (EPG) and mono-exponential T2 of the multi-echo spin echo (MESE grid).

    Runs :func:`qmri_kernels.t2.water_t2_subject`: the Dixon PDFF and field map
    (:func:`fat_water_maps`) are resampled onto the MESE grid in world coordinates and
    turned into the fat signal share of the fat-saturated echo train (fixed in the EPG
    fit; voxels without a Dixon value are fitted free), the echoes are denoised and fitted
    inside the body mask with B1 smoothed over the network's muscles on this grid
    (:func:`transferred_labels`), and the mono-exponential fit is made for comparison.
    Writes :data:`T2_MAPS`: ``water_t2`` (s), ``epg_fat_fraction``, ``b1``,
    ``epg_residual``, ``t2`` (s), ``monoexp_residual``.

    Returns
    -------
    StageResult
    """
    from ..t2 import load_mese, water_t2_subject

    def compute(entry):
        ensure_ingested(manifest, entry.id)
        root = manifest.derivatives
        fw = fat_water_maps(manifest, entry.id)
        labels = transferred_labels(manifest, entry.id)
        mese = load_mese(manifest, entry.id)
        lab, lab_affine = labels.maps["labels_auto_mese"]
        if lab.shape != mese.magnitude.shape[:3] or not np.allclose(lab_affine, mese.affine,
                                                                    atol=1e-3):
            raise RuntimeError(f"sub-{entry.id}: labels_auto_mese is not on the MESE grid; "
                               "re-run transferred_labels with force=True")
        body = body_mask(mese.magnitude)
        muscle = np.isin(lab, _MUSCLES) & body
        pdff, megre_affine = fw.maps["pdff"]
        result = water_t2_subject(mese, pdff, fw["fieldmap"], megre_affine, muscle, body)
        epg, mono = result.maps.epg, result.maps.monoexp
        n_echoes = mese.echo_times.size
        sources = [bids_path(root, entry.id, "mese", echo=k) for k in range(1, n_echoes + 1)]
        sources += [fw.paths["pdff"], fw.paths["fieldmap"], labels.paths["labels_auto_mese"]]
        model = epg.model
        sidecar = {
            "Sources": _uris(root, sources),
            "EchoTime": [float(t) for t in mese.echo_times],
            "RepetitionTime": float(mese.repetition_time),
            "FitSettings": {
                "Function": "qmri_kernels.t2.water_t2_subject",
                "EPGModel": repr(model),
                "FatT2": model.fat_t2, "WaterT1": model.water_t1, "FatT1": model.fat_t1,
                "WaterT2Range": list(model.t2_range), "B1Range": list(model.b1_range),
                "SliceProfile": model.slice_profile,
                "FatShare": "fixed from the Dixon PDFF and field map resampled onto this "
                            "grid (qmri_kernels.t2.residual_fat_share)",
                "B1": "smoothed over the network's muscles on this grid, then fixed",
                "Denoising": "MP-PCA", "NoiseSigma": float(result.maps.noise_sigma),
                "MonoExpSkipEchoes": int(mono.model.skip_echoes),
                "Mask": _MASK_NOTE, "MaskVoxels": int(body.sum()),
                "MuscleVoxels": int(muscle.sum()),
            },
        }
        values = {"water_t2": epg.water_t2, "epg_fat_fraction": epg.fat_fraction,
                  "b1": epg.b1, "epg_residual": epg.residual, "t2": mono.t2,
                  "monoexp_residual": mono.residual}
        return {n: (v, mese.affine, sidecar) for n, v in values.items()}

    return _cached("t2_maps", manifest, subject, T2_MAPS, force, compute)


# ------------------------------------------------------------------------- ROI table

def roi_table_path(manifest) -> Path:
    """Where :func:`roi_table` writes: ``<derivatives>/roi_statistics.csv``."""
    return Path(manifest.derivatives) / ROI_TABLE_NAME


def roi_table(manifest, *, subjects: Iterable[str] | None = None,
              readers: Iterable[str] = ("auto",), erode_mm: float = 0.0,
              force: bool = False) -> pd.DataFrame:
    """ROI statistics of every map inside every muscle, for the cohort, as a tidy table.

    For each subject and reader, the reader's labels on the MEGRE grid measure ``pdff``,
    ``r2star`` and ``fieldmap``, those on the MESE grid ``water_t2``, ``t2``,
    ``epg_fat_fraction`` and ``b1`` (:func:`qmri_kernels.masks.roi_statistics`: one row
    per subject × reader × muscle × side × map, unit in the ``map`` name, the biopsied
    muscle and its contralateral twin flagged from the manifest). Missing maps are computed
    by their stages. The table is written to :func:`roi_table_path` (atomically) with a JSON
    sidecar of its settings, and reused while the settings are the same and no input map
    is newer than it.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
    subjects : iterable of str, optional
        Default: all subjects of the manifest.
    readers : iterable of str
        Label sources: ``"auto"`` (the network) and/or readers whose labels are on disk.
    erode_mm : float
        In-plane erosion of the transferred labels (:func:`transferred_labels`), mm. With
        the cohort's 1.64 mm pixels, 3.2 mm takes two border pixels off each muscle.
    force : bool
        Recompute the table (not the maps; force those stages yourself).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`qmri_kernels.masks.ROI_COLUMNS`; ``subject`` as a string ("01").
    """
    from ..masks import ROI_COLUMNS, roi_statistics, write_roi_table

    entries = [manifest.subject(s) for s in (subjects if subjects is not None
                                             else [s.id for s in manifest.subjects])]
    readers = tuple(readers)
    root = Path(manifest.derivatives)
    path = roi_table_path(manifest)
    side_path = path.with_suffix(".json")
    settings = {"Subjects": [e.id for e in entries], "Readers": list(readers),
                "LabelTransfer": {"method": "shape", "erode_mm": float(erode_mm)}}
    read = dict(dtype={"subject": str, "reader": str})
    if not force and path.is_file() and side_path.is_file():
        names = {(e.id, n) for e in entries for n in FAT_WATER_MAPS + T2_MAPS} | {
            (e.id, D.label_spec(r, g).name) for e in entries for r in readers
            for g in ("megre", "mese")}
        same = json.loads(side_path.read_text(encoding="utf-8")).get("Settings") == settings
        if same and all(D.map_exists(root, sid, n) for sid, n in names):
            newest = max(D.map_path(root, sid, n).stat().st_mtime_ns for sid, n in names)
            if path.stat().st_mtime_ns >= newest:
                table = pd.read_csv(path, **read)
                if list(table.columns) == list(ROI_COLUMNS):
                    return table
    frames = []
    for entry in entries:
        fw = fat_water_maps(manifest, entry.id)
        t2 = t2_maps(manifest, entry.id)
        for reader in readers:
            lab = transferred_labels(manifest, entry.id, reader=reader, erode_mm=erode_mm)
            frames.append(roi_statistics(
                lab.maps[f"labels_{reader}_megre"],
                {k: fw.maps[k] for k in ("pdff", "r2star", "fieldmap")},
                subject=entry, reader=reader))
            frames.append(roi_statistics(
                lab.maps[f"labels_{reader}_mese"],
                {k: t2.maps[k] for k in ("water_t2", "t2", "epg_fat_fraction", "b1")},
                subject=entry, reader=reader))
    table = pd.concat(frames, ignore_index=True)
    sidecar = {"Description": "ROI statistics of the quantitative maps inside each muscle "
                              "(qmri_kernels.pipeline.roi_table); one row per subject x "
                              "reader x muscle x side x map, the unit in the map name.",
               "GeneratedBy": [dict(D.GENERATED_BY)], "Settings": settings}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write_roi_table(table, tmp)
        side_path.unlink(missing_ok=True)       # no sidecar: never a stale cache hit
        os.replace(tmp, path)
        D.write_text_atomic(side_path, json.dumps(sidecar, indent=2) + "\n")
    finally:
        Path(tmp).unlink(missing_ok=True)
    return pd.read_csv(path, **read)
