"""BIDS derivatives of the analysis: names, atomic writing and reading of maps and labels.

Every map the pipeline computes lives in the derivative root of the manifest
(``data/synthetic/derivatives/qmri``), beside the ingested images, named the BIDS / qMRI-BIDS
way (DESIGN.md §4) so that other tools read them:

====================  =============================================  ======  ===========
name                  file (``sub-01`` shown)                        unit    grid
====================  =============================================  ======  ===========
``pdff``              ``anat/sub-01_desc-dixon_PDFFmap``             1       MEGRE
``water``             ``anat/sub-01_desc-dixonwater_S0map``          a.u.    MEGRE
``fat``               ``anat/sub-01_desc-dixonfat_S0map``            a.u.    MEGRE
``r2star``            ``anat/sub-01_R2starmap``                      1/s     MEGRE
``fieldmap``          ``fmap/sub-01_fieldmap``                       Hz      MEGRE
``dixon_residual``    ``anat/sub-01_desc-dixon_RMSEmap``             a.u.    MEGRE
``water_t2``          ``anat/sub-01_desc-water_T2map``               s       MESE
``epg_fat_fraction``  ``anat/sub-01_desc-epg_FFmap``                 1       MESE
``b1``                ``fmap/sub-01_TB1map``                         ratio   MESE
``epg_residual``      ``anat/sub-01_desc-epg_RMSEmap``               a.u.    MESE
``t2``                ``anat/sub-01_T2map``                          s       MESE
``monoexp_residual``  ``anat/sub-01_desc-monoexp_RMSEmap``           a.u.    MESE
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
listed in the root's ``.bidsignore``; the unit is in each sidecar. The B0 and B1 maps are
field maps and go to ``fmap/`` as in raw BIDS (``fieldmap`` with ``"Units": "Hz"``;
``TB1map`` as the relative refocusing B1, 1 = nominal). Fractions are stored as fractions
in [0, 1] (``"Units": "1"``), never percent.

Each NIfTI has a JSON sidecar: ``Units``, ``Description``, ``GeneratedBy`` (qmri_kernels
version), ``Sources`` (BIDS URIs ``bids::sub-01/anat/...`` of the inputs) and the fit's
settings; a ``dseg`` also gets its label table (``..._dseg.tsv``,
:func:`qmri_kernels.labels.write_dseg_tsv`). The root holds
``dataset_description.json`` (``DatasetType`` "derivative"), ``descriptions.tsv`` (the
``desc`` labels) and ``.bidsignore``.

Writing is atomic: every file is written under a temporary name in its folder and moved
into place with :func:`os.replace`; :func:`write_maps` stages a whole set of maps and moves
them only when all were written, so a failure leaves neither a truncated file nor a partial
set. Gzip output is deterministic (no time stamp, no file name): the same maps give the
same bytes.
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
from .labels import write_dseg_tsv
from .subject_id import subject_label

__all__ = ["DerivativesError", "MapSpec", "MAPS", "CUSTOM_SUFFIXES", "BIDSIGNORE_PATTERNS",
           "GENERATED_BY", "DESCRIPTIONS", "map_spec", "label_spec", "map_path", "map_exists",
           "bids_uri", "write_map", "write_maps", "read_run_id", "read_map", "read_sidecar",
           "write_dataset_files", "write_text_atomic"]

#: Who wrote a derivative (the ``GeneratedBy`` entry of sidecars and the dataset).
GENERATED_BY: dict[str, str] = {"Name": "qmri_kernels", "Version": __version__}

#: Custom suffixes (not in BIDS) used for maps BIDS has no suffix for.
CUSTOM_SUFFIXES: dict[str, str] = {
    "PDFFmap": "Proton-density fat fraction (fraction in [0, 1]); BIDS has no fat-fraction "
               "suffix.",
    "FFmap": "Fat signal share of a fat-saturated multi-echo spin echo (fraction in [0, 1], "
             "not the PDFF).",
    "RMSEmap": "Root-mean-square residual of a voxel-wise fit over echoes (signal units).",
}

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
    _spec("fieldmap", "fmap", [], "fieldmap", "Hz",
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
    _spec("t2", "anat", [], "T2map", "s",
          "Mono-exponential T2 (first echo skipped), the scanner-style comparison.", "mese"),
    _spec("monoexp_residual", "anat", [("desc", "monoexp")], "RMSEmap", "arbitrary",
          "RMS residual of the mono-exponential fit.", "mese"),
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


def bids_uri(root: str | os.PathLike, path: str | os.PathLike) -> str:
    """BIDS URI of a file inside the derivative dataset at ``root``.

    Parameters
    ----------
    root : path-like
        Derivative root (the dataset the URI is relative to).
    path : path-like
        File to name; it need not exist. Both paths are resolved (symlinks, ``..``).

    Returns
    -------
    str
        ``bids::sub-01/anat/sub-01_T2w.nii.gz`` (relative to the current dataset) for a
        file under ``root``; the absolute POSIX path of a file outside ``root``.

    Examples
    --------
    >>> bids_uri("deriv", "deriv/sub-01/anat/sub-01_T2map.nii.gz")
    'bids::sub-01/anat/sub-01_T2map.nii.gz'
    """
    root_r = Path(root).resolve()
    p = Path(path).resolve()
    try:
        return "bids::" + p.relative_to(root_r).as_posix()
    except ValueError:
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


def _sidecar(spec: MapSpec, extra: Mapping[str, Any] | None) -> str:
    payload: dict[str, Any] = {"Units": spec.units, "Description": spec.description,
                               "GeneratedBy": [dict(GENERATED_BY)]}
    for key, value in (extra or {}).items():
        if key == "Units" and value != spec.units:
            raise DerivativesError(f"map {spec.name!r}: sidecar Units {value!r} contradicts the "
                                   f"map table's {spec.units!r}")
        payload[key] = value
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
    "auto": "Labels of the segmentation network (qmri_kernels.segment).",
    "R1": "Labels reviewed and corrected by reader 1.",
    "R2": "Labels reviewed and corrected by reader 2.",
}


def _descriptions_tsv() -> str:
    lines = ["desc_id\tdescription"] + [f"{k}\t{v}" for k, v in DESCRIPTIONS.items()]
    return "\n".join(lines) + "\n"


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


def write_dataset_files(root: str | os.PathLike) -> None:
    """Write or update the root's ``dataset_description.json``, ``.bidsignore`` and
    ``descriptions.tsv``.

    An existing ``dataset_description.json`` (e.g. written by the DICOM ingest) is kept and
    this package's ``GeneratedBy`` entry added to it if absent; ``DatasetType`` is
    "derivative". Each file is replaced atomically and only when its content changes.

    Parameters
    ----------
    root : path-like
        Derivative root (created if missing).

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
    desc.setdefault("Name", "qmri_kernels: thigh quantitative MRI derivatives")
    desc.setdefault("BIDSVersion", "1.9.0")
    desc["DatasetType"] = "derivative"
    generated = [g for g in desc.get("GeneratedBy", []) if isinstance(g, dict)]
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
