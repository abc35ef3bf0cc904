"""The I/O edge of the results: what the agreement and correlation chapters read.

The rest of :mod:`qmri_kernels.results` takes DataFrames; this module gathers them from
the cohort the manifest names:

- :func:`study_scores` — the pathologists' scores from the score store (imported from the
  cohort's CSV first, through the store's API, if the manifest names one), unblinded only
  once both readers have locked;
- :func:`clinical_table` — the cohort's clinical table (Table 1), one row per subject;
- :func:`figure_subjects` — the subjects whose images the chapter shows (the paper's
  patients 8, 9 and 13 when the cohort has them);
- :func:`biopsy_slices` — one slice of the T2-weighted series, the FF map and the
  water-T2 map through the biopsied muscle, with its outline, for the image panels;
- :func:`gather_inputs` — all of the correlation analysis' inputs at once
  (:class:`StudyInputs`), with a sentence for each one that is not there yet.

The ROI table itself comes from :func:`qmri_kernels.pipeline.roi_table`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import derivatives as D
from ..dicom import load_series
from ..grids import Grid
from ..labels import MUSCLE_NAMES, label_index
from ..paper import FIGURE_PATIENTS
from ..scores import DEFAULT_READERS, ScoreError, ScoreStore
from ..scores.cohort_import import import_cohort_scores
from ..scores import ITEMS
from .agreement import score_kappa, scores_for_correlation
from .measurements import biopsy_measurements, reader_mean, readers_present
from .paper_check import subject_of_patient

__all__ = ["StudyInputError", "SCORE_IMPORT_ATTR", "NO_READERS", "study_scores",
           "clinical_table", "figure_subjects", "BiopsySlices", "biopsy_slices",
           "StudyInputs", "gather_inputs"]

#: The sentence a chapter shows while R1 and R2 have saved no masks.
NO_READERS = ("No readers' masks are saved yet for this cohort, so R1 and R2 cannot be "
              "compared: the readers draw and save them in the mask-QA chapter's widget. "
              "Until then the network's masks stand in for the readers' here.")

#: Key of ``DataFrame.attrs`` under which :func:`study_scores` says what the import did.
SCORE_IMPORT_ATTR = "score_import"


class StudyInputError(ValueError):
    """An input of the analysis that is not there yet (blinded scores, no clinical
    table) or that contradicts the store; the message is a sentence for the book."""


def _subjects(manifest) -> list[str]:
    return [s.id for s in manifest.subjects]


def study_scores(manifest, readers: Sequence[str] = DEFAULT_READERS) -> pd.DataFrame:
    """The two pathologists' current scores of the manifest's subjects, tidy.

    If the manifest names a score CSV (``scores``), each reader's rows are first brought
    into the store (``score_store``) and locked by
    :func:`qmri_kernels.scores.cohort_import.import_cohort_scores` — unless that reader is
    scoring by hand; a store made only from an older version of the CSV is rebuilt (the old
    file kept). Then the store's comparison — which opens only once both readers have
    locked — gives the scores.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort: its subjects, score CSV (``scores``, optional) and ``score_store``.
    readers : (2,) sequence of str
        The pathologists (default R3 and R4).

    Returns
    -------
    pandas.DataFrame
        Columns ``subject``, ``reader``, ``item``, ``score`` (int; a score a reader left
        empty is left out), only the manifest's subjects. ``attrs["score_import"]``
        (:data:`SCORE_IMPORT_ATTR`) holds a sentence on what the import did ("" without a
        CSV).

    Raises
    ------
    StudyInputError
        The readers have not both locked (the scores are blinded); the CSV cannot be
        imported (unreadable, a reader missing, or it contradicts locked scores entered by
        hand). The message says what to do.
    """
    readers = tuple(readers)
    note = ""
    if manifest.scores is not None:
        try:
            note = import_cohort_scores(manifest.score_store, manifest.scores,
                                        readers).describe()
        except ScoreError as err:
            raise StudyInputError(f"The pathologists' scores could not be taken from "
                                  f"{manifest.scores.name}: {err}.") from err
    with ScoreStore(manifest.score_store) as store:
        try:
            comparison = store.comparison(readers)
        except ScoreError as err:
            raise StudyInputError(
                f"The pathologists' scores are still blinded: {' and '.join(readers)} must "
                f"both lock their scores in the score-entry widget before they can be "
                f"compared ({err}).") from err
    wide = comparison.table
    wide = wide[wide["subject"].isin(_subjects(manifest))]
    tidy = wide.melt(id_vars=["subject", "item"], value_vars=list(readers),
                     var_name="reader", value_name="score").dropna(subset=["score"])
    tidy = tidy.astype({"score": "int64"})[["subject", "reader", "item", "score"]]
    tidy = tidy.sort_values(["subject", "reader"], kind="stable").reset_index(drop=True)
    tidy.attrs[SCORE_IMPORT_ATTR] = note
    return tidy


def clinical_table(manifest) -> pd.DataFrame:
    """The cohort's clinical table (``clinical_table`` of the manifest), one row per subject.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort; its ``clinical_table`` CSV is read, its subjects are kept.

    Returns
    -------
    pandas.DataFrame
        Index ``subject`` (the label, "01", from ``participant_id``, ``subject`` or the
        first column); the file's other columns as read; only the manifest's subjects, in
        its order.

    Raises
    ------
    StudyInputError
        The file is missing or unreadable, or has none of the manifest's subjects.
    """
    path = manifest.clinical_table
    try:
        table = pd.read_csv(path, dtype={"participant_id": str, "subject": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise StudyInputError(f"The clinical table {path.name} cannot be read ({err}).") \
            from err
    key = next((c for c in ("participant_id", "subject") if c in table.columns),
               table.columns[0])
    table.index = pd.Index(table[key].astype(str).str.removeprefix("sub-"), name="subject")
    table = table.drop(columns=[key])
    keep = [s for s in _subjects(manifest) if s in table.index]
    if not keep:
        raise StudyInputError(f"The clinical table {path.name} lists none of the "
                              f"manifest's subjects ({', '.join(_subjects(manifest))}).")
    return table.loc[keep]


def figure_subjects(manifest, clinical: pd.DataFrame | None = None,
                    patients: Sequence[int] = FIGURE_PATIENTS) -> dict[str, str]:
    """The subjects whose images the chapter shows, by a caption for each.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort (its subjects and example subject).
    clinical : pandas.DataFrame, optional
        :func:`clinical_table` (maps the paper's patient numbers to subjects).
    patients : sequence of int
        The paper's patient numbers (default those of Figs. 3–5: 8, 9 and 13).

    Returns
    -------
    dict of str to str
        Subject label → caption ("patient 8 (sub-08)"); those of ``patients`` that the
        cohort has, or else only the manifest's example subject ("sub-13, the example
        subject").
    """
    ids = set(_subjects(manifest))
    out = {}
    for patient in patients:
        subject = (subject_of_patient(clinical, patient) if clinical is not None
                   else f"{patient:02d}")
        if subject in ids and subject not in out:
            out[subject] = f"patient {patient} (sub-{subject})"
    if not out:
        ex = manifest.example_subject
        out[ex.id] = f"{ex.bids_id}, the example subject"
    return out


@dataclass(frozen=True)
class BiopsySlices:
    """One slice of each image through the biopsied muscle, for the image panels.

    Attributes
    ----------
    subject : str
    muscle : str
        The biopsied muscle in words ("right vastus lateralis").
    images : dict of str to (nx, ny) ndarray
        ``"t2w"`` (signal, arbitrary units), ``"ff_percent"`` (%), ``"water_t2_ms"`` (ms;
        NaN outside the fit).
    outlines : dict of str to (nx, ny) ndarray of bool
        The biopsied muscle's voxels on each image's slice (the same keys).
    z_mm : dict of str to float
        World z of each slice (mm).
    spacing_mm : dict of str to (float, float)
        In-plane pixel spacing of each image (mm), for the aspect ratio.
    bodies : dict of str to (nx, ny) ndarray of bool
        The subject's body on each slice (the T2-weighted image's body mask, the maps'
        fitted voxels), for cropping; empty if unknown.
    """

    subject: str
    muscle: str
    images: dict[str, np.ndarray] = field(repr=False)
    outlines: dict[str, np.ndarray] = field(repr=False)
    z_mm: dict[str, float]
    spacing_mm: dict[str, tuple[float, float]]
    bodies: dict[str, np.ndarray] = field(default_factory=dict, repr=False)


def _t2w_labels(manifest, subject: str, reader: str) -> np.ndarray:
    from .. import pipeline

    if reader == "auto":
        return pipeline.segmentation(manifest, subject)["labels_auto"]
    if manifest.subject(subject).reader_mask(reader) is not None:
        return pipeline.reader_labels(manifest, subject, reader)[D.label_spec(reader).name]
    return D.read_map(manifest.derivatives, subject, D.label_spec(reader).name)[0]


def _pick(mask: np.ndarray, z: np.ndarray, z_target: float | None) -> int:
    """Slice with the muscle nearest ``z_target`` (or with its largest area)."""
    area = mask.sum(axis=(0, 1))
    present = np.flatnonzero(area)
    if present.size == 0:
        return int(mask.shape[2] // 2)
    if z_target is None:
        return int(present[np.argmax(area[present])])
    return int(present[np.argmin(np.abs(z[present] - z_target))])


def biopsy_slices(manifest, subject: str, reader: str = "auto") -> BiopsySlices:
    """The T2-weighted image, FF map and water-T2 map through the biopsied muscle.

    The T2-weighted slice is the one where ``reader``'s labels of the biopsied muscle are
    largest; on the FF (MEGRE) and water-T2 (MESE) grids — other slices, other positions —
    the slice nearest to it in world z that holds the transferred muscle is taken.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort (biopsy muscle and side; maps computed by the pipeline if missing).
    subject : str
        ``"13"`` or ``"sub-13"``.
    reader : str
        Whose outline: ``"auto"`` (the network) or a reader with saved labels.

    Returns
    -------
    BiopsySlices
        (nx, ny) slices of the T2-weighted image (arbitrary units), FF (%) and water T2
        (ms), the muscle's outline on each, their world z (mm) and pixel spacing (mm).

    Raises
    ------
    FileNotFoundError
        If ``reader`` has no labels for this subject.
    """
    from .. import pipeline
    from ..pipeline.body import body_mask

    entry = manifest.subject(subject)
    value = label_index(entry.biopsy_muscle, entry.biopsy_side)
    pipeline.ensure_ingested(manifest, entry.id)
    t2w = load_series(manifest.rawdata, entry.id, "t2w")
    labels_t2w = _t2w_labels(manifest, entry.id, reader) == value
    moved = pipeline.transferred_labels(manifest, entry.id, reader=reader)
    fw, t2 = pipeline.fat_water_maps(manifest, entry.id), pipeline.t2_maps(manifest, entry.id)
    sources = {"t2w": (t2w.data, t2w.affine, labels_t2w, 1.0),
               "ff_percent": (fw["pdff"], fw.affine("pdff"),
                              moved[f"labels_{reader}_megre"] == value, 100.0),
               "water_t2_ms": (t2["water_t2"], t2.affine("water_t2"),
                               moved[f"labels_{reader}_mese"] == value, 1000.0)}
    images, outlines, z_mm, spacing, bodies = {}, {}, {}, {}, {}
    z_target = None
    for name, (data, affine, mask, scale) in sources.items():
        grid = Grid(data.shape[:3], affine, 0.0)
        z = grid.slice_z()
        k = _pick(mask, z, z_target)
        z_target = z[k] if z_target is None else z_target
        images[name] = np.asarray(data[..., k], dtype=float) * scale
        outlines[name] = np.asarray(mask[..., k], dtype=bool)
        z_mm[name] = float(z[k])
        spacing[name] = (float(grid.zooms[0]), float(grid.zooms[1]))
        bodies[name] = (body_mask(data)[..., k] if name == "t2w"
                        else np.isfinite(images[name]))
    muscle = f"{entry.biopsy_side} {MUSCLE_NAMES.get(entry.biopsy_muscle, entry.biopsy_muscle)}"
    return BiopsySlices(entry.id, muscle, images, outlines, z_mm, spacing, bodies)


@dataclass(frozen=True)
class StudyInputs:
    """Everything the correlation analysis reads, gathered from the cohort.

    Attributes
    ----------
    roi : pandas.DataFrame
        The pipeline's ROI table.
    readers : tuple of str
        ``("R1", "R2")`` when both have saved masks, else ``("auto",)`` (the network).
    measurements : pandas.DataFrame
        The biopsied muscle per reader (:func:`~qmri_kernels.results.biopsy_measurements`).
    mri : pandas.DataFrame
        Index ``subject``; ``ff_percent``, ``water_t2_ms``: the readers' mean.
    contra_reader : str
        Who measured the contralateral muscle: R2, as in the paper, or ``"auto"``.
    mri_contra : pandas.DataFrame
        The contralateral muscle's values (same layout as ``mri``).
    scores : pandas.DataFrame or None
        Tidy pathologists' scores (:func:`study_scores`); None while blinded.
    kappa : pandas.DataFrame or None
        :func:`~qmri_kernels.results.score_kappa` of R3/R4 (None without scores).
    score_mean : pandas.DataFrame
        Index ``subject`` (those of ``mri``); one column per item: the pathologists' mean
        score, NaN without scores.
    notes : tuple of str
        Sentences for the book: what was imported, what is missing.
    """

    roi: pd.DataFrame = field(repr=False)
    readers: tuple[str, ...]
    measurements: pd.DataFrame = field(repr=False)
    mri: pd.DataFrame = field(repr=False)
    contra_reader: str
    mri_contra: pd.DataFrame = field(repr=False)
    scores: pd.DataFrame | None = field(repr=False)
    kappa: pd.DataFrame | None = field(repr=False)
    score_mean: pd.DataFrame = field(repr=False)
    notes: tuple[str, ...] = ()


def gather_inputs(manifest, readers: Sequence[str] = ("R1", "R2"),
                  pathologists: Sequence[str] = DEFAULT_READERS) -> StudyInputs:
    """The ROI table, the readers' measurements and the pathologists' scores, together.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort; missing maps are computed by the pipeline stages.
    readers : (2,) sequence of str
        The readers of the masks (R1, R2); without both, the network's masks are used.
    pathologists : (2,) sequence of str
        The readers of the slides (R3, R4).

    Returns
    -------
    StudyInputs
        Never raises for a missing reader or blinded scores: ``notes`` says so instead and
        the affected parts are the network's values or NaN.
    """
    from .. import pipeline

    notes = []
    roi = pipeline.roi_table(manifest)
    present = readers_present(roi, readers)
    if not present:
        notes.append(NO_READERS)
    used = present or ("auto",)
    measurements = biopsy_measurements(roi, used)
    mri = reader_mean(measurements)
    contra_reader = present[1] if present else "auto"
    mri_contra = reader_mean(biopsy_measurements(roi, (contra_reader,), where="contralateral"))
    scores = kappa = None
    score_mean = pd.DataFrame(np.nan, index=mri.index, columns=list(ITEMS))
    try:
        scores = study_scores(manifest, pathologists)
        if scores.attrs.get(SCORE_IMPORT_ATTR):
            notes.append(scores.attrs[SCORE_IMPORT_ATTR])
        kappa = score_kappa(scores, ITEMS, pathologists)
        score_mean = scores_for_correlation(scores, kappa, pathologists)[0].reindex(mri.index)
    except StudyInputError as err:
        notes.append(str(err))
    return StudyInputs(roi, tuple(used), measurements, mri, contra_reader, mri_contra,
                       scores, kappa, score_mean, tuple(notes))
