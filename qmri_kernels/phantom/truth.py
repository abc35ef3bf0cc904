"""Read the cohort's ground-truth maps written beside the DICOM.

Layout (written by :mod:`.synthetic_cohort`): ``<truth>/sub-XX/sub-XX_<role>_desc-<map>_truth.nii.gz``
on the grid of series ``role`` ("megre", "mese", "t2w"), and the labels as
``sub-XX_<role>_desc-truth_dseg.nii.gz``.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from ..subject_id import subject_label

__all__ = ["TRUTH_MAPS", "truth_path", "load_truth"]

#: Map key → file ``desc`` entity and unit (SI).
TRUTH_MAPS: dict[str, tuple[str, str]] = {
    "pdff": ("pdff", "fraction"), "water_t2": ("watert2", "s"), "fat_t2": ("fatt2", "s"),
    "r2star": ("r2star", "1/s"), "b0": ("b0", "Hz"), "b1": ("b1", "relative"),
    "pd": ("pd", "relative"), "fat_share": ("fatshare", "fraction"),
}
_ROLES = ("megre", "mese", "t2w")


def _bids(subject: str) -> str:
    return f"sub-{subject_label(subject)}"


def truth_path(truth_root: str | Path, subject: str, role: str, key: str) -> Path:
    """Path of one truth map (``key`` from :data:`TRUTH_MAPS` or ``"labels"``).

    Parameters
    ----------
    truth_root : str or Path
        The cohort's ``truth`` folder.
    subject : str
        ``"13"`` or ``"sub-13"``.
    role : {"megre", "mese", "t2w"}
        Series whose grid the map is on.
    key : str
        ``"labels"`` or a key of :data:`TRUTH_MAPS` (``"pdff"``, ``"water_t2"`` ...).

    Returns
    -------
    Path
        ``<truth_root>/sub-XX/sub-XX_<role>_desc-<map>_truth.nii.gz`` (or
        ``..._desc-truth_dseg.nii.gz`` for the labels); the file may not exist.

    Raises
    ------
    ValueError
        If ``role`` or ``key`` is unknown, or ``subject`` is not a BIDS label.
    """
    if role not in _ROLES:
        raise ValueError(f"role must be one of {_ROLES}, got {role!r}")
    sub = _bids(subject)
    if key == "labels":
        name = f"{sub}_{role}_desc-truth_dseg.nii.gz"
    elif key in TRUTH_MAPS:
        name = f"{sub}_{role}_desc-{TRUTH_MAPS[key][0]}_truth.nii.gz"
    else:
        raise ValueError(f"unknown truth map {key!r}; expected 'labels' or one of {sorted(TRUTH_MAPS)}")
    return Path(truth_root) / sub / name


def load_truth(truth_root, subject: str, role: str) -> dict[str, np.ndarray]:
    """All truth maps of one subject on one series' grid.

    Parameters
    ----------
    truth_root : path-like or Manifest
        The cohort's ``truth`` folder (a :class:`~qmri_kernels.manifest.Manifest` works too).
    subject : str
        "13" or "sub-13".
    role : {"megre", "mese", "t2w"}
        Series whose grid the maps are on.

    Returns
    -------
    dict
        ``labels`` (int16) and the maps of :data:`TRUTH_MAPS` present on that grid
        (float32, SI units), each (nx, ny, nz), plus ``affine`` (4, 4).

    Raises
    ------
    FileNotFoundError
        If the labels of that subject and role are missing (cohort not generated).
    ValueError
        If ``role`` is unknown or ``subject`` is not a BIDS label.
    """
    root = getattr(truth_root, "truth", truth_root)
    lab_path = truth_path(root, subject, role, "labels")
    if not lab_path.exists():
        raise FileNotFoundError(f"{lab_path}: no truth labels; generate the cohort with "
                                "`python -m qmri_kernels.phantom.synthetic_cohort`")
    img = nib.load(lab_path)
    out = {"labels": np.asarray(img.dataobj, dtype=np.int16), "affine": img.affine.copy()}
    for key in TRUTH_MAPS:
        p = truth_path(root, subject, role, key)
        if p.exists():
            out[key] = np.asarray(nib.load(p).dataobj, dtype=np.float32)
    return out
