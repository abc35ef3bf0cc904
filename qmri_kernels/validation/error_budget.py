"""Error budget of the biopsied muscle's FF and water T2: how much each source contributes.

The number a correlation with histology uses is one mean per patient: the biopsied
muscle's PDFF (%) and EPG water T2 (ms) under the pipeline's eroded network labels. This
module takes that number apart. For each **source** it changes one thing and records how
far the biopsied-muscle mean moves (the source's error, in pp and ms):

noise
    Fresh complex Gaussian noise of the images' own SD added to the ROI's echoes, refitted
    ``n_repeats`` times (seeded); the noise error of one acquisition. The pipeline
    denoises the spin echo before its fit, so for water T2 this is an upper bound.
model assumptions (refits of the ROI voxels only, from the same echoes)
    ``slice_profile`` — the EPG fit's default slice profile instead of the pulses the
    manifest gives (what not knowing the sequence's pulses costs; 0 if the pipeline uses
    the default); ``fat_t2_short`` / ``fat_t2_long`` — the fat T2 20 % off;
    ``fat_spectrum`` — the six-peak fat spectrum instead of nine peaks (the simulated
    scanner's), in the Dixon FF and, through the fat share fixed in the T2 fit, in water
    T2; ``b1`` — B1 taken as nominal instead of the smoothed B1 map.
masks (the pipeline's fitted maps, other ROIs)
    ``segmentation`` — network labels against the simulated anatomy's labels, both carried
    onto the map grid the same way; ``transfer`` — the anatomy's labels carried from the
    T2-weighted grid against the same labels drawn on the map grid itself (the slices do
    not match); ``erosion`` — the ROI as transferred against the eroded one (what
    the border voxels, partial volume with fat and fascia, would add);
    ``reader`` — reader R2's ROI minus reader R1's.
end to end
    The pipeline's value minus the true mean (:func:`~qmri_kernels.validation.
    segmentation.biopsy_end_to_end`): all sources together.

Segmentation, transfer and the end-to-end row need the simulated cohort's ground truth;
the other rows are differences between two analyses of the same data and are available
for any cohort.

A source's error moves a patient's value; what matters for a correlation is how it varies
*between* patients against the spread of the patients' values. :func:`reliability` turns
the budget into a reliability per source, rel = var(value) / (var(value) + var(error)), and
:func:`attenuation_vs_paper` multiplies the paper's correlations by √rel (Spearman 1904).

The simulated scanner is not the fits' model (no "inverse crime", Kaipio & Somersalo 2005;
:func:`qmri_kernels.phantom.scanner_physics.scanner_vs_fit_assumptions`), so the model rows
measure real mismatches, of the size :mod:`tests.t2.test_robustness` pins on single voxels.

References
----------
Kaipio J, Somersalo E (2005). Statistical and Computational Inverse Problems. Springer,
New York (Applied Mathematical Sciences 160).
Spearman C (1904). The proof and measurement of association between two things. Am J
Psychol 15:72-101. doi:10.2307/1412159
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..labels import label_index
from ..masks import erode_labels, transfer_labels
from ..physics import DEFAULT_FAT_SPECTRUM, REN2008_FAT_SPECTRUM
from ..pipeline.stages import ROI_ERODE_MM
from ..stats import attenuated_rho
from ._budget_refits import dixon_roi_errors, epg_roi_errors, roi_mean
from .truth import has_truth, load_truth, truth_grid

__all__ = ["Source", "SOURCES", "MIN_SUBJECTS", "BUDGET_COLUMNS", "MEASURES", "BudgetError",
           "subject_budget", "error_budget", "patient_values", "per_subject",
           "pooled_budget", "reliability", "attenuation_vs_paper", "improvements",
           "summary", "sources_table", "roi_mean"]


class BudgetError(ValueError):
    """An error-budget input is unusable (the message names the argument)."""


@dataclass(frozen=True)
class Source:
    """One source of error in the budget.

    Attributes
    ----------
    key : str
        Column value of ``source`` in the budget tables.
    group : str
        ``noise``, ``model``, ``masks``, ``reader`` or ``all``.
    label : str
        Short name for tables and figures.
    what : str
        What is changed to measure it.
    remedy : str
        What would shrink it, as a study design choice.
    reference : bool
        Needs the simulated cohort's reference labels or values.
    acting : bool
        Acts on the pipeline as it runs (False: a what-if, e.g. B1 taken as nominal,
        which the pipeline avoids by mapping B1).
    """

    key: str
    group: str
    label: str
    what: str
    remedy: str
    reference: bool = False
    acting: bool = True


#: Every source, in the order of the tables and figures.
SOURCES: tuple[Source, ...] = (
    Source("noise", "noise", "noise",
           "fresh noise of the images' own SD added to the echoes, refitted",
           "more signal per voxel (more echoes or averages) or a larger ROI"),
    Source("slice_profile", "model", "slice profile not known",
           "the EPG fit's default slice profile instead of the sequence's pulses",
           "telling the fit the spin echo's pulse shapes and slice widths (from the "
           "sequence documentation)", acting=False),
    Source("fat_t2_short", "model", "fat T2 20 % short",
           "the fit's fat T2 shortened by 20 %",
           "a fat T2 calibrated on each patient's fat-rich voxels"),
    Source("fat_t2_long", "model", "fat T2 20 % long",
           "the fit's fat T2 lengthened by 20 %",
           "a fat T2 calibrated on each patient's fat-rich voxels"),
    Source("fat_spectrum", "model", "six-peak fat spectrum",
           "the six-peak fat spectrum against the nine peaks of the simulated fat",
           "a fat spectrum measured by spectroscopy in the study's population"),
    Source("b1", "model", "B1 taken as nominal",
           "B1 fixed at 1 instead of the smoothed B1 map",
           "mapping B1 (a measured B1 map, or the EPG fit's own estimate as here)",
           acting=False),
    Source("segmentation", "masks", "network segmentation",
           "the network's labels against the simulated anatomy's, carried over alike",
           "masks checked and corrected by a reader", True),
    Source("transfer", "masks", "mask transfer",
           "labels carried from the T2-weighted slices against labels drawn on the map's "
           "own slices", "quantitative series planned on the same slice positions", True),
    Source("erosion", "masks", "no ROI erosion",
           "the ROI as transferred, border voxels kept, against the ROI eroded by "
           f"{ROI_ERODE_MM:g} mm", "eroding the masks by one pixel (as the pipeline does)",
           acting=False),
    Source("reader", "reader", "second reader (R2 − R1)",
           "reader R2's corrected masks against reader R1's",
           "a second reader and consensus masks"),
    Source("end_to_end", "all", "all sources (end to end)",
           "the pipeline's value against the simulated patient's own mean",
           "", True),
)
_BY_KEY = {s.key: s for s in SOURCES}
_SPECTRA = {sp.name: sp for sp in (DEFAULT_FAT_SPECTRUM, REN2008_FAT_SPECTRUM)}

#: (measure of the paper's tests, error column, unit)
MEASURES: tuple[tuple[str, str, str], ...] = (("ff_percent", "ff_error_pp", "pp"),
                                             ("water_t2_ms", "water_t2_error_ms", "ms"))
#: Columns of :func:`error_budget`.
BUDGET_COLUMNS: tuple[str, ...] = ("source", "group", "label", "subject", "repeat",
                                   "ff_error_pp", "water_t2_error_ms")


def sources_table(keys: Iterable[str] | None = None) -> pd.DataFrame:
    """What each source is and what would shrink it.

    Parameters
    ----------
    keys : iterable of str, optional
        Sources to list (e.g. ``budget.source.unique()``); default all.

    Returns
    -------
    pandas.DataFrame
        Index ``label``; columns ``group``, ``what is changed``, ``what would shrink it``.
    """
    wanted = [s for s in SOURCES if keys is None or s.key in set(keys)]
    return pd.DataFrame([{"label": s.label, "group": s.group, "what is changed": s.what,
                          "what would shrink it": s.remedy} for s in wanted]
                        ).set_index("label")


# ----------------------------------------------------------------------- one subject

def _biopsy_mask(labels: np.ndarray, affine: np.ndarray, index: int, erode: bool
                 ) -> np.ndarray:
    """The biopsied muscle's voxels, eroded in-plane as the ROI table erodes them."""
    if erode and ROI_ERODE_MM > 0:
        spacing = tuple(np.linalg.norm(np.asarray(affine)[:3, :2], axis=0))
        labels = erode_labels(labels, ROI_ERODE_MM, spacing, labels_to_erode=[index])
    return np.asarray(labels) == index


def _rows(out: list, key: str, subject: str, ff=np.nan, t2=np.nan, repeat: int = 0) -> None:
    s = _BY_KEY[key]
    out.append({"source": key, "group": s.group, "label": s.label, "subject": subject,
                "repeat": repeat, "ff_error_pp": float(ff), "water_t2_error_ms": float(t2)})


def _rng(seed: int, subject: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(subject.encode())])


def _refit_rows(manifest: Any, entry: Any, stages: tuple, rois: dict, n_repeats: int,
                seed: int, out: list) -> None:
    """Noise and model-assumption rows from refits of the ROI voxels."""
    from ..fatwater import background_noise_sigma, load_megre
    from ..t2 import EPGT2Model, load_mese

    rng = _rng(seed, entry.id)
    fw, t2 = stages
    megre = load_megre(manifest, entry.id)
    body = np.isfinite(fw["pdff"])                     # the fit's body mask
    background = ~body
    background[:, :, 1::3] = background[:, :, 2::3] = False     # a third of it suffices
    sigma_gre = background_noise_sigma(megre.signal, background)
    b0 = float(fw.sidecars["pdff"].get("MagneticFieldStrength", megre.field_strength))
    dixon = dixon_roi_errors(megre.signal, rois["megre"], megre.echo_times,
                             field_strength=b0,
                             fat_spectrum=_SPECTRA[manifest.acquisition.fat_spectrum],
                             sigma=sigma_gre, n_repeats=n_repeats, rng=rng)
    mese = load_mese(manifest, entry.id)
    acq = manifest.acquisition
    kw = {} if acq.fat_t2_ms is None else {"fat_t2": acq.fat_t2_ms / 1e3}
    model = EPGT2Model.from_echo_times(mese.echo_times, slice_profile=acq.mese_slice_profile,
                                       **kw)
    roi = rois["mese"] & np.isfinite(t2["water_t2"])
    six = dixon["base_percent"]
    nine = six - dixon["fat_spectrum_pp"]
    sigma_se = float(t2.sidecars["water_t2"].get("FitSettings", {}).get("NoiseSigma", np.nan))
    if not np.isfinite(sigma_se) or sigma_se <= 0:
        from ..t2 import mp_noise_sigma
        sigma_se = mp_noise_sigma(mese.magnitude, np.isfinite(t2["t2"]))
    epg = epg_roi_errors(mese.magnitude[roi], model, fat_share=t2["epg_fat_fraction"][roi],
                         b1=t2["b1"][roi], sigma=sigma_se, n_repeats=n_repeats, rng=rng,
                         nine_over_six=nine / six if six > 0 else np.nan)
    for k, (dff, dt2) in enumerate(zip(dixon["noise_pp"], epg["noise_ms"]), start=1):
        _rows(out, "noise", entry.id, dff, dt2, repeat=k)
    _rows(out, "slice_profile", entry.id, t2=epg["slice_profile_ms"])
    _rows(out, "fat_t2_short", entry.id, t2=epg["fat_t2_short_ms"])
    _rows(out, "fat_t2_long", entry.id, t2=epg["fat_t2_long_ms"])
    _rows(out, "fat_spectrum", entry.id, dixon["fat_spectrum_pp"], epg["fat_spectrum_ms"])
    _rows(out, "b1", entry.id, t2=epg["b1_ms"])


def _stages(manifest: Any, sid: str) -> tuple:
    from .. import pipeline
    return pipeline.fat_water_maps(manifest, sid), pipeline.t2_maps(manifest, sid)


def _maps(stages: tuple) -> dict:
    fw, t2 = stages
    return {"megre": (fw["pdff"], fw.affine("pdff"), 100.0),
            "mese": (t2["water_t2"], t2.affine("water_t2"), 1e3)}


def _means(maps: dict, masks: dict) -> tuple[float, float]:
    return tuple(roi_mean(maps[g][0], masks[g], maps[g][2]) for g in ("megre", "mese"))


def subject_budget(manifest: Any, subject: str, *, n_repeats: int = 5, seed: int = 0,
                   readers: Sequence[str] = ("R1", "R2"), refits: bool = True
                   ) -> pd.DataFrame:
    """The error budget of one subject's biopsied muscle.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort; the pipeline's cached maps and labels are used (computed if missing).
    subject : str
        ``"13"`` or ``"sub-13"``.
    n_repeats : int
        Noise draws (>= 1).
    seed : int
        Seeds the noise (with the subject id: reproducible and order-independent).
    readers : sequence of two str
        The readers of the ``reader`` row (second minus first); the row is left out if
        either has no labels for the subject.
    refits : bool
        False leaves out the noise and model rows (masks only; fast).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`BUDGET_COLUMNS`: one row per source (``n_repeats`` rows for
        ``noise``, ``repeat`` 1..n; 0 otherwise); ``ff_error_pp`` (percentage points)
        and ``water_t2_error_ms`` (ms) are the change of the biopsied-muscle mean the
        source causes; NaN where a source does not act on a measure. Rows needing the
        simulated cohort's reference (segmentation, transfer, end to end) only when
        :func:`~qmri_kernels.validation.has_truth`.

    Raises
    ------
    BudgetError
        If ``n_repeats`` < 1 or the biopsied muscle has no voxel in the eroded ROI.
    KeyError
        If the subject is not in the manifest.
    """
    from .. import pipeline
    from .segmentation import biopsy_truth

    if int(n_repeats) < 1:
        raise BudgetError(f"n_repeats must be >= 1, got {n_repeats}")
    entry = manifest.subject(subject)
    idx = label_index(entry.biopsy_muscle, entry.biopsy_side)
    stages = _stages(manifest, entry.id)
    maps = _maps(stages)
    auto = pipeline.transferred_labels(manifest, entry.id)
    net = {g: auto.maps[f"labels_auto_{g}"] for g in ("megre", "mese")}
    rois = {g: _biopsy_mask(*net[g], idx, True) for g in net}
    for g, m in rois.items():
        if not m.any():
            raise BudgetError(f"{entry.bids_id}: the eroded {entry.biopsy_side} "
                              f"{entry.biopsy_muscle} has no voxel on the {g} grid")
    out: list[dict] = []
    if refits:
        _refit_rows(manifest, entry, stages, rois, int(n_repeats), seed, out)
    value = _means(maps, rois)
    raw = _means(maps, {g: _biopsy_mask(*net[g], idx, False) for g in net})
    _rows(out, "erosion", entry.id, raw[0] - value[0], raw[1] - value[1])
    if len(readers) == 2 and set(readers) <= set(pipeline.saved_readers(manifest,
                                                                        [entry.id])):
        r = [pipeline.transferred_labels(manifest, entry.id, reader=rd) for rd in readers]
        vals = [_means(maps, {g: _biopsy_mask(*res.maps[f"labels_{rd}_{g}"], idx, True)
                              for g in net}) for rd, res in zip(readers, r)]
        _rows(out, "reader", entry.id, vals[1][0] - vals[0][0], vals[1][1] - vals[0][1])
    if has_truth(manifest):
        t2w = load_truth(manifest, entry.id, "t2w")["labels"]
        src = truth_grid(manifest, entry.id, "t2w")
        moved, native = {}, {}
        for g in net:
            grid = truth_grid(manifest, entry.id, g)
            tr = transfer_labels(t2w, src, grid, method="shape")
            moved[g] = _biopsy_mask(tr.labels, grid.affine, idx, True)
            own = load_truth(manifest, entry.id, g)["labels"]
            native[g] = _biopsy_mask(own, grid.affine, idx, True) & tr.covered
        ref_moved, ref_native = _means(maps, moved), _means(maps, native)
        _rows(out, "segmentation", entry.id, value[0] - ref_moved[0],
              value[1] - ref_moved[1])
        _rows(out, "transfer", entry.id, ref_moved[0] - ref_native[0],
              ref_moved[1] - ref_native[1])
        ref = biopsy_truth(manifest, entry.id)
        _rows(out, "end_to_end", entry.id, value[0] - ref["ff_true_percent"],
              value[1] - ref["water_t2_true_ms"])
    return pd.DataFrame(out, columns=list(BUDGET_COLUMNS))


def error_budget(manifest: Any, subjects: Iterable[str] | None = None, *,
                 n_repeats: int = 5, seed: int = 0, readers: Sequence[str] = ("R1", "R2"),
                 refits: bool = True) -> pd.DataFrame:
    """:func:`subject_budget` of every subject, as one tidy table.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort.
    subjects : iterable of str, optional
        Default: every subject of the manifest.
    n_repeats, seed, readers, refits
        As :func:`subject_budget`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`BUDGET_COLUMNS`, sources in the order of :data:`SOURCES`, subjects
        in manifest order.
    """
    ids = [s.id for s in manifest.subjects] if subjects is None else list(subjects)
    frames = [subject_budget(manifest, sid, n_repeats=n_repeats, seed=seed, readers=readers,
                             refits=refits) for sid in ids]
    table = pd.concat(frames, ignore_index=True)
    order = {s.key: i for i, s in enumerate(SOURCES)}
    table = table.sort_values(["source", "subject", "repeat"],
                              key=lambda c: c.map(order) if c.name == "source" else c,
                              kind="stable")
    return table.reset_index(drop=True)


#: Fewest patients whose values give a between-patient variance for :func:`reliability`.
MIN_SUBJECTS = 3


def patient_values(manifest: Any, subjects: Iterable[str] | None = None
                   ) -> tuple[pd.DataFrame, str]:
    """The patients' biopsied-muscle values whose spread a reliability is measured against.

    With ground truth: the true means (:func:`~qmri_kernels.validation.segmentation.
    biopsy_truth`); without: the pipeline's own values (the network's eroded ROI on the
    fitted maps, as the ROI table measures them).

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort.
    subjects : iterable of str, optional
        Default: every subject of the manifest.

    Returns
    -------
    values : pandas.DataFrame
        Index ``subject``; columns ``ff_percent`` (%) and ``water_t2_ms`` (ms).
    kind : {"true", "measured"}
        What the values are; pass it to :func:`reliability` as ``values_are``.
    """
    from .. import pipeline
    from .segmentation import biopsy_truth

    ids = [s.id for s in manifest.subjects] if subjects is None else list(subjects)
    truth = has_truth(manifest)
    rows = {}
    for sid in ids:
        entry = manifest.subject(sid)
        if truth:
            t = biopsy_truth(manifest, entry.id)
            rows[entry.id] = (t["ff_true_percent"], t["water_t2_true_ms"])
            continue
        idx = label_index(entry.biopsy_muscle, entry.biopsy_side)
        lab = pipeline.transferred_labels(manifest, entry.id)
        rows[entry.id] = _means(_maps(_stages(manifest, entry.id)),
                                {g: _biopsy_mask(*lab.maps[f"labels_auto_{g}"], idx, True)
                                 for g in ("megre", "mese")})
    values = pd.DataFrame.from_dict(rows, orient="index", columns=["ff_percent",
                                                                   "water_t2_ms"])
    values.index.name = "subject"
    return values, ("true" if truth else "measured")


# ------------------------------------------------------------------------ summaries

def _check(budget: pd.DataFrame) -> None:
    missing = set(BUDGET_COLUMNS) - set(budget.columns)
    if missing:
        raise BudgetError(f"budget lacks the columns {sorted(missing)} (make it with "
                          "error_budget)")


def per_subject(budget: pd.DataFrame) -> pd.DataFrame:
    """One row per source × subject: the noise repeats averaged, their SD beside.

    Parameters
    ----------
    budget : pandas.DataFrame
        :func:`error_budget`.

    Returns
    -------
    pandas.DataFrame
        ``source``, ``label``, ``subject``, ``ff_error_pp``, ``water_t2_error_ms`` (means
        over the repeats), ``ff_sd_pp``, ``water_t2_sd_ms`` (SD over the repeats; NaN for
        sources without repeats).
    """
    _check(budget)
    g = budget.groupby(["source", "label", "subject"], sort=False)
    mean = g[["ff_error_pp", "water_t2_error_ms"]].mean()
    sd = g[["ff_error_pp", "water_t2_error_ms"]].std(ddof=1)
    sd.columns = ["ff_sd_pp", "water_t2_sd_ms"]
    return mean.join(sd).reset_index()


def pooled_budget(budget: pd.DataFrame) -> pd.DataFrame:
    """The budget over the cohort: per source, the mean, SD and RMS of the errors.

    The SD and RMS are taken over every row of a source (subjects, and for noise the
    repeats too): the scatter a source adds between patients, and its typical size.

    Parameters
    ----------
    budget : pandas.DataFrame
        :func:`error_budget`.

    Returns
    -------
    pandas.DataFrame
        Index ``label`` (order of :data:`SOURCES`); columns ``source``, ``n_subjects``,
        ``ff_mean_pp``, ``ff_sd_pp``, ``ff_rms_pp``, ``water_t2_mean_ms``,
        ``water_t2_sd_ms``, ``water_t2_rms_ms``.
    """
    _check(budget)
    rows = []
    for s in SOURCES:
        sel = budget[budget["source"] == s.key]
        if sel.empty:
            continue
        row = {"label": s.label, "source": s.key, "n_subjects": int(sel.subject.nunique())}
        for stem, col, unit in (("ff", "ff_error_pp", "pp"),
                                ("water_t2", "water_t2_error_ms", "ms")):
            e = sel[col].astype(float).dropna()
            row[f"{stem}_mean_{unit}"] = float(e.mean()) if e.size else np.nan
            row[f"{stem}_sd_{unit}"] = float(e.std(ddof=1)) if e.size > 1 else np.nan
            row[f"{stem}_rms_{unit}"] = float(np.sqrt((e ** 2).mean())) if e.size else np.nan
        rows.append(row)
    return pd.DataFrame(rows).set_index("label")


def reliability(budget: pd.DataFrame, values: pd.DataFrame, *, values_are: str = "true"
                ) -> pd.DataFrame:
    """Reliability of each measure against each source: the share of between-patient
    variance that is not error.

    rel = var(value) / (var(value) + var(error)) with the patients' true values
    (``values_are="true"``), or 1 − var(error) / var(value) with the measured values
    (classical test theory: var(measured) = var(true) + var(error); floored at 0.01).
    var(error) is taken over the source's rows (:func:`pooled_budget`'s SD squared); the
    reader row holds R2 − R1, whose variance is twice one reader's, so half of it is
    used. ``combined`` adds the variances of the sources that act on the pipeline as it
    runs (:attr:`Source.acting`; the fat T2 once: the larger of its two rows), taken as
    independent; ``end_to_end`` uses that row directly. A constant bias costs no reliability; an error that grows with the value
    (the fat spectrum's, proportional to FF) scales rather than scatters, so its
    reliability here is a lower bound.

    Parameters
    ----------
    budget : pandas.DataFrame
        :func:`error_budget`.
    values : pandas.DataFrame
        One row per subject (index: subject id), columns ``ff_percent`` and
        ``water_t2_ms``.
    values_are : {"true", "measured"}
        What ``values`` hold.

    Returns
    -------
    pandas.DataFrame
        One row per source × measure, sources in the order of :data:`SOURCES` then
        ``combined`` (a source missing for a measure has no row): ``measure``, ``source``,
        ``label``, ``error_var``, ``value_var``, ``reliability``, ``factor`` (√rel, the
        attenuation of a correlation when the other variable is exact).

    Raises
    ------
    BudgetError
        If ``values_are`` is unknown, ``values`` lacks a measure or has < 3 subjects.

    Examples
    --------
    >>> b = pd.DataFrame({"source": "noise", "group": "noise", "label": "noise",
    ...                   "subject": ["1", "2", "3"], "repeat": 1,
    ...                   "ff_error_pp": [-1.0, 0.0, 1.0], "water_t2_error_ms": 0.0})
    >>> v = pd.DataFrame({"ff_percent": [2.0, 5.0, 8.0], "water_t2_ms": [40, 50, 60.]})
    >>> float(reliability(b, v).query("measure == 'ff_percent' and source == 'noise'")
    ...       .reliability.iloc[0])
    0.9
    """
    _check(budget)
    if values_are not in ("true", "measured"):
        raise BudgetError(f"values_are must be 'true' or 'measured', got {values_are!r}")
    if len(values) < MIN_SUBJECTS:
        raise BudgetError(f"values needs at least {MIN_SUBJECTS} subjects, got {len(values)}")
    found: dict[str, dict[str, tuple[float, float]]] = {}
    for measure, col, _ in MEASURES:
        if measure not in values:
            raise BudgetError(f"values lacks the column {measure!r}")
        vvar = float(pd.Series(values[measure], dtype=float).var(ddof=1))
        evar: dict[str, float] = {}
        for s in SOURCES:
            e = budget.loc[budget["source"] == s.key, col].astype(float).dropna()
            if e.size < 2:
                continue
            evar[s.key] = float(e.var(ddof=1)) / (2.0 if s.key == "reader" else 1.0)
        parts = [k for k in evar if _BY_KEY[k].acting
                 and k not in ("end_to_end", "fat_t2_long", "fat_t2_short")]
        fat = [evar[k] for k in ("fat_t2_short", "fat_t2_long") if k in evar]
        evar["combined"] = sum(evar[k] for k in parts) + (max(fat) if fat else 0.0)
        found[measure] = {k: (v, vvar) for k, v in evar.items()}
    rows = []
    for key in [*(s.key for s in SOURCES), "combined"]:          # sources in table order
        for measure, _, _ in MEASURES:
            if key not in found[measure]:
                continue
            var, vvar = found[measure][key]
            if values_are == "true":
                rel = vvar / (vvar + var) if vvar + var > 0 else np.nan
            else:
                rel = max(1.0 - var / vvar, 0.01) if vvar > 0 else np.nan
            label = "independent sources combined" if key == "combined" else _BY_KEY[key].label
            rows.append({"measure": measure, "source": key, "label": label,
                         "error_var": var, "value_var": vvar, "reliability": rel,
                         "factor": float(np.sqrt(rel)) if np.isfinite(rel) else np.nan})
    return pd.DataFrame(rows)


def attenuation_vs_paper(reliabilities: pd.DataFrame, *, source: str = "combined",
                         score_reliability: float = 1.0, n: int = 13) -> pd.DataFrame:
    """The paper's correlations as this budget's errors would weaken them.

    ρ_observed = ρ_true · √(rel_MRI · rel_score) (Spearman 1904; exact for Pearson's r
    with independent errors, an approximation for Spearman's ρ). Read two ways: if the
    true correlation were the paper's, this is what a study with these errors would see;
    and the paper's ρ divided by the factor is the true one its value implies.

    Parameters
    ----------
    reliabilities : pandas.DataFrame
        :func:`reliability`.
    source : str
        Which row's reliability (default ``combined``; ``end_to_end`` or one source).
    score_reliability : float
        Reliability of the histology scores, in (0, 1] (1: exact scores).
    n : int
        Patients, for the paper's bounds (:func:`qmri_kernels.results.paper_effect_sizes`).

    Returns
    -------
    pandas.DataFrame
        One row per test of the paper: ``measure``, ``item``, ``paper`` (as printed),
        ``rho_low``, ``rho_high`` (|ρ| or its bounds), ``reliability_mri``, ``factor``,
        ``rho_seen_low``, ``rho_seen_high`` (the paper's |ρ| attenuated),
        ``rho_implied_low`` (the paper's lower |ρ| disattenuated; may exceed 1).

    Raises
    ------
    BudgetError
        If ``source`` has no reliability for a measure.
    qmri_kernels.stats.StatsError
        If ``score_reliability`` is outside (0, 1].
    """
    from ..results import paper_effect_sizes

    rel = reliabilities[reliabilities["source"] == source].set_index("measure")["reliability"]
    out = paper_effect_sizes(n)
    missing = set(out["measure"]) - set(rel.dropna().index)
    if missing:
        raise BudgetError(f"reliabilities has no {source!r} row for {sorted(missing)}")
    out["reliability_mri"] = out["measure"].map(rel).astype(float)
    out["factor"] = [float(attenuated_rho(1.0, r, score_reliability))
                     for r in out["reliability_mri"]]
    out["rho_seen_low"] = out["rho_low"] * out["factor"]
    out["rho_seen_high"] = out["rho_high"].clip(upper=1.0) * out["factor"]
    out["rho_implied_low"] = out["rho_low"] / out["factor"]
    return out[["measure", "item", "paper", "rho_low", "rho_high", "reliability_mri",
                "factor", "rho_seen_low", "rho_seen_high", "rho_implied_low"]]


def improvements(reliabilities: pd.DataFrame, pooled: pd.DataFrame, top: int = 2
                 ) -> list[str]:
    """Sentences naming, per measure, the sources that cost the most reliability and
    what would shrink them; then what the what-if rows say the pipeline already gains.

    Parameters
    ----------
    reliabilities : pandas.DataFrame
        :func:`reliability`.
    pooled : pandas.DataFrame
        :func:`pooled_budget` (for the errors' sizes).
    top : int
        Acting sources named per measure.

    Returns
    -------
    list of str
        Markdown sentences: per measure the ``top`` acting sources, largest error variance
        first, then one per what-if source (:attr:`Source.acting` False) that moves the
        values at all.
    """
    names = {"ff_percent": ("FF", "ff", "pp"), "water_t2_ms": ("water T2", "water_t2", "ms")}
    by_key = pooled.reset_index().set_index("source")
    out, later = [], []
    for measure, (name, stem, unit) in names.items():
        r = reliabilities[(reliabilities["measure"] == measure)
                          & ~reliabilities["source"].isin(["combined", "end_to_end"])]
        acting = r[[_BY_KEY[k].acting for k in r["source"]]]
        fat_t2 = acting[acting["source"].str.startswith("fat_t2")]
        if len(fat_t2) > 1:                       # one fat T2 error, the larger row
            acting = acting.drop(fat_t2["error_var"].idxmin())
        total = float(acting["error_var"].sum())
        for row in acting.sort_values("error_var", ascending=False).head(top).itertuples():
            if total <= 0 or row.error_var <= 0:
                continue
            s = _BY_KEY[row.source]
            rms = float(by_key.loc[row.source, f"{stem}_rms_{unit}"])
            out.append(f"**{name}**: {s.label} scatters the patients' values by "
                       f"{np.sqrt(row.error_var):.2g} {unit} (typical size {rms:.2g} {unit}; "
                       f"{100.0 * row.error_var / total:.0f} % of the error variance of the "
                       f"sources acting here; reliability {row.reliability:.3f} against it "
                       f"alone). What would shrink it: {s.remedy}.")
        for row in r[[not _BY_KEY[k].acting for k in r["source"]]].itertuples():
            s = _BY_KEY[row.source]
            rms = float(by_key.loc[row.source, f"{stem}_rms_{unit}"])
            if not rms > 0:
                continue
            later.append(f"**{name}**, what if \"{s.label}\": the values would move by "
                         f"{rms:.2g} {unit} on average (reliability {row.reliability:.3f} "
                         f"against it alone); {s.remedy} avoids it.")
    return out + later


def summary(reliabilities: pd.DataFrame, attenuation: pd.DataFrame,
            reader_icc: dict[str, float] | None = None) -> str:
    """One paragraph: what all acting sources do to a correlation, beside the readers.

    Parameters
    ----------
    reliabilities : pandas.DataFrame
        :func:`reliability` (its ``combined`` rows are used).
    attenuation : pandas.DataFrame
        :func:`attenuation_vs_paper` (its FF–fat row is quoted).
    reader_icc : dict of str to float, optional
        Measure → the readers' ICC to compare with (default: the paper's,
        :data:`qmri_kernels.paper.ICC_REPORTED`), taken as a reliability.

    Returns
    -------
    str
        Markdown.

    Raises
    ------
    BudgetError
        If ``reliabilities`` has no ``combined`` row for a measure.
    """
    from ..paper import ICC_REPORTED

    icc = ICC_REPORTED if reader_icc is None else reader_icc
    names = {"ff_percent": "FF", "water_t2_ms": "water T2"}
    comb = reliabilities[reliabilities["source"] == "combined"].set_index("measure")["factor"]
    if set(comb.index) != set(names):
        raise BudgetError("reliabilities needs a combined row for ff_percent and water_t2_ms")
    fat = attenuation[attenuation["item"] == "fat"].iloc[0]
    factor = {m: float(np.sqrt(icc[m])) for m in names}
    worse = [names[m] for m in names if factor[m] < comb[m]]
    text = (f"All acting sources together multiply a correlation of FF by "
            f"{comb['ff_percent']:.3f} and one of water T2 by {comb['water_t2_ms']:.3f}: the "
            f"paper's FF–fat correlation (ρ = {fat.rho_low:.3f}) would be seen as "
            f"{fat.rho_seen_low:.3f}. The paper's readers agreed with ICC "
            f"{icc['ff_percent']:g} (FF) and {icc['water_t2_ms']:g} (water T2); taken as "
            f"reliabilities they alone give factors of {factor['ff_percent']:.3f} and "
            f"{factor['water_t2_ms']:.3f}, ")
    if worse:
        return text + (f"smaller than this budget's for {' and '.join(worse)}: there the "
                       "agreement between readers, not the images, limits a correlation.")
    return text + "no smaller than this budget's."
