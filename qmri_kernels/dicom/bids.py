"""BIDS names, NIfTI + JSON sidecar writing, and the reader other chapters use.

One 3-D NIfTI per echo (and per image part), as BIDS specifies for ``MEGRE`` and ``MESE``
(the ``echo-`` entity, each sidecar with its own ``EchoTime``)::

    sub-01/anat/sub-01_echo-1_part-mag_MEGRE.nii.gz   sub-01_echo-1_part-phase_MEGRE.nii.gz
    sub-01/anat/sub-01_echo-1_MESE.nii.gz             sub-01/anat/sub-01_T2w.nii.gz

``run-<n>`` is added after the subject only when a role has more than one series. The files
live in the raw BIDS dataset of the cohort (``manifest.rawdata``; :mod:`.dataset` writes its
description and ``participants.tsv``), not among the derivatives.
:func:`load_series` stacks the echoes back into the 4-D arrays the fits take.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from ..subject_id import subject_label as _subject_label
from .classify import complex_parts_note
from .errors import DicomError

__all__ = ["ROLE_SUFFIX", "subject_label", "bids_name", "bids_path", "write_nifti",
           "write_json", "LoadedSeries", "load_series", "parse_name"]

#: BIDS suffix of each role.
ROLE_SUFFIX: dict[str, str] = {"megre": "MEGRE", "mese": "MESE", "t2w": "T2w"}
_SUFFIX_ROLE = {v: k for k, v in ROLE_SUFFIX.items()}
_NAME = re.compile(r"^sub-(?P<sub>[A-Za-z0-9]+)(?:_run-(?P<run>\d+))?(?:_echo-(?P<echo>\d+))?"
                   r"(?:_part-(?P<part>mag|phase|real|imag))?_(?P<suffix>MEGRE|MESE|T2w)"
                   r"(?P<ext>\.nii\.gz|\.nii|\.json)$")


def subject_label(subject: str) -> str:
    """The BIDS label of ``subject`` (``"sub-01"`` or ``"01"`` → ``"01"``).

    Parameters
    ----------
    subject : str
        Subject id, with or without the ``sub-`` prefix.

    Returns
    -------
    str
        The label without the prefix (letters and digits).

    Raises
    ------
    DicomError
        Not alphanumeric after the optional ``sub-`` prefix.
    """
    return _subject_label(subject, DicomError)


def bids_name(subject: str, role: str, *, echo: int | None = None, part: str | None = None,
              run: int | None = None) -> str:
    """File name stem (no extension) of one image of ``role``.

    ``part`` is used for ``megre`` only (magnitude, phase, real, imaginary); ``echo`` for
    the multi-echo roles.

    Parameters
    ----------
    subject : str
        ``"sub-01"`` or ``"01"``.
    role : {"megre", "mese", "t2w"}
        Series role; gives the suffix (:data:`ROLE_SUFFIX`).
    echo : int, optional
        1-based echo number; required for ``megre`` and ``mese``, ignored for ``t2w``.
    part : {"mag", "phase", "real", "imag"}, optional
        Image part of a ``megre`` echo (default ``"mag"``); ignored for the other roles.
        Not checked here.
    run : int, optional
        Run number, added after the subject (``run-<n>``) when given.

    Returns
    -------
    str
        The stem, e.g. ``"sub-01_echo-2_part-phase_MEGRE"`` or ``"sub-01_T2w"``.

    Raises
    ------
    DicomError
        ``role`` is not one of :data:`ROLE_SUFFIX`, ``echo`` is missing for a multi-echo
        role, or ``subject`` is not a BIDS label.
    """
    if role not in ROLE_SUFFIX:
        raise DicomError(f"role must be one of {sorted(ROLE_SUFFIX)}, got {role!r}")
    entities = [f"sub-{subject_label(subject)}"]
    if run is not None:
        entities.append(f"run-{int(run)}")
    if role in ("megre", "mese"):
        if echo is None:
            raise DicomError(f"role {role!r} needs an echo number")
        entities.append(f"echo-{int(echo)}")
    if role == "megre":
        entities.append(f"part-{part or 'mag'}")
    return "_".join(entities + [ROLE_SUFFIX[role]])


def bids_path(bids_dir: str | os.PathLike, subject: str, role: str, *, echo: int | None = None,
              part: str | None = None, run: int | None = None, ext: str = ".nii.gz") -> Path:
    """Path of one image (``ext=".json"`` for its sidecar) under a raw BIDS root.

    Parameters
    ----------
    bids_dir : path-like
        The raw BIDS root (need not exist; nothing is read or created).
    subject : str
        ``"sub-01"`` or ``"01"``.
    role : {"megre", "mese", "t2w"}
        Series role.
    echo, part, run
        As for :func:`bids_name`.
    ext : str
        File extension with its dot: ``".nii.gz"`` (default), ``".nii"`` or ``".json"``.

    Returns
    -------
    Path
        ``<bids_dir>/sub-<label>/anat/<bids_name(...)><ext>``.

    Raises
    ------
    DicomError
        From :func:`subject_label` and :func:`bids_name`: ``subject`` is not a BIDS label,
        ``role`` is unknown, or ``echo`` is missing for a multi-echo role.
    """
    label = subject_label(subject)
    return Path(bids_dir) / f"sub-{label}" / "anat" / (
        bids_name(label, role, echo=echo, part=part, run=run) + ext)


def parse_name(name: str) -> dict | None:
    """Entities of a file name written by :func:`bids_name`, or ``None``.

    Parameters
    ----------
    name : str
        A file name (no folder), stem plus ``.nii.gz``, ``.nii`` or ``.json``.

    Returns
    -------
    dict or None
        ``subject`` (str, the label without ``sub-``), ``run`` and ``echo`` (int, or
        ``None`` when absent), ``part`` (str; ``"mag"`` when absent), ``role`` (``"megre"``,
        ``"mese"`` or ``"t2w"``) and ``ext`` (str, with its dot); ``None`` if ``name`` is
        not of that form.
    """
    m = _NAME.match(name)
    if m is None:
        return None
    d = m.groupdict()
    return {"subject": d["sub"], "run": int(d["run"]) if d["run"] else None,
            "echo": int(d["echo"]) if d["echo"] else None,
            "part": d["part"] or "mag", "role": _SUFFIX_ROLE[d["suffix"]], "ext": d["ext"]}


def write_nifti(path: Path, data: np.ndarray, affine: np.ndarray, slope: float,
                inter: float) -> None:
    """Write a 3-D volume with scanner-based q/sform and the given ``scl_slope``/``scl_inter``.

    ``data`` keeps its dtype (stored integers or float32); mm and s units. A ``.gz`` path
    gets a standard single-member gzip file.

    Parameters
    ----------
    path : Path
        Output file (``.nii`` or ``.nii.gz``); its folder must exist. Overwritten.
    data : (nx, ny, nz) ndarray
        One echo: stored integers, or float values already rescaled (physical units;
        phase in radians).
    affine : (4, 4) ndarray
        Voxel index → scanner RAS coordinates, mm; written as both qform and sform (code 1).
    slope, inter : float
        Rescale of integer ``data`` (physical value = ``data · slope + inter``), written as
        ``scl_slope``/``scl_inter``; must be 1 and 0 for float ``data``.

    Raises
    ------
    ValueError
        ``data`` is floating point and ``(slope, inter)`` is not ``(1.0, 0.0)``.
    OSError
        The file cannot be written (e.g. the folder does not exist).
    """
    img = nib.Nifti1Image(np.asarray(data), affine)
    header = img.header
    header.set_data_dtype(data.dtype)
    header.set_qform(affine, code=1)
    header.set_sform(affine, code=1)
    header.set_xyzt_units("mm", "sec")
    if np.issubdtype(data.dtype, np.integer):
        header.set_slope_inter(slope, inter)
    elif (slope, inter) != (1.0, 0.0):
        raise ValueError("float data must already be rescaled")
    header["descrip"] = b"qmri_kernels.dicom.ingest"
    raw = img.to_bytes()
    if path.name.endswith(".gz"):
        # Huffman-only deflate: twice as fast as level 1 and as small on noisy MR data;
        # wbits 31 writes a gzip member with mtime 0 and no file name (deterministic)
        packer = zlib.compressobj(1, zlib.DEFLATED, 31, 8, zlib.Z_HUFFMAN_ONLY)
        raw = packer.compress(raw) + packer.flush()
    path.write_bytes(raw)


def write_json(path: Path, payload: dict) -> None:
    """Write a sidecar: UTF-8, indented, keys in insertion order, trailing newline.

    Parameters
    ----------
    path : Path
        Output ``.json`` file; its folder must exist. Overwritten.
    payload : dict
        JSON-serialisable sidecar (times in seconds, as BIDS specifies).

    Raises
    ------
    TypeError
        ``payload`` holds a value JSON cannot represent.
    OSError
        The file cannot be written (e.g. the folder does not exist).
    """
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@dataclass(frozen=True, eq=False)
class LoadedSeries:
    """An ingested series, echoes stacked.

    Attributes
    ----------
    data : ndarray
        float32 (nx, ny, nz, n_echoes) for multi-echo roles, (nx, ny, nz) for ``t2w``;
        complex64 for ``part="complex"``. Phase in radians.
    affine : (4, 4) ndarray
        Voxel centre → RAS mm.
    echo_times : (n_echoes,) ndarray
        Seconds.
    slice_thickness : float
        mm.
    sidecars : list of dict
        One per echo.
    paths : list of Path
        The NIfTI files, by echo (both parts for ``"complex"``).
    """

    data: np.ndarray
    affine: np.ndarray
    echo_times: np.ndarray
    slice_thickness: float
    sidecars: list[dict]
    paths: list[Path]

    @property
    def grid(self):
        """The :class:`~qmri_kernels.grids.Grid` of the series."""
        from ..grids import Grid
        return Grid(tuple(self.data.shape[:3]), self.affine, self.slice_thickness)


def _files(bids_dir: Path, label: str, role: str, part: str, run: int | None) -> list[dict]:
    anat = bids_dir / f"sub-{label}" / "anat"
    if not anat.is_dir():
        raise DicomError(f"{anat} does not exist: has sub-{label} been ingested?")
    found = []
    for path in sorted(anat.iterdir()):
        info = parse_name(path.name)
        if info is None or info["ext"] == ".json" or info["role"] != role \
                or info["part"] != part:
            continue
        found.append({**info, "path": path})
    runs = sorted({f["run"] for f in found}, key=lambda r: -1 if r is None else r)
    if run is not None:
        found = [f for f in found if f["run"] == run]
    elif len(runs) > 1:
        raise DicomError(f"{anat}: {role} ({part}) has runs {runs}; pass run=")
    if not found:
        raise DicomError(f"{anat}: no {role} ({part}) images"
                         + (f" for run {run}" if run is not None else ""))
    return sorted(found, key=lambda f: f["echo"] or 0)


def _load_part(bids_dir: Path, label: str, role: str, part: str, run: int | None):
    files = _files(bids_dir, label, role, part, run)
    volumes, sidecars, affine = [], [], None
    for f in files:
        img = nib.load(f["path"])
        if affine is None:
            affine = img.affine
        elif not np.allclose(img.affine, affine, atol=1e-4):
            raise DicomError(f"{f['path'].name}: affine differs from the other echoes")
        volumes.append(np.asarray(img.get_fdata(dtype=np.float32)))
        json_path = f["path"].with_name(f["path"].name.split(".nii")[0] + ".json")
        sidecars.append(json.loads(json_path.read_text()) if json_path.exists() else {})
    return volumes, sidecars, affine, [f["path"] for f in files]


def load_series(bids_dir: str | os.PathLike, subject: str, role: str, part: str = "mag", *,
                run: int | None = None) -> LoadedSeries:
    """Load an ingested series with its echo times.

    Parameters
    ----------
    bids_dir : path-like
        The root :func:`~qmri_kernels.dicom.ingest` wrote to.
    subject : str
        ``"sub-01"`` or ``"01"``.
    role : {"megre", "mese", "t2w"}
    part : {"mag", "phase", "real", "imag", "complex"}
        ``"complex"`` combines magnitude and phase (or real and imaginary) of ``megre``.
    run : int, optional
        Needed only when a role was acquired more than once.

    Returns
    -------
    LoadedSeries

    Raises
    ------
    DicomError
        Nothing ingested for that subject/role/part, ambiguous runs, or echoes on
        different grids; for ``part="complex"``, echoes that are not complex (e.g. a
        magnitude-only export: the message says what the fat-water fit needs).

    Examples
    --------
    >>> s = load_series("data/synthetic/rawdata", "sub-01", "megre", "complex")
    ... # doctest: +SKIP
    >>> s.data.shape, s.echo_times  # doctest: +SKIP
    ((256, 256, 18, 6), array([0.0015, 0.003 , 0.0045, 0.006 , 0.0075, 0.009 ]))
    """
    bids_dir = Path(bids_dir)
    label = subject_label(subject)
    if part not in ("mag", "phase", "real", "imag", "complex"):
        raise DicomError(f"part must be mag, phase, real, imag or complex, got {part!r}")
    if part == "complex":
        if role != "megre":
            raise DicomError(f"part='complex' is only available for megre, not {role!r}")
        anat = bids_dir / f"sub-{label}" / "anat"
        names = [parse_name(p.name) for p in (anat.iterdir() if anat.is_dir() else [])]
        parts = {n["part"] for n in names if n is not None and n["role"] == role}
        if parts and not ({"mag", "phase"} <= parts or {"real", "imag"} <= parts):
            raise DicomError(f"sub-{label} {role}: no complex echoes to fit — "
                             f"{complex_parts_note(parts)}")
        first, second = ("mag", "phase") if "phase" in parts else ("real", "imag")
        a, sidecars, affine, paths_a = _load_part(bids_dir, label, role, first, run)
        b, _, affine_b, paths_b = _load_part(bids_dir, label, role, second, run)
        if len(a) != len(b) or not np.allclose(affine, affine_b, atol=1e-4):
            raise DicomError(f"sub-{label} {role}: {first} and {second} do not match "
                             "(echo count or grid)")
        if first == "mag":
            data = np.stack([m * np.exp(1j * p) for m, p in zip(a, b)], axis=-1)
        else:
            data = np.stack([r + 1j * i for r, i in zip(a, b)], axis=-1)
        data = data.astype(np.complex64)
        paths = paths_a + paths_b
    else:
        vols, sidecars, affine, paths = _load_part(bids_dir, label, role, part, run)
        data = vols[0] if role == "t2w" else np.stack(vols, axis=-1)
    echo_times = np.array([float(s.get("EchoTime", np.nan)) for s in sidecars])
    thickness = float(sidecars[0].get("SliceThickness", np.nan)) if sidecars else np.nan
    return LoadedSeries(data=data, affine=np.asarray(affine), echo_times=echo_times,
                        slice_thickness=thickness, sidecars=sidecars, paths=paths)
