"""The one door to ground truth: read the simulated scanner's true maps and labels.

Only a cohort made by the simulator (:mod:`qmri_kernels.phantom`) has ground truth; a
manifest says so with its ``truth`` entry. Everything that compares with truth reads it
through :func:`load_truth` (or :func:`cohort_truth_table` for the per-subject summary), so
that the rest of the library — and the book — runs on a cohort without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..grids import Grid
from ..phantom.protocol import PROTOCOL
from ..phantom.truth import TRUTH_MAPS
from ..phantom.truth import load_truth as _read_truth

__all__ = ["TruthUnavailable", "has_truth", "load_truth", "truth_grid",
           "cohort_truth_table", "no_truth", "TRUTH_MAPS"]


class TruthUnavailable(LookupError):
    """The cohort has no ground truth (a real cohort, or truth not generated)."""


def has_truth(manifest: Any) -> bool:
    """Whether the manifest names a ground-truth folder that exists.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        Any cohort (an object without a ``truth`` attribute counts as no truth).

    Returns
    -------
    bool
        True only if ``manifest.truth`` is set and is an existing directory (the files in
        it are not checked).
    """
    root = getattr(manifest, "truth", None)
    return root is not None and Path(root).is_dir()


def load_truth(manifest: Any, subject: str, role: str) -> dict[str, np.ndarray]:
    """All truth maps of one subject on the grid of one series.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        A cohort with ground truth (``manifest.truth``).
    subject : str
        ``"13"`` or ``"sub-13"``.
    role : {"megre", "mese", "t2w"}
        Whose grid.

    Returns
    -------
    dict
        ``labels`` (nx, ny, nz) int16 (:mod:`qmri_kernels.labels` indices), the true maps
        present on that grid (float32, SI units: ``pdff`` fraction, ``water_t2`` s,
        ``fat_t2`` s, ``r2star`` 1/s, ``b0`` Hz, ``b1``, ``pd``, ``fat_share``) and
        ``affine`` (4, 4) voxel centre → RAS mm.

    Raises
    ------
    TruthUnavailable
        If the manifest has no ground truth.
    FileNotFoundError
        If the subject's truth files are missing.
    """
    if not has_truth(manifest):
        raise TruthUnavailable(f"manifest {getattr(manifest, 'path', manifest)} has no ground "
                               "truth (only a simulated cohort has)")
    return _read_truth(manifest.truth, manifest.subject(subject).id, role)


def truth_grid(manifest: Any, subject: str, role: str) -> Grid:
    """Grid of a series from its truth labels (affine) and the protocol (slice thickness).

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        A cohort with ground truth.
    subject : str
        ``"13"`` or ``"sub-13"``.
    role : {"megre", "mese", "t2w"}
        Which series' grid.

    Returns
    -------
    qmri_kernels.grids.Grid
        Shape and affine (voxel centre → RAS mm) of the truth labels; slice thickness
        (mm) from the synthetic protocol (:data:`qmri_kernels.phantom.protocol.PROTOCOL`).

    Raises
    ------
    TruthUnavailable
        If the manifest has no ground truth.
    FileNotFoundError
        If the subject's truth labels are missing.
    """
    t = load_truth(manifest, subject, role)
    return Grid(t["labels"].shape, t["affine"], PROTOCOL[role].slice_thickness)


def cohort_truth_table(manifest: Any) -> pd.DataFrame:
    """The simulator's per-subject summary (``<truth>/cohort_truth.csv``).

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        A cohort with ground truth.

    Returns
    -------
    pandas.DataFrame
        One row per patient (``patient``, ``seed``): the true mean FF (%) and water T2
        (ms) of the biopsied and contralateral muscles on each series' grid.

    Raises
    ------
    TruthUnavailable
        If the manifest has no ground truth.
    """
    if not has_truth(manifest):
        raise TruthUnavailable(f"manifest {getattr(manifest, 'path', manifest)} has no ground "
                               "truth")
    return pd.read_csv(Path(manifest.truth) / "cohort_truth.csv")


def no_truth(what: str) -> None:
    """Say, in the book, what a cohort without ground truth cannot show.

    Displays one sentence as Markdown in a notebook (printed elsewhere), e.g.
    ``no_truth("the fitted maps beside the true ones")``.

    Parameters
    ----------
    what : str
        What would have been shown.
    """
    text = f"This cohort has no ground truth, so {what} cannot be shown here."
    try:
        from IPython.display import Markdown, display
    except ImportError:         # pragma: no cover - IPython ships with the notebook stack
        print(text)
        return
    display(Markdown(f"*{text}*"))
