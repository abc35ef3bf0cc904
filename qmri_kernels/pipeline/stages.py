"""The per-subject stages: each computes its maps once and caches them as BIDS derivatives.

Every stage takes ``(manifest, subject, *, force=False)``. If all its outputs exist in the
manifest's derivative root (NIfTI + sidecar, :func:`qmri_kernels.derivatives.map_exists`)
and ``force`` is false, it reads them back; otherwise it computes them — calling the stages
it needs first, which are themselves cached — and writes them all-or-nothing
(:func:`qmri_kernels.derivatives.write_maps`). Either way it returns a :class:`StageResult`
whose maps are exactly what is on disk.

A stage recomputes when its outputs are missing, ``force`` is set, its settings changed
(the manifest's ``acquisition``, label transfer), the code the stages run changed
(:func:`qmri_kernels.provenance.code_digest` of this module's import closure: a changed
statistic or figure leaves the maps cached), or **any file it read changed**: each
sidecar records the SHA-256 of every input (``InputDigests``: the DICOM files for ingest,
the ingested images and upstream maps for the fits, a reader's labels for the transfer),
and a stage first brings its upstream stages up to date, then compares. So a re-exported
DICOM series, a reader's corrected mask or a new manifest override recomputes that stage
and everything downstream of it, while an unchanged input leaves the cache alone (an
upstream stage that recomputes to identical files does not invalidate what follows).

A stage's outputs are one set: their sidecars share a ``StageRun`` id, written last. If a
stage is killed while moving its files into place, the set on disk has mixed ids and
counts as absent — the next call recomputes it; no reader of the derivatives goes through
anything but :func:`_cached`, so a half-replaced set is never used.

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

import dataclasses
import hashlib
import json
import time
import uuid
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
from ..grids import Grid
from ..labels import label_index, muscle_labels
from ..provenance import code_digest, import_closure
from .body import body_mask

__all__ = ["StageResult", "ensure_ingested", "fat_water_maps", "segmentation",
           "transferred_labels", "reader_labels", "t2_maps", "roi_table", "roi_table_path",
           "saved_readers", "ROI_TABLE_NAME", "ROI_ERODE_MM", "FAT_WATER_MAPS", "T2_MAPS",
           "StageInputError", "file_digest", "SCANNER_FAT_WATER_MAPS"]

#: File name of the cohort's ROI table in the derivative root.
ROI_TABLE_NAME = "roi_statistics.csv"
#: Maps written by :func:`fat_water_maps` (MEGRE grid).
FAT_WATER_MAPS: tuple[str, ...] = ("pdff", "water", "fat", "r2star", "fieldmap",
                                   "dixon_residual")
#: Scanner-computed maps :func:`fat_water_maps` uses when no complex echoes were exported
#: (library name in the result → derivative written at ingest).
SCANNER_FAT_WATER_MAPS: dict[str, str] = {"pdff": "scanner_pdff", "water": "scanner_water",
                                          "fat": "scanner_fat", "r2star": "scanner_r2star"}
#: Maps written by :func:`t2_maps` (MESE grid).
T2_MAPS: tuple[str, ...] = ("water_t2", "epg_fat_fraction", "b1", "epg_residual", "t2",
                            "monoexp_residual")
_MUSCLES = np.array(sorted(lab.index for lab in muscle_labels()))
#: In-plane erosion (mm) of the transferred labels before the ROI statistics: one pixel of
#: the cohort's 1.64 mm images, which keeps the fascia and partial-volume voxels at muscle
#: borders out of the biopsied muscle's mean (validated end to end in the chapter
#: "Segmentation and measurement": within 0.4 pp FF and 1.4 ms water T2 of the truth).
ROI_ERODE_MM: float = 1.7
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
    note : str
        A sentence for the reader when the stage did something other than its usual
        work (``""`` otherwise), e.g. that the fat fraction is the scanner's own map
        because no echoes were exported.
    """

    stage: str
    subject: str
    maps: dict[str, tuple[np.ndarray, np.ndarray]]
    paths: dict[str, Path]
    computed: bool
    seconds: float
    sidecars: dict[str, dict] = field(default_factory=dict, repr=False)
    note: str = ""

    def __getitem__(self, name: str) -> np.ndarray:
        """The data of map ``name``."""
        return self.maps[name][0]

    def affine(self, name: str) -> np.ndarray:
        """The affine of map ``name``.

        Parameters
        ----------
        name : str
            A key of :attr:`maps` (``"pdff"``, ``"labels_auto_mese"`` ...).

        Returns
        -------
        (4, 4) ndarray of float64
            Voxel centre → RAS mm of the grid the map is on (the same array object the
            result holds; copy before changing it).

        Raises
        ------
        KeyError
            If this stage did not produce ``name``.
        """
        return self.maps[name][1]


# ----------------------------------------------------------------------------- helpers

class StageInputError(ValueError):
    """A manifest entry the stage cannot use (an override naming no series, a reader's mask
    on no series' grid); the message names the manifest, the entry and the problem."""


_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """SHA-256 (hex) of a file's content, memoised per (path, size, mtime) in this process.

    Parameters
    ----------
    path : Path
        A regular file; read in 1 MiB blocks.

    Returns
    -------
    str
        64 hex digits.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    """
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def _input_key(manifest, path: Path) -> str:
    """How an input is named in a sidecar: a BIDS URI inside the derivatives, else its path
    relative to the data root (never an absolute path of this machine)."""
    path = Path(path)
    root = Path(manifest.derivatives)
    if path.is_relative_to(root):
        return D.bids_uri(root, path)
    base = Path(manifest.root)
    return path.relative_to(base).as_posix() if path.is_relative_to(base) else path.name


def _input_digests(manifest, paths: Iterable[Path]) -> dict[str, str]:
    return {_input_key(manifest, p): file_digest(Path(p)) for p in sorted(set(paths))}


def _up_to_date(root: Path, subject: str, names: tuple[str, ...], wanted: dict,
                digests: dict) -> bool:
    if not all(D.map_exists(root, subject, n) for n in names):
        return False
    runs = set()
    for n in names:
        side = D.read_sidecar(root, subject, n)
        if side.get("StageSettings") != wanted or side.get("InputDigests") != digests:
            return False
        runs.add(side.get("StageRun"))
        runs.add(D.read_run_id(root, subject, n))       # the image, too: same run
    return len(runs) == 1 and None not in runs


def _code_digest() -> str:
    """Digest of the library code the pipeline's stages can run: the files this module
    imports, followed transitively (:func:`qmri_kernels.provenance.import_closure`: the
    kernels, the network and its weights, DICOM, masks; not the statistics, figures or
    readers' widgets, whose changes leave the cached maps valid)."""
    return code_digest(import_closure(("pipeline/stages.py",)))


def _cached(stage: str, manifest, subject: str, names: Iterable[str], force: bool,
            compute: Callable[[Any], Mapping[str, tuple]],
            settings: Mapping[str, Any] | None = None,
            inputs: Callable[[Any], Iterable[Path]] | None = None) -> StageResult:
    """Read ``names`` if up to date (settings, code and input digests), else compute and
    write them as one set.

    ``inputs(entry)`` brings the upstream stages up to date and returns the files this
    stage reads; their digests decide, with the settings and the code, whether the cached
    outputs still hold.
    """
    start = time.perf_counter()
    entry = manifest.subject(subject)
    root = manifest.derivatives
    names = tuple(names)
    # what made the maps: the settings, the code the stages run (a changed kernel or
    # network makes every cached map stale) and the content of every file read
    wanted = json.loads(json.dumps({**(settings or {}), "CodeDigest": _code_digest()}))
    digests = _input_digests(manifest, inputs(entry)) if inputs is not None else {}
    computed = force or not _up_to_date(root, entry.id, names, wanted, digests)
    if computed:
        items = dict(compute(entry))
        if set(items) != set(names):
            raise RuntimeError(f"stage {stage} produced {sorted(items)}, expected "
                               f"{sorted(names)}")
        run = uuid.uuid4().hex
        items = {n: (d, a, {**s, "StageSettings": wanted, "InputDigests": digests,
                            "StageRun": run}) for n, (d, a, s) in items.items()}
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


def _field_strength(series, role: str, manifest) -> float:
    b0 = float(series.sidecars[0].get("MagneticFieldStrength", np.nan)) \
        if series.sidecars else np.nan
    if np.isfinite(b0) and b0 > 0:
        return b0
    default = manifest.acquisition.field_strength_t
    if default is None:
        raise DicomError(f"{series.paths[0]}: the sidecar gives no MagneticFieldStrength; the "
                         f"{role} fit needs the field strength (T): set acquisition."
                         f"field_strength_t in the manifest {manifest.path}")
    return float(default)


def _fat_spectrum(manifest):
    from ..physics import DEFAULT_FAT_SPECTRUM, REN2008_FAT_SPECTRUM

    spectra = {sp.name: sp for sp in (DEFAULT_FAT_SPECTRUM, REN2008_FAT_SPECTRUM)}
    return spectra[manifest.acquisition.fat_spectrum]


# ------------------------------------------------------------------------------ stages

def _dicom_files(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.is_file())


def _ingest_record(manifest, entry) -> Path:
    return Path(manifest.derivatives) / ".provenance" / f"{entry.bids_id}_ingest.json"


def ensure_ingested(manifest, subject: str, *, force: bool = False) -> StageResult:
    """Ingest the subject's DICOM into the raw BIDS dataset unless already done from the
    same files.

    The images go to ``manifest.rawdata`` (a raw BIDS dataset with its
    ``participants.tsv``, :func:`qmri_kernels.dicom.dataset.write_raw_dataset`); the
    derivative root is linked to it (``DatasetLinks``, so the maps' ``bids:raw:...``
    sources resolve). Files earlier versions left in the derivative root are removed: the
    ingested images, and the B0 and mono-exponential T2 maps under their old names
    (``fmap/sub-XX_fieldmap``, ``anat/sub-XX_T2map``). The digests of the DICOM folder's
    files, the manifest's series overrides and the names of the images written are kept
    in ``<derivatives>/.provenance/sub-XX_ingest.json``; a changed file (a re-export), an
    added or removed one, a changed override or a missing image ingests again.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort: DICOM from the subject's ``dicom_root``, images written to
        ``manifest.rawdata``.
    subject : str
        ``"01"`` or ``"sub-01"``.
    force : bool
        Re-ingest even if the ingested images are up to date.

    Returns
    -------
    StageResult
        No maps; ``paths`` maps each ingested file name (NIfTI and JSON) to its path.

    Raises
    ------
    KeyError
        If the subject is not in the manifest.
    StageInputError
        If a series override of the manifest names a series the folder does not hold.
    qmri_kernels.dicom.DicomError
        If the DICOM cannot be ingested (nothing is written then).
    """
    from ..dicom.dataset import write_raw_dataset

    start = time.perf_counter()
    entry = manifest.subject(subject)
    anat = Path(manifest.rawdata) / entry.bids_id / "anat"

    def existing() -> dict[str, Path]:
        if not anat.is_dir():
            return {}
        return {p.name: p for p in sorted(anat.iterdir()) if parse_name(p.name) is not None}

    record_path = _ingest_record(manifest, entry)
    record = {"Series": dict(sorted(entry.series.items())), "CodeDigest": _code_digest(),
              "InputDigests": {p.relative_to(entry.dicom_root).as_posix(): file_digest(p)
                               for p in _dicom_files(entry.dicom_root)}}
    previous = json.loads(record_path.read_text()) if record_path.is_file() else None
    # up to date: the same inputs, and the images the last ingest wrote are all there (a
    # subject exported with the scanner's maps only has none, and is not ingested again)
    up_to_date = (previous is not None and previous.get("Images") == sorted(existing())
                  and {k: v for k, v in previous.items() if k != "Images"} == record)
    computed = force or not up_to_date
    if computed:
        try:
            ingest(entry.dicom_root, manifest.rawdata, entry.id, roles=entry.roles(),
                   maps_dir=manifest.derivatives)     # scanner-computed maps: derivatives
        except DicomError as exc:
            if entry.series and "given role" in str(exc):
                raise StageInputError(f"manifest {manifest.path}: {entry.bids_id}.series: "
                                      f"{exc}") from exc
            raise
        record["Images"] = sorted(existing())
        record_path.parent.mkdir(parents=True, exist_ok=True)
        D.write_text_atomic(record_path, json.dumps(record, indent=1) + "\n")
    # files earlier versions wrote into the derivative root: the ingested images (now in
    # rawdata) and the maps since renamed (B0: fmap/_fieldmap; mono-exponential: _T2map)
    sub = Path(manifest.derivatives) / entry.bids_id
    moved = Path(manifest.rawdata).resolve() != Path(manifest.derivatives).resolve()
    for old in (sorted((sub / "anat").iterdir()) if moved and (sub / "anat").is_dir() else ()):
        if parse_name(old.name) is not None:
            old.unlink()
    for stem in (f"fmap/{entry.bids_id}_fieldmap", f"anat/{entry.bids_id}_T2map"):
        for ext in (".nii.gz", ".json"):
            (sub / f"{stem}{ext}").unlink(missing_ok=True)
    write_raw_dataset(manifest)
    D.write_dataset_files(manifest.derivatives, raw=manifest.rawdata)
    return StageResult("ensure_ingested", entry.id, {}, existing(), computed,
                       time.perf_counter() - start)


def _series_files(manifest, entry, role: str) -> list[Path]:
    """The ingested NIfTI files of one role (brings the ingest up to date first)."""
    files = ensure_ingested(manifest, entry.id).paths
    return [p for name, p in files.items()
            if name.endswith(".nii.gz") and parse_name(name)["role"] == role]


def _scanner_fat_water(manifest, subject: str) -> StageResult | None:
    """The scanner's fat-water maps as a :func:`fat_water_maps` result, when the subject
    has its fat-fraction map but no complex echoes; else None."""
    start = time.perf_counter()
    entry = manifest.subject(subject)
    root = manifest.derivatives
    megre = _series_files(manifest, entry, "megre")      # brings the ingest up to date
    parts = {parse_name(p.name)["part"] for p in megre}
    if {"mag", "phase"} <= parts or {"real", "imag"} <= parts:
        return None
    if not D.map_exists(root, entry.id, SCANNER_FAT_WATER_MAPS["pdff"]):
        return None
    why = ("no multi-echo gradient echo was exported" if not parts else
           "the multi-echo gradient echo has no complex echoes")
    note = (f"{entry.bids_id}: {why}, so the fat fraction is the scanner's own map "
            "(desc-scanner_PDFFmap), not this book's fit; no field map or fit residual.")
    maps, paths, sidecars = {}, {}, {}
    for name, scanner_name in SCANNER_FAT_WATER_MAPS.items():
        if not D.map_exists(root, entry.id, scanner_name):
            continue
        data, affine, side = D.read_map(root, entry.id, scanner_name)
        maps[name] = (data, affine)
        paths[name] = D.map_path(root, entry.id, scanner_name)
        sidecars[name] = {**side, "FatFractionSource": f"scanner: {why}"}
    return StageResult("fat_water_maps", entry.id, maps, paths, False,
                       time.perf_counter() - start, sidecars, note)


def fat_water_maps(manifest, subject: str, *, force: bool = False) -> StageResult:
    """Fat-water separation of the multi-echo gradient echo (MEGRE grid).

    Loads the complex echoes (:func:`qmri_kernels.dicom.load_series`, ``part="complex"``),
    fits :class:`qmri_kernels.fatwater.FatWaterModel` (echo times and field strength from
    the sidecars) inside the body mask, and writes :data:`FAT_WATER_MAPS`: ``pdff``,
    ``water``, ``fat``, ``r2star`` (1/s), ``fieldmap`` (Hz), ``dixon_residual``.

    When the export holds no complex echoes but the scanner's own fat-fraction map (e.g.
    GE IDEAL-IQ's FF series, converted at ingest to ``desc-scanner_PDFFmap``,
    :mod:`qmri_kernels.dicom.vendor_maps`), nothing is fitted: the result holds the
    scanner's maps (:data:`SCANNER_FAT_WATER_MAPS`: ``pdff`` and, where exported,
    ``water``, ``fat``, ``r2star``; no ``fieldmap`` or residual), its ``note`` and each
    sidecar's ``FatFractionSource`` say so, and ``computed`` is False.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort; maps go to ``manifest.derivatives``, the fit takes the fat spectrum
        and the default field strength from ``manifest.acquisition``.
    subject : str
        ``"01"`` or ``"sub-01"``.
    force : bool
        Refit even if the maps on disk are up to date (the ingest is still reused).

    Returns
    -------
    StageResult
        :data:`FAT_WATER_MAPS` on the MEGRE grid, each (nx, ny, nz) float32: ``pdff``
        (fraction, not clipped to [0, 1]), ``water`` and ``fat`` (signal units),
        ``r2star`` (1/s), ``fieldmap`` (Hz), ``dixon_residual`` (signal units); NaN
        outside the body mask.

    Raises
    ------
    KeyError
        If the subject is not in the manifest.
    StageInputError
        If a series override of the manifest names a series the folder does not hold.
    qmri_kernels.dicom.DicomError
        If the DICOM cannot be ingested, or neither the sidecars nor
        ``acquisition.field_strength_t`` give the field strength.
    """
    from ..fatwater import FatWaterModel

    scanner = _scanner_fat_water(manifest, subject)
    if scanner is not None:
        return scanner

    def compute(entry):
        root = manifest.derivatives
        s = load_series(manifest.rawdata, entry.id, "megre", part="complex")
        b0 = _field_strength(s, "fat-water", manifest)
        model = FatWaterModel(s.echo_times, field_strength=b0,
                              fat_spectrum=_fat_spectrum(manifest))
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
            "FatFractionSource": "fit: qmri_kernels.fatwater.FatWaterModel",
            "Acquisition": manifest.acquisition.as_dict(),
        }
        values = {"pdff": fit.pdff, "water": fit.water, "fat": fit.fat,
                  "r2star": fit.r2star, "fieldmap": fit.fieldmap,
                  "dixon_residual": fit.residual}
        return {n: (v, s.affine, sidecar) for n, v in values.items()}

    return _cached("fat_water_maps", manifest, subject, FAT_WATER_MAPS, force, compute,
                   settings={"Acquisition": manifest.acquisition.as_dict()},
                   inputs=lambda entry: _series_files(manifest, entry, "megre"))


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
        ``labels_auto`` (int16, :mod:`qmri_kernels.labels` indices).
    """
    def compute(entry):
        from ..segment import load_segmenter     # torch: imported only to compute

        root = manifest.derivatives
        s = load_series(manifest.rawdata, entry.id, "t2w")
        net = load_segmenter() if segmenter is None else segmenter
        labels = net.segment(s.data, s.affine)
        sidecar = {"Sources": _uris(root, s.paths),
                   "Segmentation": {"Method": "qmri_kernels.segment.Segmenter (2-D U-Net), "
                                              "post-processed",
                                    "Weights": Path(net.path).name,
                                    "WeightsSHA256": net.sidecar.get("sha256")}}
        return {"labels_auto": (labels, s.affine, sidecar)}

    return _cached("segmentation", manifest, subject, ("labels_auto",), force, compute,
                   inputs=lambda entry: _series_files(manifest, entry, "t2w"))


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

    def source(entry) -> Path:
        """Bring the source labels up to date; their file."""
        if reader == "auto":
            return segmentation(manifest, entry.id).paths[source_name]
        if entry.reader_mask(reader) is not None:
            return reader_labels(manifest, entry.id, reader).paths[source_name]
        path = D.map_path(manifest.derivatives, entry.id, source_name)
        if not D.map_exists(manifest.derivatives, entry.id, source_name):
            raise FileNotFoundError(f"{path}: reader {reader} has no labels for "
                                    f"{entry.bids_id} (save them with "
                                    "qmri_kernels.masks.MaskSession or name a mask file in "
                                    "the manifest)")
        return path

    def inputs(entry) -> list[Path]:
        ensure_ingested(manifest, entry.id)
        refs = [_series_grid(manifest.rawdata, entry.id, r)[1]
                for r in ("t2w", "megre", "mese")]
        return [source(entry), *refs]

    def compute(entry):
        root = manifest.derivatives
        labels, affine, _ = D.read_map(root, entry.id, source_name)
        source_grid, _ = _series_grid(manifest.rawdata, entry.id, "t2w")
        check_same_grid(labels.shape, affine, source_grid.shape, source_grid.affine,
                        name_a=f"labels of {reader}", name_b="the T2-weighted series")
        source_uri = D.bids_uri(root, D.map_path(root, entry.id, source_name))
        out = {}
        for name, role in zip(names, ("megre", "mese")):
            target, ref = _series_grid(manifest.rawdata, entry.id, role)
            moved = transfer_labels(labels, source_grid, target, method=method,
                                    erode_mm=erode_mm)
            out[name] = (moved.labels, target.affine, {
                "Sources": [source_uri], "SpatialReference": D.bids_uri(root, ref),
                "CoveredSlices": list(moved.covered_slices),
                "ExcludedSlices": list(moved.excluded_slices),
                "Transfer": moved.summary()})
        return out

    return _cached("transferred_labels", manifest, subject, names, force, compute,
                   settings={"reader": reader, "method": method, "erode_mm": float(erode_mm)},
                   inputs=inputs)


def reader_labels(manifest, subject: str, reader: str, *, force: bool = False
                  ) -> StageResult:
    """A reader's own mask file (named in the manifest) as ``labels_<reader>``.

    The file's label values are mapped to this book's muscles by the manifest's
    ``labels`` mapping (other values become background). It must lie on the grid of one of
    the subject's series (same shape and affine within 0.01 mm); a mask drawn on the
    MEGRE or MESE grid is carried onto the T2-weighted grid
    (:func:`qmri_kernels.masks.transfer_labels`), so that it enters the pipeline exactly
    like the network's labels.

    Parameters
    ----------
    manifest, subject, force
        As for every stage.
    reader : str
        A reader with a ``masks`` entry for this subject in the manifest.

    Returns
    -------
    StageResult
        ``labels_<reader>`` (int16) on the T2-weighted grid.

    Raises
    ------
    StageInputError
        The manifest names no mask for this reader, the file is not an integer label
        volume, or it lies on no series' grid (the message names the manifest entry).
    """
    from ..masks import transfer_labels

    entry = manifest.subject(subject)
    mask = entry.reader_mask(reader)
    where = f"manifest {manifest.path}: {entry.bids_id}.masks.{reader}"
    if mask is None:
        raise StageInputError(f"{where}: no mask file named for this reader")
    name = D.label_spec(reader).name

    def compute(entry):
        root = manifest.derivatives
        img = nib.load(mask.path)
        raw = np.asarray(img.dataobj)
        if raw.ndim != 3 or not np.all(np.isfinite(raw)) or not np.all(raw == np.round(raw)):
            raise StageInputError(f"{where}: {mask.path.name} is not a 3-D integer label "
                                  f"volume (shape {raw.shape})")
        mapped = np.zeros(raw.shape, dtype=np.int16)
        for value, (muscle, side) in mask.labels.items():
            mapped[raw == value] = label_index(muscle, side)
        grids = {r: _series_grid(manifest.rawdata, entry.id, r)[0]
                 for r in ("t2w", "megre", "mese")}
        role = next((r for r, g in grids.items() if tuple(g.shape) == raw.shape
                     and np.allclose(g.affine, img.affine, atol=1e-2)), None)
        if role is None:
            raise StageInputError(
                f"{where}: {mask.path.name} (shape {raw.shape}) lies on the grid of none of "
                f"the subject's series ({', '.join(f'{r} {tuple(g.shape)}' for r, g in grids.items())})")
        if role != "t2w":
            mapped = transfer_labels(mapped, grids[role], grids["t2w"]).labels
        return {name: (mapped, grids["t2w"].affine, {
            "Sources": [mask.path.name], "DrawnOnGrid": role,
            "LabelMapping": {str(v): f"{m}_{s}" for v, (m, s) in mask.labels.items()}})}

    return _cached("reader_labels", manifest, subject, (name,), force, compute,
                   settings={"reader": reader,
                             "labels": {str(v): list(ms) for v, ms in mask.labels.items()}},
                   inputs=lambda entry: [mask.path, *(
                       p for r in ("t2w", "megre", "mese")
                       for p in _series_files(manifest, entry, r))])


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

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort; ``manifest.acquisition`` gives the fat T2, the slice-profile settings
        and the TR used when the headers have none.
    subject : str
        ``"01"`` or ``"sub-01"``.
    force : bool
        Refit even if the maps on disk are up to date (the upstream stages are reused).

    Returns
    -------
    StageResult
        :data:`T2_MAPS` on the MESE grid, each (nx, ny, nz) float32: ``water_t2`` (s),
        ``epg_fat_fraction`` (fraction), ``b1`` (relative, 1 = nominal),
        ``epg_residual`` (signal units), ``t2`` (s, mono-exponential),
        ``monoexp_residual`` (signal units); NaN where a fit was not made.

    Raises
    ------
    KeyError
        If the subject is not in the manifest.
    qmri_kernels.dicom.DicomError
        If the DICOM cannot be ingested, or the MESE sidecar gives no RepetitionTime and
        ``acquisition.mese_repetition_time_s`` is not set.
    RuntimeError
        If the cached ``labels_auto_mese`` is not on the MESE grid (re-run
        :func:`transferred_labels` with ``force=True``).
    """
    from ..t2 import load_mese, water_t2_subject

    from ..t2 import EPGT2Model

    def inputs(entry) -> list[Path]:
        fw = fat_water_maps(manifest, entry.id)
        labels = transferred_labels(manifest, entry.id)
        return [*_series_files(manifest, entry, "mese"),
                *(fw.paths[n] for n in ("pdff", "fieldmap") if n in fw.paths),
                labels.paths["labels_auto_mese"]]

    def compute(entry):
        root = manifest.derivatives
        fw = fat_water_maps(manifest, entry.id)
        labels = transferred_labels(manifest, entry.id)
        mese = load_mese(manifest, entry.id)
        acq = manifest.acquisition
        if not np.isfinite(mese.repetition_time):
            if acq.mese_repetition_time_s is None:
                raise DicomError(f"{entry.bids_id}: the MESE sidecar gives no RepetitionTime; "
                                 "the fat share of the fat-saturated train needs TR: set "
                                 "acquisition.mese_repetition_time_s in the manifest "
                                 f"{manifest.path}")
            mese = dataclasses.replace(mese, repetition_time=acq.mese_repetition_time_s)
        kw = {} if acq.fat_t2_ms is None else {"fat_t2": acq.fat_t2_ms / 1e3}
        epg_model = EPGT2Model.from_echo_times(mese.echo_times,
                                               slice_profile=acq.mese_slice_profile, **kw)
        lab, lab_affine = labels.maps["labels_auto_mese"]
        if lab.shape != mese.magnitude.shape[:3] or not np.allclose(lab_affine, mese.affine,
                                                                    atol=1e-3):
            raise RuntimeError(f"sub-{entry.id}: labels_auto_mese is not on the MESE grid; "
                               "re-run transferred_labels with force=True")
        body = body_mask(mese.magnitude)
        muscle = np.isin(lab, _MUSCLES) & body
        pdff, megre_affine = fw.maps["pdff"]
        # the scanner's maps (no echoes exported) come without a field map: 0 Hz, nominal
        fieldmap = fw["fieldmap"] if "fieldmap" in fw.maps else np.zeros_like(pdff)
        result = water_t2_subject(mese, pdff, fieldmap, megre_affine, muscle, body,
                                  model=epg_model)
        epg, mono = result.maps.epg, result.maps.monoexp
        n_echoes = mese.echo_times.size
        sources = [bids_path(manifest.rawdata, entry.id, "mese", echo=k)
                   for k in range(1, n_echoes + 1)]
        sources += [*(fw.paths[n] for n in ("pdff", "fieldmap") if n in fw.paths),
                    labels.paths["labels_auto_mese"]]
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
                            "grid (qmri_kernels.t2.residual_fat_share)"
                            + ("" if "fieldmap" in fw.maps else "; PDFF from the scanner's "
                               "map, no field map: 0 Hz assumed"),
                "B1": "smoothed over the network's muscles on this grid, then fixed",
                "Denoising": "MP-PCA", "NoiseSigma": float(result.maps.noise_sigma),
                "MonoExpSkipEchoes": int(mono.model.skip_echoes),
                "Mask": _MASK_NOTE, "MaskVoxels": int(body.sum()),
                "MuscleVoxels": int(muscle.sum()),
            },
            "Acquisition": acq.as_dict(),
        }
        values = {"water_t2": epg.water_t2, "epg_fat_fraction": epg.fat_fraction,
                  "b1": epg.b1, "epg_residual": epg.residual, "t2": mono.t2,
                  "monoexp_residual": mono.residual}
        return {n: (v, mese.affine, sidecar) for n, v in values.items()}

    return _cached("t2_maps", manifest, subject, T2_MAPS, force, compute,
                   settings={"Acquisition": manifest.acquisition.as_dict()}, inputs=inputs)


# ------------------------------------------------------------------------- ROI table

def roi_table_path(manifest) -> Path:
    """Where :func:`roi_table` writes: ``<derivatives>/roi_statistics.csv``.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort (only ``manifest.derivatives`` is used).

    Returns
    -------
    Path
        The CSV (it may not exist yet); its JSON sidecar is the same name with ``.json``.
    """
    return Path(manifest.derivatives) / ROI_TABLE_NAME


def roi_table(manifest, *, subjects: Iterable[str] | None = None,
              readers: Iterable[str] | None = None, erode_mm: float = ROI_ERODE_MM,
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
        The cohort (biopsy muscle and side of each subject; derivative root).
    subjects : iterable of str, optional
        Default: all subjects of the manifest.
    readers : iterable of str, optional
        Label sources: ``"auto"`` (the network) and readers whose labels are on disk.
        Default: ``"auto"`` and every reader with saved labels for all the subjects.
    erode_mm : float
        In-plane erosion (mm) of the transferred labels on each map's grid before
        measuring (:func:`qmri_kernels.masks.erode_labels`); default :data:`ROI_ERODE_MM`,
        the validated one pixel. 0 measures the transferred labels as they are.
    force : bool
        Recompute the table (not the maps; force those stages yourself).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`qmri_kernels.masks.ROI_COLUMNS`; ``subject`` as a string ("01").
    """
    from ..masks import ROI_COLUMNS, erode_labels, roi_statistics

    entries = [manifest.subject(s) for s in (subjects if subjects is not None
                                             else [s.id for s in manifest.subjects])]
    root = Path(manifest.derivatives)
    readers = tuple(readers) if readers is not None else ("auto", *saved_readers(
        manifest, [e.id for e in entries]))
    path = roi_table_path(manifest)
    side_path = path.with_suffix(".json")
    settings = {"Subjects": [e.id for e in entries], "Readers": list(readers),
                "LabelTransfer": {"method": "shape"}, "ErodeMM": float(erode_mm),
                "CodeDigest": _code_digest()}
    # bring every map up to date first; the table is current while their files are the same
    results = {}
    for entry in entries:
        fw = fat_water_maps(manifest, entry.id)
        t2 = t2_maps(manifest, entry.id)
        labs = {r: transferred_labels(manifest, entry.id, reader=r) for r in readers}
        results[entry.id] = (fw, t2, labs)
    files = [p for fw, t2, labs in results.values()
             for res in (fw, t2, *labs.values()) for p in res.paths.values()]
    digests = _input_digests(manifest, files)
    read = dict(dtype={"subject": str, "reader": str})
    if not force and path.is_file() and side_path.is_file():
        side = json.loads(side_path.read_text(encoding="utf-8"))
        if side.get("Settings") == settings and side.get("InputDigests") == digests:
            table = pd.read_csv(path, **read)
            if list(table.columns) == list(ROI_COLUMNS):
                return table
    frames = []
    for entry in entries:
        fw, t2, labs = results[entry.id]
        for reader, lab in labs.items():
            fw_keys = tuple(k for k in ("pdff", "r2star", "fieldmap") if k in fw.maps)
            for grid, maps, keys in (("megre", fw, fw_keys),
                                     ("mese", t2, ("water_t2", "t2", "epg_fat_fraction",
                                                   "b1"))):
                labels, affine = lab.maps[f"labels_{reader}_{grid}"]
                spacing = tuple(np.linalg.norm(affine[:3, :2], axis=0))
                labels = erode_labels(labels, erode_mm, spacing) if erode_mm > 0 else labels
                frames.append(roi_statistics((labels, affine),
                                             {k: maps.maps[k] for k in keys},
                                             subject=entry, reader=reader))
    table = pd.concat(frames, ignore_index=True)
    sidecar = {"Description": "ROI statistics of the quantitative maps inside each muscle "
                              "(qmri_kernels.pipeline.roi_table); one row per subject x "
                              "reader x muscle x side x map, the unit in the map name.",
               "GeneratedBy": [dict(D.GENERATED_BY)], "Settings": settings,
               "InputDigests": digests}
    side_path.unlink(missing_ok=True)           # no sidecar: never a stale cache hit
    D.write_text_atomic(path, table[list(ROI_COLUMNS)].to_csv(index=False,
                                                              float_format="%.6g"))
    D.write_text_atomic(side_path, json.dumps(sidecar, indent=2) + "\n")
    return pd.read_csv(path, **read)


def saved_readers(manifest, subjects: Iterable[str] | None = None) -> list[str]:
    """Readers (other than ``auto``) with labels for every one of ``subjects``: saved on
    the T2-weighted grid (``labels_<reader>``) or named as mask files in the manifest.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort (its mask files and derivative root are searched).
    subjects : iterable of str, optional
        Default: every subject of the manifest.

    Returns
    -------
    list of str
        Sorted reader ids.
    """
    ids = [manifest.subject(s).id for s in (subjects if subjects is not None
                                             else [s.id for s in manifest.subjects])]
    per_subject = []
    for sid in ids:
        entry = manifest.subject(sid)
        found = {m.reader for m in entry.masks}
        anat = Path(manifest.derivatives) / entry.bids_id / "anat"
        if anat.is_dir():
            for f in anat.glob(f"{entry.bids_id}_desc-*_dseg.nii.gz"):
                reader = f.name[len(entry.bids_id) + len("_desc-"):-len("_dseg.nii.gz")]
                if reader != "auto" and reader.isalnum():
                    found.add(reader)
        per_subject.append(found)
    return sorted(set.intersection(*per_subject)) if per_subject else []
