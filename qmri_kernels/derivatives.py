"""BIDS derivatives of the analysis: names, atomic writing and reading of maps and labels.

Every map the pipeline computes lives in the derivative root of the manifest
(``data/synthetic/derivatives/qmri``), a BIDS derivative dataset whose source is the raw BIDS
dataset of the ingested images (``manifest.rawdata``, linked as ``raw`` in its
``dataset_description.json``), named the BIDS / qMRI-BIDS way (DESIGN.md §4) so that other
tools read them:

====================  =============================================  ======  ===========
name                  file (``sub-01`` shown)                        unit    grid
====================  =============================================  ======  ===========
``pdff``              ``anat/sub-01_desc-dixon_PDFFmap``             1       MEGRE
``water``             ``anat/sub-01_desc-dixonwater_S0map``          a.u.    MEGRE
``fat``               ``anat/sub-01_desc-dixonfat_S0map``            a.u.    MEGRE
``r2star``            ``anat/sub-01_R2starmap``                      1/s     MEGRE
``fieldmap``          ``anat/sub-01_desc-dixon_B0map``               Hz      MEGRE
``dixon_residual``    ``anat/sub-01_desc-dixon_RMSEmap``             a.u.    MEGRE
``water_t2``          ``anat/sub-01_desc-water_T2map``               s       MESE
``epg_fat_fraction``  ``anat/sub-01_desc-epg_FFmap``                 1       MESE
``b1``                ``fmap/sub-01_TB1map``                         ratio   MESE
``epg_residual``      ``anat/sub-01_desc-epg_RMSEmap``               a.u.    MESE
``t2``                ``anat/sub-01_desc-monoexp_T2map``             s       MESE
``monoexp_residual``  ``anat/sub-01_desc-monoexp_RMSEmap``           a.u.    MESE
``scanner_pdff``      ``anat/sub-01_desc-scanner_PDFFmap``           1       MEGRE
``scanner_water``     ``anat/sub-01_desc-scannerwater_S0map``        a.u.    MEGRE
``scanner_fat``       ``anat/sub-01_desc-scannerfat_S0map``          a.u.    MEGRE
``scanner_r2star``    ``anat/sub-01_desc-scanner_R2starmap``         1/s     MEGRE
``scanner_t2``        ``anat/sub-01_desc-scanner_T2map``             s       MESE
``labels_auto``       ``anat/sub-01_desc-auto_dseg``                 label   T2w
``labels_auto_megre`` ``anat/sub-01_space-MEGRE_desc-auto_dseg``     label   MEGRE
``labels_auto_mese``  ``anat/sub-01_space-MESE_desc-auto_dseg``      label   MESE
====================  =============================================  ======  ===========

(:data:`MAPS` is this table.) ``labels_<reader>`` and ``labels_<reader>_<megre|mese>``
name the masks of any reader (``labels_R1_megre`` → ``sub-01_space-MEGRE_desc-R1_dseg``).
Maps are in the native space of the series they were fitted from (no ``space-`` entity);
labels carried onto another series' grid get ``space-MEGRE`` / ``space-MESE`` and a
``SpatialReference`` to that series. BIDS has no suffix for a fat fraction or a residual:
``PDFFmap``, ``FFmap`` and ``RMSEmap`` are declared custom suffixes (:data:`CUSTOM_SUFFIXES`),
listed in the root's ``.bidsignore``; the unit is in each sidecar. The B1 map goes to
``fmap/`` as the qMRI-BIDS ``TB1map`` (relative refocusing B1, 1 = nominal). The B0 map is
*not* written as a BIDS ``fmap/..._fieldmap``: that suffix names an acquired field map for
distortion correction, which BIDS requires to come with the magnitude image of the same
acquisition (the validator's ``FIELDMAP_WITHOUT_MAGNITUDE_FILE``). The fat-water fit's
off-resonance is an estimated parameter of the multi-echo gradient echo, like its R2*, so it
stays with the other maps of that fit in ``anat/`` under the declared custom suffix
``B0map`` (``desc-dixon``, ``"Units": "Hz"``). The mono-exponential T2 of the spin echo is
``desc-monoexp_T2map``: an apparent T2 of water and fat together, never to be mistaken for
the water T2 (``desc-water_T2map``). Fractions are stored as fractions in [0, 1]
(``"Units": "1"``), never percent.

Each NIfTI has a JSON sidecar: ``Units``, ``Description``, ``GeneratedBy`` (qmri_kernels
version), ``Sources`` (BIDS URIs: ``bids::sub-01/anat/...`` for maps of this dataset,
``bids:raw:sub-01/anat/...`` for the ingested images, :func:`bids_uri`), ``SkullStripped``
(false: BIDS requires it of every MRI derivative image but segmentations; nothing is
stripped here) and the
fit's settings; maps fitted inside a mask say that values outside it are NaN. A ``dseg``
also gets its label table (``..._dseg.tsv``, :func:`qmri_kernels.labels.write_dseg_tsv`).
The root holds ``dataset_description.json`` (``DatasetType`` "derivative", ``GeneratedBy``,
``SourceDatasets`` and ``DatasetLinks`` naming the raw dataset), ``README``,
``descriptions.tsv`` (the ``desc`` labels, with its ``descriptions.json``) and
``.bidsignore``.

Writing is atomic: every file is written under a temporary name in its folder and moved
into place with :func:`os.replace`, with the mode a plain ``open`` would give (``0644``
under umask ``022``; :mod:`qmri_kernels.file_modes`); :func:`write_maps` stages a whole set
of maps and moves them only when all were written, so a failure leaves neither a truncated
file nor a partial set. Gzip output is deterministic (no time stamp, no file name): the same
maps give the same bytes.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from . import __version__
from .file_modes import publish_mode
from .labels import write_dseg_tsv
from .subject_id import subject_label

__all__ = ["DerivativesError", "MapSpec", "MAPS", "CUSTOM_SUFFIXES", "BIDSIGNORE_PATTERNS",
           "GENERATED_BY", "DESCRIPTIONS", "map_spec", "label_spec", "map_path", "map_exists",
           "bids_uri", "write_map", "write_maps", "read_run_id", "read_map", "read_sidecar",
           "write_dataset_files", "write_text_atomic", "RAW_LINK", "dataset_links",
           "MASK_NOTE"]

#: Who wrote a derivative (the ``GeneratedBy`` entry of sidecars and the dataset).
GENERATED_BY: dict[str, str] = {"Name": "qmri_kernels", "Version": __version__}

#: Custom suffixes (not in BIDS) used for maps BIDS has no suffix for.
CUSTOM_SUFFIXES: dict[str, str] = {
    "PDFFmap": "Proton-density fat fraction (fraction in [0, 1]); BIDS has no fat-fraction "
               "suffix.",
    "FFmap": "Fat signal share of a fat-saturated multi-echo spin echo (fraction in [0, 1], "
             "not the PDFF).",
    "RMSEmap": "Root-mean-square residual of a voxel-wise fit over echoes (signal units).",
    "B0map": "B0 off-resonance estimated by a fit (Hz); not an acquired BIDS fieldmap, so "
             "it comes without the magnitude image BIDS requires of one.",
}

#: Name of the raw BIDS dataset in the derivative root's ``DatasetLinks``
#: (``bids:raw:sub-01/anat/sub-01_T2w.nii.gz``).
RAW_LINK = "raw"

#: Lines of the ``.bidsignore`` of the derivative root (and of the repository's copy).
BIDSIGNORE_PATTERNS: tuple[str, ...] = (
    *(f"*_{s}.nii.gz" for s in CUSTOM_SUFFIXES),
    *(f"*_{s}.json" for s in CUSTOM_SUFFIXES),
    "/roi_statistics.csv",
    "/roi_statistics.json",
)

_SPACE = {"megre": "MEGRE", "mese": "MESE"}
_LABEL_NAME = re.compile(r"^labels_(?P<reader>[A-Za-z0-9]+?)(?:_(?P<grid>megre|mese))?$")


class DerivativesError(ValueError):
    """A derivative that cannot be named, written or read (names the map and what is wrong)."""


@dataclass(frozen=True)
class MapSpec:
    """How one map or label volume is stored.

    Attributes
    ----------
    name : str
        Library name (``"pdff"``, ``"water_t2"``, ``"labels_auto_megre"``); the keys of
        :data:`qmri_kernels.masks.MAP_UNITS` where a map enters ROI tables.
    datatype : str
        BIDS datatype folder, ``"anat"`` or ``"fmap"``.
    entities : tuple of (str, str)
        BIDS entities after ``sub-``, in BIDS order (``space``, ``desc``).
    suffix : str
        BIDS suffix (or a :data:`CUSTOM_SUFFIXES` one).
    units : str
        Sidecar ``Units``: ``"s"``, ``"1/s"``, ``"Hz"``, ``"1"`` (a fraction in [0, 1]),
        ``"arbitrary"`` or ``"label"``.
    description : str
        Sidecar ``Description``.
    grid : str
        Series whose voxel grid the map is on: ``"megre"``, ``"mese"`` or ``"t2w"``.
    """

    name: str
    datatype: str
    entities: tuple[tuple[str, str], ...]
    suffix: str
    units: str
    description: str
    grid: str

    @property
    def is_label(self) -> bool:
        """Whether this is a discrete segmentation (integer labels, ``dseg.tsv``)."""
        return self.suffix == "dseg"

    def stem(self, subject: str) -> str:
        """File name without extension, e.g. ``sub-01_desc-water_T2map``.

        Parameters
        ----------
        subject : str
            Subject id, ``"01"`` or ``"sub-01"`` (letters and digits after the prefix).

        Returns
        -------
        str
            ``sub-<label>``, then the entities (``key-value``) in BIDS order, then the
            suffix, joined by ``_``.

        Raises
        ------
        DerivativesError
            If ``subject`` is not a BIDS label.

        Examples
        --------
        >>> MAPS["water_t2"].stem("sub-01")
        'sub-01_desc-water_T2map'
        """
        parts = [f"sub-{_subject_label(subject)}"]
        parts += [f"{k}-{v}" for k, v in self.entities]
        return "_".join(parts + [self.suffix])


def _spec(name, datatype, entities, suffix, units, description, grid) -> MapSpec:
    return MapSpec(name, datatype, tuple(entities), suffix, units, description, grid)


def label_spec(reader: str, grid: str | None = None) -> MapSpec:
    """Spec of a reader's label volume, on the T2-weighted grid or carried onto another.

    Parameters
    ----------
    reader : str
        Who made the labels: ``"auto"`` (the network), ``"R1"``, ``"R2"``, ... (letters
        and digits; it becomes the ``desc`` entity).
    grid : {None, "megre", "mese"}
        None: the labels as drawn on the T2-weighted series; else carried onto that
        series' grid (``space-MEGRE`` / ``space-MESE``).

    Returns
    -------
    MapSpec
        Named ``labels_<reader>`` or ``labels_<reader>_<grid>``.

    Raises
    ------
    DerivativesError
        If ``reader`` is not alphanumeric or ``grid`` is unknown.
    """
    if not isinstance(reader, str) or not re.fullmatch(r"[A-Za-z0-9]+", reader):
        raise DerivativesError(f"reader {reader!r} must be letters and digits (it becomes "
                               "the BIDS desc entity)")
    if grid is None:
        return _spec(f"labels_{reader}", "anat", [("desc", reader)], "dseg", "label",
                     f"Thigh labels by {reader} on the T2-weighted series; label table in "
                     "the dseg.tsv beside this file.", "t2w")
    if grid not in _SPACE:
        raise DerivativesError(f"grid must be None, 'megre' or 'mese', got {grid!r}")
    return _spec(f"labels_{reader}_{grid}", "anat", [("space", _SPACE[grid]), ("desc", reader)],
                 "dseg", "label",
                 f"Thigh labels by {reader} carried from the T2-weighted series onto the "
                 f"{_SPACE[grid]} grid in world coordinates.", grid)


#: The maps the pipeline writes, by library name.
MAPS: dict[str, MapSpec] = {s.name: s for s in (
    _spec("pdff", "anat", [("desc", "dixon")], "PDFFmap", "1",
          "Proton-density fat fraction of the multi-echo gradient echo (fraction in [0, 1], "
          "magnitude discrimination; not clipped, noise may put it slightly outside).",
          "megre"),
    _spec("water", "anat", [("desc", "dixonwater")], "S0map", "arbitrary",
          "Water signal |W| at t = 0 of the fat-water fit.", "megre"),
    _spec("fat", "anat", [("desc", "dixonfat")], "S0map", "arbitrary",
          "Fat signal |F| at t = 0 of the fat-water fit.", "megre"),
    _spec("r2star", "anat", [], "R2starmap", "1/s",
          "R2* of the fat-water fit (one R2* for water and fat).", "megre"),
    _spec("fieldmap", "anat", [("desc", "dixon")], "B0map", "Hz",
          "B0 off-resonance of the fat-water fit.", "megre"),
    _spec("dixon_residual", "anat", [("desc", "dixon")], "RMSEmap", "arbitrary",
          "RMS over echoes of the complex residual of the fat-water fit.", "megre"),
    _spec("water_t2", "anat", [("desc", "water")], "T2map", "s",
          "Water T2 of the stimulated-echo-corrected (EPG) water/fat fit.", "mese"),
    _spec("epg_fat_fraction", "anat", [("desc", "epg")], "FFmap", "1",
          "Fat signal share of the EPG fit (fixed from the Dixon PDFF where known).", "mese"),
    _spec("b1", "fmap", [], "TB1map", "arbitrary",
          "Relative refocusing B1 of the EPG fit (1 = nominal; the effective flip angle is "
          "this factor times the nominal one), smoothed over the muscles.", "mese"),
    _spec("epg_residual", "anat", [("desc", "epg")], "RMSEmap", "arbitrary",
          "RMS residual of the EPG fit over the echoes it used.", "mese"),
    _spec("t2", "anat", [("desc", "monoexp")], "T2map", "s",
          "Mono-exponential apparent T2 of the spin-echo train (first echo skipped): water "
          "and fat together, so it rises with the fat content; not the water T2 "
          "(desc-water_T2map). The scanner-style comparison.", "mese"),
    _spec("monoexp_residual", "anat", [("desc", "monoexp")], "RMSEmap", "arbitrary",
          "RMS residual of the mono-exponential fit.", "mese"),
    # maps the scanner computed itself, converted to SI at ingest
    # (qmri_kernels.dicom.vendor_maps; never an output of this package's fits)
    _spec("scanner_pdff", "anat", [("desc", "scanner")], "PDFFmap", "1",
          "Proton-density fat fraction computed by the scanner (e.g. GE IDEAL-IQ), "
          "converted to a fraction at ingest; not this package's fit.", "megre"),
    _spec("scanner_water", "anat", [("desc", "scannerwater")], "S0map", "arbitrary",
          "Water image computed by the scanner's fat-water reconstruction.", "megre"),
    _spec("scanner_fat", "anat", [("desc", "scannerfat")], "S0map", "arbitrary",
          "Fat image computed by the scanner's fat-water reconstruction.", "megre"),
    _spec("scanner_r2star", "anat", [("desc", "scanner")], "R2starmap", "1/s",
          "R2* computed by the scanner's fat-water reconstruction.", "megre"),
    _spec("scanner_t2", "anat", [("desc", "scanner")], "T2map", "s",
          "T2 map computed by the scanner (vendor fit), converted to s at ingest.", "mese"),
    label_spec("auto"), label_spec("auto", "megre"), label_spec("auto", "mese"),
)}


def map_spec(name: str | MapSpec) -> MapSpec:
    """The :class:`MapSpec` of ``name``: a key of :data:`MAPS` or ``labels_<reader>[_<grid>]``.

    Parameters
    ----------
    name : str or MapSpec
        A key of :data:`MAPS` (``"pdff"``, ``"water_t2"`` ...), or a reader's label name
        ``labels_<reader>`` / ``labels_<reader>_megre`` / ``labels_<reader>_mese``
        (built by :func:`label_spec`). A :class:`MapSpec` is returned unchanged.

    Returns
    -------
    MapSpec
        How the map is named and stored (datatype, entities, suffix, units, grid).

    Raises
    ------
    DerivativesError
        If the name is unknown (the message lists the known ones).

    Examples
    --------
    >>> map_spec("r2star").units
    '1/s'
    >>> map_spec("labels_R2_mese").grid
    'mese'
    """
    if isinstance(name, MapSpec):
        return name
    if name in MAPS:
        return MAPS[name]
    m = _LABEL_NAME.match(name) if isinstance(name, str) else None
    if m:
        return label_spec(m["reader"], m["grid"])
    raise DerivativesError(f"unknown map name {name!r}; known: {', '.join(MAPS)}, or "
                           "labels_<reader>[_megre|_mese]")


def _subject_label(subject: str) -> str:
    return subject_label(subject, DerivativesError)


def map_path(root: str | os.PathLike, subject: str, name: str | MapSpec) -> Path:
    """Path of a map's NIfTI under the derivative root.

    Parameters
    ----------
    root : path-like
        Derivative root (``manifest.derivatives``).
    subject : str
        ``"01"`` or ``"sub-01"``.
    name : str or MapSpec
        See :data:`MAPS` and :func:`map_spec`.

    Returns
    -------
    Path
        ``root/sub-01/<datatype>/<stem>.nii.gz``; the sidecar is ``<stem>.json`` beside
        it (and, for labels, the label table ``<stem>.tsv``).

    Examples
    --------
    >>> map_path("deriv", "01", "water_t2").as_posix()
    'deriv/sub-01/anat/sub-01_desc-water_T2map.nii.gz'
    >>> map_path("deriv", "sub-01", "labels_R1_megre").name
    'sub-01_space-MEGRE_desc-R1_dseg.nii.gz'
    """
    spec = map_spec(name)
    label = _subject_label(subject)
    return Path(root) / f"sub-{label}" / spec.datatype / f"{spec.stem(label)}.nii.gz"


def _sidecar_path(nifti: Path) -> Path:
    return nifti.with_name(nifti.name[: -len(".nii.gz")] + ".json")


def _tsv_path(nifti: Path) -> Path:
    return nifti.with_name(nifti.name[: -len(".nii.gz")] + ".tsv")


def _files_of(path: Path, spec: MapSpec) -> list[Path]:
    files = [path, _sidecar_path(path)]
    return files + [_tsv_path(path)] if spec.is_label else files


def map_exists(root: str | os.PathLike, subject: str, name: str | MapSpec) -> bool:
    """Whether the map's NIfTI, its sidecar (and, for labels, its ``dseg.tsv``) all exist.

    Parameters
    ----------
    root : path-like
        Derivative root (``manifest.derivatives``).
    subject : str
        ``"01"`` or ``"sub-01"``.
    name : str or MapSpec
        See :data:`MAPS` and :func:`map_spec`.

    Returns
    -------
    bool
        True only if every file of the map is a regular file; nothing is read or checked
        for content.

    Raises
    ------
    DerivativesError
        If ``name`` is unknown or ``subject`` is not a BIDS label.
    """
    spec = map_spec(name)
    return all(p.is_file() for p in _files_of(map_path(root, subject, spec), spec))


def dataset_links(root: str | os.PathLike) -> dict[str, Path]:
    """The local datasets named in the ``DatasetLinks`` of ``root``'s description.

    Parameters
    ----------
    root : path-like
        A BIDS dataset (the derivative root).

    Returns
    -------
    dict of str to Path
        Link name → resolved folder, for links that are relative paths or ``file://``
        URIs (remote links are left out); empty if there is no readable description.
    """
    root = Path(root)
    try:
        desc = json.loads((root / "dataset_description.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    links = desc.get("DatasetLinks") if isinstance(desc, dict) else None
    out = {}
    for name, target in (links.items() if isinstance(links, dict) else ()):
        if not isinstance(target, str) or not name:
            continue
        if target.startswith("file://"):
            target = target[len("file://"):]
        elif "://" in target:
            continue
        out[name] = (root / target).resolve()
    return out


def bids_uri(root: str | os.PathLike, path: str | os.PathLike) -> str:
    """BIDS URI of a file inside the derivative dataset at ``root`` or a dataset it links.

    Parameters
    ----------
    root : path-like
        Derivative root (the dataset the URI is relative to).
    path : path-like
        File to name; it need not exist. Both paths are resolved (symlinks, ``..``).

    Returns
    -------
    str
        ``bids::sub-01/anat/sub-01_T2map.nii.gz`` for a file under ``root``;
        ``bids:raw:sub-01/anat/sub-01_T2w.nii.gz`` for a file of a dataset named in
        ``root``'s ``DatasetLinks`` (:func:`dataset_links`; the raw dataset is
        :data:`RAW_LINK`); else the absolute POSIX path.

    Examples
    --------
    >>> bids_uri("deriv", "deriv/sub-01/anat/sub-01_desc-monoexp_T2map.nii.gz")
    'bids::sub-01/anat/sub-01_desc-monoexp_T2map.nii.gz'
    """
    root_r = Path(root).resolve()
    p = Path(path).resolve()
    if p.is_relative_to(root_r):
        return "bids::" + p.relative_to(root_r).as_posix()
    for name, target in dataset_links(root_r).items():
        if p.is_relative_to(target):
            return f"bids:{name}:" + p.relative_to(target).as_posix()
    return p.as_posix()


# ----------------------------------------------------------------------------- writing

def _as_stored(name: str | MapSpec, data: Any) -> np.ndarray:
    """``data`` as :func:`write_map` stores it and :func:`read_map` returns it.

    float32 for maps (NaN for no value), int16 for labels: a stage that has just computed a
    map hands on exactly what a later run reads back from disk.

    Raises
    ------
    DerivativesError
        As :func:`write_maps` for bad data (not 3-D, non-integer labels, ±inf, complex).
    """
    spec = map_spec(name)
    arr = np.asarray(data)
    if arr.ndim != 3:
        raise DerivativesError(f"map {spec.name!r}: data must be a 3-D volume (nx, ny, nz), "
                               f"got shape {arr.shape}")
    if spec.is_label:
        if arr.dtype == bool or np.issubdtype(arr.dtype, np.integer):
            lab = arr.astype(np.int64)
        elif np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) \
                and np.all(arr == np.rint(arr)):
            lab = arr.astype(np.int64)
        else:
            raise DerivativesError(f"map {spec.name!r}: labels must be integers, got dtype "
                                   f"{arr.dtype}")
        if lab.size and (lab.min() < 0 or lab.max() > np.iinfo(np.int16).max):
            raise DerivativesError(f"map {spec.name!r}: labels must lie in 0..32767, got "
                                   f"{lab.min()}..{lab.max()}")
        return lab.astype(np.int16)
    if np.iscomplexobj(arr) or not (np.issubdtype(arr.dtype, np.floating)
                                    or np.issubdtype(arr.dtype, np.integer)
                                    or arr.dtype == bool):
        raise DerivativesError(f"map {spec.name!r}: data must be real numbers, got dtype "
                               f"{arr.dtype}")
    if np.isinf(arr).any():
        raise DerivativesError(f"map {spec.name!r}: data hold ±inf (use NaN for no value)")
    return arr.astype(np.float32)


def _check_volume(spec: MapSpec, data: Any, affine: Any) -> tuple[np.ndarray, np.ndarray]:
    arr = _as_stored(spec, data)
    aff = np.asarray(affine, dtype=np.float64)
    if aff.shape != (4, 4) or not np.all(np.isfinite(aff)):
        raise DerivativesError(f"map {spec.name!r}: affine must be a finite (4, 4) array, got "
                               f"shape {aff.shape}")
    return arr, aff


def _nifti_bytes(spec: MapSpec, data: np.ndarray, affine: np.ndarray,
                 run: str | None = None) -> bytes:
    """Deterministic gzip of a NIfTI-1 image: scanner q/sform, mm and s units."""
    img = nib.Nifti1Image(data, affine)
    hdr = img.header
    hdr.set_data_dtype(data.dtype)
    hdr.set_qform(affine, code=1)
    hdr.set_sform(affine, code=1)
    hdr.set_xyzt_units("mm", "sec")
    if spec.is_label:
        hdr.set_intent("label")
    # a stage's run id ties the image to its sidecar (a set replaced half-way is detectable)
    hdr["descrip"] = (f"qmri_kernels {__version__} run {run}" if run
                      else f"qmri_kernels {__version__} {spec.name}").encode()[:79]
    return gzip.compress(img.to_bytes(), compresslevel=6, mtime=0)


def _json_default(obj: Any):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return obj.as_posix()
    raise TypeError(f"sidecar value {obj!r} of type {type(obj).__name__} is not JSON")


#: Sentence added to the ``Description`` of a map fitted inside a mask.
MASK_NOTE = "Voxels outside the fit's mask (FitSettings.Mask) are NaN (no value)."


def _sidecar(spec: MapSpec, extra: Mapping[str, Any] | None) -> str:
    payload: dict[str, Any] = {"Units": spec.units, "Description": spec.description,
                               "GeneratedBy": [dict(GENERATED_BY)]}
    if not spec.is_label:
        payload["SkullStripped"] = False        # BIDS requires it of MRI derivative images
    for key, value in (extra or {}).items():
        if key == "Units" and value != spec.units:
            raise DerivativesError(f"map {spec.name!r}: sidecar Units {value!r} contradicts the "
                                   f"map table's {spec.units!r}")
        payload[key] = value
    settings = payload.get("FitSettings")
    if not spec.is_label and isinstance(settings, Mapping) and "Mask" in settings:
        payload["Description"] = f"{payload['Description']} {MASK_NOTE}"
    sources = payload.get("Sources")
    if spec.is_label and "SpatialReference" not in payload and isinstance(sources, list) \
            and sources and isinstance(sources[0], str) and sources[0].startswith("bids:"):
        payload["SpatialReference"] = sources[0]   # labels lie on their first source's grid
    try:
        return json.dumps(payload, indent=2, ensure_ascii=False, default=_json_default) + "\n"
    except (TypeError, ValueError) as exc:
        raise DerivativesError(f"map {spec.name!r}: sidecar is not JSON-serialisable: "
                               f"{exc}") from exc


def _dseg_tsv_text() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        return write_dseg_tsv(Path(tmp) / "dseg.tsv").read_text(encoding="utf-8")


def _stage_file(target: Path, payload: bytes) -> Path:
    """Write ``payload`` under a temporary name beside ``target``; return that name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        publish_mode(fd)                    # 0o666 & ~umask, not mkstemp's owner-only 0600
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_maps(root: str | os.PathLike, subject: str,
               maps: Mapping[str | MapSpec, tuple]) -> dict[str, Path]:
    """Write several maps all-or-nothing.

    Every file (NIfTI, JSON sidecar, ``dseg.tsv`` for labels) is first written under a
    temporary name in its folder; only when all of them are written are they moved into
    place (:func:`os.replace`, atomic per file). On any error the temporary files are
    removed and nothing of this call is in place. The derivative root's dataset files are
    written too (:func:`write_dataset_files`).

    Parameters
    ----------
    root : path-like
        Derivative root.
    subject : str
        ``"01"`` or ``"sub-01"``.
    maps : mapping of name to (data, affine) or (data, affine, sidecar)
        ``data`` (nx, ny, nz): maps in SI units (stored float32, NaN for no value) or
        integer labels (stored int16); ``affine`` (4, 4) voxel centre → RAS mm; ``sidecar``
        an optional dict of extra JSON keys (``Sources``, fit settings ...).

    Returns
    -------
    dict of str to Path
        NIfTI path of each map, by library name.

    Raises
    ------
    DerivativesError
        An unknown name, a volume that is not 3-D, a bad affine, non-integer labels,
        ±inf values, a non-JSON sidecar or a sidecar ``Units`` contradicting the table.
    """
    label = _subject_label(subject)
    staged: list[tuple[Path, Path]] = []
    out: dict[str, Path] = {}
    try:
        for name, item in maps.items():
            spec = map_spec(name)
            if not isinstance(item, tuple) or len(item) not in (2, 3):
                raise DerivativesError(f"map {spec.name!r}: give (data, affine) or (data, "
                                       "affine, sidecar)")
            data, affine = _check_volume(spec, item[0], item[1])
            extra = item[2] if len(item) == 3 else None
            path = map_path(root, label, spec)
            run = (extra or {}).get("StageRun")
            payloads = [(path, _nifti_bytes(spec, data, affine, run)),
                        (_sidecar_path(path), _sidecar(spec, extra).encode("utf-8"))]
            if spec.is_label:
                payloads.append((_tsv_path(path), _dseg_tsv_text().encode("utf-8")))
            for target, payload in payloads:
                staged.append((_stage_file(target, payload), target))
            out[spec.name] = path
        write_dataset_files(root)
        for tmp, target in staged:
            os.replace(tmp, target)
        staged = []
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return out


def write_map(root: str | os.PathLike, subject: str, name: str | MapSpec, data: Any,
              affine: Any, *, sidecar: Mapping[str, Any] | None = None) -> Path:
    """Write one map (NIfTI + JSON sidecar [+ dseg.tsv]) atomically; see :func:`write_maps`.

    Parameters
    ----------
    root : path-like
        Derivative root (created if missing).
    subject : str
        ``"01"`` or ``"sub-01"``.
    name : str or MapSpec
        See :data:`MAPS` and :func:`map_spec`.
    data : (nx, ny, nz) array-like
        A map in the SI unit of its spec (s, 1/s, Hz, fraction in [0, 1]; stored float32,
        NaN for no value) or integer labels 0..32767 (stored int16).
    affine : (4, 4) array-like
        Voxel centre → RAS mm (scanner space); stored as both qform and sform.
    sidecar : mapping, optional
        Extra JSON keys (``Sources``, fit settings, ``StageRun`` ...). None: only
        ``Units``, ``Description`` and ``GeneratedBy``.

    Returns
    -------
    Path
        The NIfTI file.

    Raises
    ------
    DerivativesError
        As :func:`write_maps`: unknown name, data not 3-D, bad affine, non-integer labels,
        ±inf, complex data, a non-JSON sidecar or a contradicting ``Units``.
    """
    spec = map_spec(name)
    return write_maps(root, subject, {spec: (data, affine, dict(sidecar or {}))})[spec.name]


def read_run_id(root: str | os.PathLike, subject: str, name: str | MapSpec) -> str | None:
    """The stage run id stored in a map's NIfTI header (``descrip``), or None.

    Parameters
    ----------
    root : path-like
        Derivative root.
    subject : str
        ``"01"`` or ``"sub-01"``.
    name : str or MapSpec
        See :data:`MAPS` and :func:`map_spec`.

    Returns
    -------
    str or None
        The id :func:`write_maps` wrote from the sidecar's ``StageRun``; None if the map
        was written without one.

    Raises
    ------
    FileNotFoundError
        If the map's NIfTI does not exist.
    DerivativesError
        If ``name`` is unknown or ``subject`` is not a BIDS label.
    """
    text = bytes(nib.load(map_path(root, subject, name)).header["descrip"]).decode(
        "ascii", "replace").rstrip("\x00")
    marker = " run "
    return text.split(marker, 1)[1].strip() if marker in text else None


def read_sidecar(root: str | os.PathLike, subject: str, name: str | MapSpec) -> dict:
    """The JSON sidecar of a map (without reading the image).

    Parameters
    ----------
    root : path-like
        Derivative root.
    subject : str
        ``"01"`` or ``"sub-01"``.
    name : str or MapSpec
        See :data:`MAPS` and :func:`map_spec`.

    Returns
    -------
    dict
        The sidecar's keys: ``Units``, ``Description``, ``GeneratedBy`` and whatever the
        writing stage added (``Sources``, fit settings, ``StageRun``).

    Raises
    ------
    FileNotFoundError
        If the sidecar is missing.
    DerivativesError
        If ``name`` is unknown or ``subject`` is not a BIDS label.
    """
    spec = map_spec(name)
    side = _sidecar_path(map_path(root, subject, spec))
    if not side.is_file():
        raise FileNotFoundError(f"{side}: map {spec.name!r} of sub-{_subject_label(subject)} "
                                "has not been written")
    return json.loads(side.read_text(encoding="utf-8"))


def read_map(root: str | os.PathLike, subject: str, name: str | MapSpec
             ) -> tuple[np.ndarray, np.ndarray, dict]:
    """Read a map written by :func:`write_map`.

    Parameters
    ----------
    root : path-like
        Derivative root.
    subject : str
        ``"01"`` or ``"sub-01"``.
    name : str or MapSpec
        See :data:`MAPS` and :func:`map_spec`.

    Returns
    -------
    data : ndarray, (nx, ny, nz)
        float32 maps (SI units, NaN for no value) or int16 labels.
    affine : (4, 4) ndarray of float64
        Voxel centre → RAS mm.
    sidecar : dict
        The JSON sidecar (see :func:`read_sidecar`).

    Raises
    ------
    FileNotFoundError
        If the NIfTI or its sidecar is missing (the message names the file).
    DerivativesError
        If ``name`` is unknown or ``subject`` is not a BIDS label.
    """
    spec = map_spec(name)
    path = map_path(root, subject, spec)
    side = _sidecar_path(path)
    for p in (path, side):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: map {spec.name!r} of sub-{_subject_label(subject)} "
                                    "has not been written; run the pipeline stage that makes "
                                    "it (python -m qmri_kernels.pipeline)")
    img = nib.load(path)
    data = np.asarray(img.dataobj)
    if spec.is_label:
        data = data.astype(np.int16, copy=False)
    return np.array(data), np.array(img.affine, dtype=np.float64), json.loads(
        side.read_text(encoding="utf-8"))


# ----------------------------------------------------------------- dataset-level files

#: The ``desc`` labels used here, for the root's ``descriptions.tsv``.
DESCRIPTIONS: dict[str, str] = {
    "dixon": "Fat-water (IDEAL-like, multi-peak) fit of the multi-echo gradient echo.",
    "dixonwater": "Water component of the fat-water fit.",
    "dixonfat": "Fat component of the fat-water fit.",
    "water": "Water component of the EPG water/fat fit of the multi-echo spin echo.",
    "epg": "Stimulated-echo-corrected (EPG) water/fat fit of the multi-echo spin echo.",
    "monoexp": "Mono-exponential fit of the multi-echo spin echo (first echo skipped).",
    "scanner": "Computed by the scanner itself (vendor reconstruction), converted to SI units.",
    "scannerwater": "Water image of the scanner's own fat-water reconstruction.",
    "scannerfat": "Fat image of the scanner's own fat-water reconstruction.",
    "auto": "Labels of the segmentation network (qmri_kernels.segment).",
    "R1": "Labels reviewed and corrected by reader 1.",
    "R2": "Labels reviewed and corrected by reader 2.",
}


def _descriptions_tsv() -> str:
    # BIDS: the desc_id column holds the whole entity, "desc-<label>"
    lines = ["desc_id\tdescription"] + [f"desc-{k}\t{v}" for k, v in DESCRIPTIONS.items()]
    return "\n".join(lines) + "\n"


_DESCRIPTIONS_JSON = {
    "Description": "The desc entity labels used in this dataset's file names.",
    "desc_id": {"Description": "The desc entity of a file name (desc-<label>)."},
    "description": {"Description": "What the files with this desc entity hold."},
}

_README = """# Thigh quantitative MRI derivatives (qmri_kernels)

Maps computed by the qmri_kernels pipeline from the raw BIDS dataset named `raw` in
`dataset_description.json` (DatasetLinks): proton-density fat fraction, water and fat
signal, R2* and B0 off-resonance of the multi-echo gradient echo; water T2 (EPG), fat
share, relative B1 and the mono-exponential apparent T2 of the multi-echo spin echo;
muscle labels of the segmentation network and of readers, on each series' grid.

Units are SI (s, 1/s, Hz; fractions in [0, 1]) and stated in each sidecar's `Units`.
Voxels without a value are NaN. Custom suffixes (BIDS has none for these maps) are listed
in `.bidsignore`; `descriptions.tsv` explains the `desc` labels. Each sidecar's `Sources`
names the inputs as BIDS URIs (`bids:raw:...` for the raw images).
"""


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write a UTF-8 text file atomically (temporary name, then :func:`os.replace`).

    An existing file with exactly this content is left alone (its modification time
    unchanged); missing parent folders are created.

    Parameters
    ----------
    path : path-like
        Target file.
    text : str
        Full new content, written as UTF-8 without newline translation.

    Returns
    -------
    Path
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return path
    os.replace(_stage_file(path, text.encode("utf-8")), path)
    return path


def write_dataset_files(root: str | os.PathLike, *, raw: str | os.PathLike | None = None
                        ) -> None:
    """Write or update the root's ``dataset_description.json``, ``README``, ``.bidsignore``
    and ``descriptions.tsv`` (+ ``descriptions.json``).

    An existing ``dataset_description.json`` is kept and this package's ``GeneratedBy``
    entry added to it if absent; ``DatasetType`` is "derivative". With ``raw``, the raw
    dataset becomes its source: ``DatasetLinks`` maps :data:`RAW_LINK` to it (a path
    relative to ``root``) and ``SourceDatasets`` holds ``{"URL": "bids:raw:"}``, so the
    ``bids:raw:...`` URIs of the sidecars resolve (:func:`bids_uri`). Without ``raw`` an
    earlier link is kept. Each file is replaced atomically and only when its content
    changes.

    Parameters
    ----------
    root : path-like
        Derivative root (created if missing).
    raw : path-like, optional
        The raw BIDS dataset the derivatives are computed from (``manifest.rawdata``).

    Raises
    ------
    DerivativesError
        If an existing ``dataset_description.json`` is not a JSON object.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    desc_path = root / "dataset_description.json"
    desc: dict[str, Any] = {}
    if desc_path.is_file():
        try:
            desc = json.loads(desc_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DerivativesError(f"{desc_path} is not valid JSON: {exc}") from exc
        if not isinstance(desc, dict):
            raise DerivativesError(f"{desc_path} must hold a JSON object")
    if str(desc.get("Name", "")).startswith("qmri_kernels ingest"):
        del desc["Name"]                    # written by the ingest before it moved to rawdata
    desc.setdefault("Name", "qmri_kernels: thigh quantitative MRI derivatives")
    desc.setdefault("BIDSVersion", "1.9.0")
    desc["DatasetType"] = "derivative"
    if raw is not None:
        target = Path(os.path.relpath(Path(raw).resolve(), root.resolve())).as_posix()
        desc["DatasetLinks"] = {**(desc.get("DatasetLinks") or {}), RAW_LINK: target}
        source = {"URL": f"bids:{RAW_LINK}:"}
        others = [d for d in desc.get("SourceDatasets", []) if d != source]
        desc["SourceDatasets"] = [source, *others]
    generated = [g for g in desc.get("GeneratedBy", []) if isinstance(g, dict)
                 and g.get("Name") != "qmri_kernels.dicom.ingest"]   # the ingest is upstream
    entry = {"Name": "qmri_kernels.pipeline", "Version": __version__,
             "Description": "Fat-water, water T2, segmentation and label transfer maps "
                            "(qmri_kernels.derivatives names them)."}
    if not any(g.get("Name") == entry["Name"] and g.get("Version") == entry["Version"]
               for g in generated):
        generated = [g for g in generated if g.get("Name") != entry["Name"]] + [entry]
    desc["GeneratedBy"] = generated
    write_text_atomic(desc_path, json.dumps(desc, indent=2, ensure_ascii=False) + "\n")
    write_text_atomic(root / ".bidsignore", "\n".join(BIDSIGNORE_PATTERNS) + "\n")
    write_text_atomic(root / "descriptions.tsv", _descriptions_tsv())
    write_text_atomic(root / "descriptions.json", json.dumps(_DESCRIPTIONS_JSON, indent=2) + "\n")
    write_text_atomic(root / "README", _README)
