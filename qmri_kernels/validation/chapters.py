"""Small helpers every chapter shares: what cohort this is, which subject, which muscles.

The book runs on whatever cohort ``data_manifest.yaml`` names. These helpers let a chapter
say so in one sentence (:func:`cohort_note`), describe its example subject from the
manifest (:func:`describe_subject`), select the muscle voxels of a label volume
(:func:`muscle_mask`), show a DICOM header excerpt that works on any cohort
(:func:`header_excerpt`), read the simulated readers' tuning table from the ground-truth
folder (:func:`score_tuning_table`) and mark with "—" what the paper does not report
(:func:`with_dashes`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..labels import MUSCLE_NAMES, muscle_labels
from .truth import TruthUnavailable, has_truth

__all__ = ["describe_subject", "cohort_note", "muscle_mask", "MUSCLE_INDICES",
           "header_excerpt", "score_tuning_table", "with_dashes", "DASH"]

#: What a table shows where the paper (or any source) reports nothing.
DASH = "—"
#: Label values of every muscle, both sides (:mod:`qmri_kernels.labels`).
MUSCLE_INDICES: tuple[int, ...] = tuple(sorted(lab.index for lab in muscle_labels()))


def describe_subject(entry: Any) -> str:
    """One line naming a subject and its biopsy site, from the manifest.

    Parameters
    ----------
    entry : qmri_kernels.manifest.SubjectEntry
        E.g. ``manifest.example_subject``.

    Returns
    -------
    str
        E.g. ``"sub-13: biopsy of the right vastus lateralis"``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> describe_subject(SimpleNamespace(bids_id="sub-02", biopsy_muscle="RF",
    ...                                  biopsy_side="right"))
    'sub-02: biopsy of the right rectus femoris'
    """
    muscle = MUSCLE_NAMES.get(entry.biopsy_muscle, entry.biopsy_muscle)
    return f"{entry.bids_id}: biopsy of the {entry.biopsy_side} {muscle}"


def _markdown(text: str):
    try:
        from IPython.display import Markdown
    except ImportError:        # pragma: no cover - IPython ships with the notebook stack
        return text
    return Markdown(text)


def cohort_note(manifest: Any, *, simulator: bool = False):
    """One sentence telling the reader which cohort a chapter runs on.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort (its subject count and whether it has ground truth).
    simulator : bool
        True for the chapter that describes the simulator: on a cohort without ground
        truth it says that this cohort is not the simulated one.

    Returns
    -------
    IPython.display.Markdown
        Displayed when it is a cell's last expression (a plain ``str`` without IPython).
        ``.data`` holds the text.
    """
    n = len(manifest.subjects)
    subjects = f"{n} subject{'s' if n != 1 else ''}"
    if has_truth(manifest):
        if simulator:
            text = (f"The book is running on the synthetic cohort this chapter describes "
                    f"({subjects}, ground truth included).")
        else:
            text = (f"These results come from the synthetic cohort ({subjects}): its ground "
                    "truth lets the chapter compare the pipeline's maps with the true ones.")
    elif simulator:
        text = ("The cohort this book is running on is not the simulated one: this chapter "
                "describes the simulator and leaves out the simulated cohort's truth.")
    else:
        text = (f"This cohort ({subjects}) has no ground truth: the chapter shows the "
                "pipeline's maps and says where a comparison with the truth is left out.")
    return _markdown(f"**{text}**")


def muscle_mask(labels) -> np.ndarray:
    """Voxels of any thigh muscle (either side) in a label volume.

    Parameters
    ----------
    labels : array-like of int, shape (...)
        Label values of :mod:`qmri_kernels.labels` (a network's, a reader's or the truth).

    Returns
    -------
    ndarray of bool, shape (...)
        True at labels 11–21 (right muscles) and 31–41 (left muscles); False for
        background, subcutaneous fat, bone, marrow and intermuscular fat.

    Examples
    --------
    >>> muscle_mask([0, 1, 11, 41, 42]).tolist()
    [False, False, True, True, False]
    """
    return np.isin(np.asarray(labels), MUSCLE_INDICES)


def header_excerpt(dicom_root: str | Path, series_description: str) -> pd.DataFrame:
    """Header excerpt of the first image of a series, or of the first DICOM file found.

    Uses :func:`qmri_kernels.dicom.excerpt.first_dicom_file` with ``series_description``
    (skipping files that are not DICOM); a cohort whose scanner names the series
    differently gets the excerpt of the first DICOM file under ``dicom_root`` instead
    (identity fields are withheld either way,
    :func:`qmri_kernels.dicom.excerpt.dicom_header_excerpt`).

    Parameters
    ----------
    dicom_root : str or Path
        A subject's DICOM folder (``manifest.subject(...).dicom_root``).
    series_description : str
        SeriesDescription to look for, e.g. ``PROTOCOL["megre"].series_description``.

    Returns
    -------
    pandas.DataFrame
        Index ``keyword``; columns ``tag``, ``VR``, ``value``.

    Raises
    ------
    FileNotFoundError
        If ``dicom_root`` holds no readable DICOM file.
    """
    import pydicom
    import pydicom.errors

    from ..dicom.excerpt import dicom_header_excerpt, first_dicom_file

    try:
        return dicom_header_excerpt(first_dicom_file(dicom_root, series_description))
    except (FileNotFoundError, pydicom.errors.InvalidDicomError):
        pass        # another scanner's names, or non-DICOM files beside the images
    first = None
    for path in sorted(p for p in Path(dicom_root).rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True,
                                 specific_tags=["SeriesDescription", "ImageType"])
        except (pydicom.errors.InvalidDicomError, OSError):
            continue
        if (ds.get("SeriesDescription") == series_description
                and "PHASE" not in list(ds.get("ImageType", []))):
            return dicom_header_excerpt(path)
        first = path if first is None else first
    if first is None:
        raise FileNotFoundError(f"dicom_root {dicom_root}: no readable DICOM file")
    return dicom_header_excerpt(first)


def with_dashes(table: pd.DataFrame) -> pd.DataFrame:
    """The table with :data:`DASH` wherever a value is missing (the source reports none).

    Parameters
    ----------
    table : pandas.DataFrame
        Any table; not modified.

    Returns
    -------
    pandas.DataFrame
        A copy; columns holding a missing value become ``object``.

    Examples
    --------
    >>> with_dashes(pd.DataFrame({"a": [1.0, None]}))["a"].tolist()
    [1.0, '—']
    """
    return table.astype(object).where(table.notna(), DASH)


def score_tuning_table(manifest: Any) -> pd.DataFrame:
    """How the simulated pathologists' noise was tuned, beside the paper's targets.

    Reads ``score_tuning.csv`` from the cohort's ground-truth folder (written by the
    simulator).

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        A cohort with ground truth.

    Returns
    -------
    pandas.DataFrame
        Index ``score``; columns ``reader noise SD (score points)``, ``kappa aimed at``,
        ``kappa simulated``, ``mean simulated``, ``mean reported by the paper`` (:data:`DASH`
        where the paper reports none).

    Raises
    ------
    TruthUnavailable
        If the manifest has no ground truth.
    FileNotFoundError
        If the truth folder holds no ``score_tuning.csv``.
    """
    if not has_truth(manifest):
        raise TruthUnavailable(f"manifest {getattr(manifest, 'path', manifest)} has no ground "
                               "truth, so no simulated score tuning")
    path = Path(manifest.truth) / "score_tuning.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no score tuning table in the ground-truth folder")
    table = pd.read_csv(path).set_index("score").rename(columns={
        "reader_noise_sd": "reader noise SD (score points)", "kappa_target": "kappa aimed at",
        "kappa_simulated": "kappa simulated", "mean_simulated": "mean simulated",
        "mean_target": "mean reported by the paper"})
    return with_dashes(table.round(2))
