"""Every number the paper reports beside this book's, and an audit of the paper's own.

The synthetic cohort was *tuned* to some of the paper's numbers (the true FF and water T2
distributions, the contralateral values, the score means, the pathologists' agreement,
Table 1), so those agree by construction; everything the readers, the pipeline and the
statistics produce from the images is an *outcome*. :func:`paper_vs_book` marks which is
which. :func:`audit_paper` recomputes what the paper's Table 1 determines and the p that
its r = 0.597 with n = 13 implies, and lists where the text and the table disagree.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..paper import (CORRELATIONS_REPORTED, FIGURE_VALUES, ICC_REPORTED, KAPPA_REPORTED,
                     REPORTED)
from ..scores.scale import ITEM_LABELS
from ..stats import p_from_r
from .agreement import AGREEMENT_BANDS as _BANDS_ORDER
from .agreement import agreement_band

__all__ = ["PAPER_RESULTS", "DASH", "MEASURE_LABELS", "paper_vs_book", "audit_paper",
           "mean_sd", "subject_of_patient", "readers_vs_paper", "icc_vs_paper",
           "kappa_vs_paper", "correlations_vs_paper", "figure_values"]

#: Names of the two measures for people, with their unit.
MEASURE_LABELS: dict[str, str] = {"ff_percent": "FF (%)", "water_t2_ms": "water T2 (ms)"}

#: What a table shows where one side reports nothing.
DASH = "—"


def _figure_row(patient: int, measure: str, figure: str) -> str:
    what = "FF (%)" if measure == "ff_percent" else "water T2 (ms)"
    return f"{what} of patient {patient}'s biopsied muscle ({figure})"


#: What the paper reports (Results, Table 1), by quantity: (text as printed, kind).
#: kind "tuned": the synthetic cohort was made to match it; "copied": taken over as is;
#: "outcome": produced by the images, readers and statistics.
PAPER_RESULTS: dict[str, tuple[str, str]] = {
    "patients": ("13", "copied"),
    "sex (M/F)": ("8/5", "copied"),
    "diagnoses (DM/PM/ASS/IMNM)": ("7/4/1/1", "copied"),
    "age, years: mean (range)": ("43.2 (19–72)", "copied"),
    "CK, U/L: mean (range)": ("2,600 (17–10,378)", "copied"),
    "MRI to biopsy, days: mean (range)": ("14 (3–30)", "copied"),
    "FF biopsied, R1 (%)": ("7.3 ± 5.8", "outcome"),
    "FF biopsied, R2 (%)": ("7.3 ± 6.4", "outcome"),
    "FF ICC R1/R2": ("0.934", "outcome"),
    "water T2 biopsied, R1 (ms)": ("53.8 ± 12.8", "outcome"),
    "water T2 biopsied, R2 (ms)": ("56.8 ± 16.1", "outcome"),
    "water T2 ICC R1/R2": ("0.838", "outcome"),
    "FF biopsied, mean of readers (%)": ("7.3 ± 6.1 (0.8–26.2)", "tuned"),
    "water T2 biopsied, mean of readers (ms)": ("54.7 ± 14.1", "tuned"),
    "kappa: myofiber size, inflammatory cells, CD4, CD68": ("0.639–0.753", "tuned"),
    "kappa: fat, connective tissue": ("0.841–0.927", "tuned"),
    "kappa: necrosis, ACP, complement": ("0.444–0.589", "tuned"),
    "kappa: MHC-1": ("0.128", "tuned"),
    "fat score": ("1.73 ± 1.12 (1–4)", "tuned"),
    "myofiber size variation score": ("2.38 ± 1.18", "tuned"),
    "inflammatory cells score": ("1.81 ± 1.42", "tuned"),
    "connective tissue score": ("1.69 ± 1.20", "tuned"),
    "FF vs fat score: r, p": ("0.597, 0.031", "outcome"),
    "water T2 vs myofiber size, inflammatory cells, connective tissue: p": ("≤ 0.008",
                                                                           "outcome"),
    "water T2 vs the other six items: p": ("0.063–0.522", "outcome"),
    "FF contralateral (%)": ("7.5 ± 6.6", "tuned"),
    "water T2 contralateral (ms)": ("44.5 ± 4.4", "tuned"),
    "contralateral vs scores: p": ("0.190–0.981", "outcome"),
    **{_figure_row(patient, measure, figure): (f"{value:.1f}", "tuned")
       for (patient, measure), (value, figure) in FIGURE_VALUES.items()},
}


def mean_sd(values, digits: int = 1, with_range: bool = False) -> str:
    """``"7.3 ± 6.1"`` (sample SD, n − 1), optionally with ``" (min–max)"``.

    Parameters
    ----------
    values : array-like
        Numbers in any unit (the text carries no unit); NaN makes the text ``nan``.
    digits : int
        Decimals of every number.
    with_range : bool
        Append the minimum and maximum in parentheses.

    Returns
    -------
    str
        Mean ± SD (ddof = 1), the way the paper prints its cohort; the SD of a single
        value is ``nan``.

    Examples
    --------
    >>> mean_sd([1, 2, 3])
    '2.0 ± 1.0'
    """
    v = np.asarray(values, dtype=float)
    text = f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"
    if with_range:
        text += f" ({v.min():.{digits}f}–{v.max():.{digits}f})"
    return text


def _range(values, digits: int = 3) -> str:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return DASH
    return f"{v.min():.{digits}f}–{v.max():.{digits}f}" if v.size > 1 else f"{v[0]:.{digits}f}"



def _or_dash(compute) -> str:
    """``compute()`` as text, or :data:`DASH` if the book has nothing to set beside it."""
    try:
        text = compute()
    except (KeyError, IndexError, ValueError, TypeError, AttributeError):
        return DASH
    return DASH if text is None or "nan" in str(text) else str(text)


def subject_of_patient(clinical: pd.DataFrame, patient: int) -> str | None:
    """The subject label of the paper's patient number, from the clinical table.

    Parameters
    ----------
    clinical : pandas.DataFrame
        Index ``subject``; a ``patient`` column (the paper's N) if the cohort has one.
    patient : int
        The paper's patient number (1–13).

    Returns
    -------
    str or None
        ``None`` if no subject has that number. Without a ``patient`` column the subject
        labelled like the number (``"08"`` or ``"8"``) is taken, if present.

    Examples
    --------
    >>> subject_of_patient(pd.DataFrame({"patient": [8]}, index=["08"]), 8)
    '08'
    """
    if "patient" in clinical.columns:
        hit = clinical.index[pd.to_numeric(clinical["patient"], errors="coerce") == patient]
        return str(hit[0]) if len(hit) else None
    for label in (f"{patient:02d}", str(patient)):
        if label in clinical.index.astype(str):
            return label
    return None


def paper_vs_book(*, clinical: pd.DataFrame, measurements: pd.DataFrame | None,
                  contralateral: pd.DataFrame | None, icc: pd.DataFrame | None,
                  kappa: pd.DataFrame | None, scores_mean: pd.DataFrame | None,
                  correlations: pd.DataFrame | None,
                  contra_correlations: pd.DataFrame | None, icc_kind: str = "ICC(C,1)"
                  ) -> pd.DataFrame:
    """The paper's numbers beside the book's, one row per reported quantity.

    Any input may be ``None`` (or lack what a row needs — e.g. no R1/R2 on a cohort whose
    readers have not drawn masks): that row shows :data:`DASH` for the book.

    Parameters
    ----------
    clinical : pandas.DataFrame
        The cohort's clinical table (``sex``, ``age_years``, ``ck_u_per_l``,
        ``mri_to_biopsy_days``, ``diagnosis``; index ``subject`` and a ``patient`` column
        for the figure rows).
    measurements : pandas.DataFrame or None
        :func:`qmri_kernels.results.biopsy_measurements` (R1 and R2 where they exist; the
        mean rows average whichever readers it holds).
    contralateral : pandas.DataFrame or None
        Index ``subject``; ``ff_percent``, ``water_t2_ms`` of the contralateral muscle.
    icc : pandas.DataFrame or None
        :func:`qmri_kernels.results.reader_icc`.
    kappa : pandas.DataFrame or None
        :func:`qmri_kernels.results.score_kappa`.
    scores_mean : pandas.DataFrame or None
        Index ``subject``; the pathologists' mean score per item.
    correlations, contra_correlations : pandas.DataFrame or None
        :func:`qmri_kernels.results.study_correlations` of the biopsied and the
        contralateral muscle.
    icc_kind : str
        The ICC form set beside the paper's (default SPSS's, ``ICC(C,1)``).

    Returns
    -------
    pandas.DataFrame
        Index ``quantity``; columns ``paper``, ``this book``, ``how it relates`` ("copied
        from the paper", "tuned to the paper", "outcome of the analysis").
    """
    c = clinical
    meas = measurements
    mean = meas.T.groupby(level="measure").mean().T if meas is not None else None
    ic = icc.set_index(["measure", "kind"])["icc"] if icc is not None else None
    corr = correlations.set_index("item") if correlations is not None else None
    strong = ["myofiber_size_variation", "inflammatory_cells", "connective_tissue"]

    def t2_p(which: str) -> str:
        t2 = corr[corr["measure"] == "water_t2_ms"]["p_t"]
        if which == "strong":
            return f"≤ {t2.loc[strong].max():.3f}"
        return _range(t2.drop(index=strong))

    def figure_value(patient: int, measure: str) -> str:
        subject = subject_of_patient(c, patient)
        return f"{mean.loc[subject, measure]:.1f}"

    book = {
        "patients": lambda: str(len(c)),
        "sex (M/F)": lambda: f"{(c['sex'] == 'M').sum()}/{(c['sex'] == 'F').sum()}",
        "diagnoses (DM/PM/ASS/IMNM)": lambda: "/".join(
            str(c["diagnosis"].value_counts().get(d, 0)) for d in ("DM", "PM", "ASS", "IMNM")),
        "age, years: mean (range)": lambda: f"{c['age_years'].mean():.1f} "
                                            f"({c['age_years'].min()}–{c['age_years'].max()})",
        "CK, U/L: mean (range)": lambda: f"{c['ck_u_per_l'].mean():,.0f} "
                                         f"({c['ck_u_per_l'].min():,}–"
                                         f"{c['ck_u_per_l'].max():,})",
        "MRI to biopsy, days: mean (range)": lambda: (
            f"{c['mri_to_biopsy_days'].mean():.1f} ({c['mri_to_biopsy_days'].min()}–"
            f"{c['mri_to_biopsy_days'].max()})"),
        "FF biopsied, R1 (%)": lambda: mean_sd(meas[("ff_percent", "R1")]),
        "FF biopsied, R2 (%)": lambda: mean_sd(meas[("ff_percent", "R2")]),
        "FF ICC R1/R2": lambda: f"{ic[('ff_percent', icc_kind)]:.3f}",
        "water T2 biopsied, R1 (ms)": lambda: mean_sd(meas[("water_t2_ms", "R1")]),
        "water T2 biopsied, R2 (ms)": lambda: mean_sd(meas[("water_t2_ms", "R2")]),
        "water T2 ICC R1/R2": lambda: f"{ic[('water_t2_ms', icc_kind)]:.3f}",
        "FF biopsied, mean of readers (%)": lambda: mean_sd(mean["ff_percent"],
                                                            with_range=True),
        "water T2 biopsied, mean of readers (ms)": lambda: mean_sd(mean["water_t2_ms"]),
        "kappa: myofiber size, inflammatory cells, CD4, CD68": lambda: _range(
            kappa.loc[["myofiber_size_variation", "inflammatory_cells", "cd4", "cd68"],
                      "kappa"]),
        "kappa: fat, connective tissue": lambda: _range(
            kappa.loc[["fat", "connective_tissue"], "kappa"]),
        "kappa: necrosis, ACP, complement": lambda: _range(
            kappa.loc[["necrosis", "acp", "complement"], "kappa"]),
        "kappa: MHC-1": lambda: f"{kappa.loc['mhc1', 'kappa']:.3f}",
        "fat score": lambda: mean_sd(scores_mean["fat"], 2)
        + f" ({scores_mean['fat'].min():g}–{scores_mean['fat'].max():g})",
        "myofiber size variation score": lambda: mean_sd(
            scores_mean["myofiber_size_variation"], 2),
        "inflammatory cells score": lambda: mean_sd(scores_mean["inflammatory_cells"], 2),
        "connective tissue score": lambda: mean_sd(scores_mean["connective_tissue"], 2),
        "FF vs fat score: r, p": lambda: f"{corr.loc['fat', 'rho']:.3f}, "
                                         f"{corr.loc['fat', 'p_t']:.3f}",
        "water T2 vs myofiber size, inflammatory cells, connective tissue: p":
            lambda: t2_p("strong"),
        "water T2 vs the other six items: p": lambda: t2_p("others"),
        "FF contralateral (%)": lambda: mean_sd(contralateral["ff_percent"]),
        "water T2 contralateral (ms)": lambda: mean_sd(contralateral["water_t2_ms"]),
        "contralateral vs scores: p": lambda: _range(contra_correlations["p_t"]),
    }
    for (patient, measure), (value, figure) in FIGURE_VALUES.items():
        book[_figure_row(patient, measure, figure)] = (
            lambda p=patient, m=measure: figure_value(p, m))
    words = {"copied": "copied from the paper", "tuned": "tuned to the paper",
             "outcome": "outcome of the analysis"}
    rows = [{"quantity": q, "paper": text, "this book": _or_dash(book[q]),
             "how it relates": words[kind]} for q, (text, kind) in PAPER_RESULTS.items()]
    return pd.DataFrame(rows).set_index("quantity")


def audit_paper(clinical: pd.DataFrame,
                reported: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Recompute what the paper's Table 1 determines and compare with its text.

    Parameters
    ----------
    clinical : pandas.DataFrame
        Table 1 as a table (``age_years``, ``ck_u_per_l``, ``mri_to_biopsy_days``,
        ``sex``) — the cohort's clinical table reproduces it row by row.
    reported : mapping, optional
        Overrides of the text's values (default: the paper's Results).

    Returns
    -------
    pandas.DataFrame
        Index ``check``; columns ``text says``, ``recomputed``, ``agrees``.
    """
    r = {"age_mean": 43.2, "age_min": 19, "age_max": 72, "ck_mean": 2600, "ck_min": 17,
         "ck_max": 10378, "interval_mean": 14, "interval_min": 3, "interval_max": 30,
         "males": 8, "r": 0.597, "n": 13, "p": 0.031, **(reported or {})}
    c = clinical
    checks = [
        ("mean age (years)", r["age_mean"], round(c["age_years"].mean(), 1), 0.05),
        ("youngest patient (years)", r["age_min"], c["age_years"].min(), 0),
        ("oldest patient (years)", r["age_max"], c["age_years"].max(), 0),
        ("mean CK (U/L)", r["ck_mean"], round(c["ck_u_per_l"].mean()), 50),
        ("lowest CK (U/L)", r["ck_min"], c["ck_u_per_l"].min(), 0),
        ("highest CK (U/L)", r["ck_max"], c["ck_u_per_l"].max(), 0),
        ("mean MRI-to-biopsy interval (days)", r["interval_mean"],
         round(c["mri_to_biopsy_days"].mean(), 1), 0.5),
        ("shortest interval (days)", r["interval_min"], c["mri_to_biopsy_days"].min(), 0),
        ("longest interval (days)", r["interval_max"], c["mri_to_biopsy_days"].max(), 0),
        ("males", r["males"], int((c["sex"] == "M").sum()), 0),
        ("p implied by r = 0.597, n = 13 (t approximation)", r["p"],
         round(p_from_r(r["r"], r["n"]), 3), 0.0005),
    ]
    rows = [{"check": name, "text says": said, "recomputed": got,
             "agrees": "yes" if abs(float(got) - float(said)) <= tol else "no"}
            for name, said, got, tol in checks]
    return pd.DataFrame(rows).set_index("check")


def readers_vs_paper(measurements: pd.DataFrame) -> pd.DataFrame:
    """Each reader's mean ± SD of the biopsied muscle's FF and water T2 beside the paper's.

    Parameters
    ----------
    measurements : pandas.DataFrame
        :func:`qmri_kernels.results.biopsy_measurements`.

    Returns
    -------
    pandas.DataFrame
        Index: the measures (:data:`MEASURE_LABELS`); one column per reader of
        ``measurements`` ("mean ± SD"), then ``paper R1`` and ``paper R2``.
    """
    key = {"ff_percent": "ff_biopsy_percent", "water_t2_ms": "t2_biopsy_ms"}
    rows = {}
    for measure in measurements.columns.get_level_values("measure").unique():
        row = {reader: mean_sd(measurements[(measure, reader)])
               for reader in measurements[measure].columns}
        for reader in ("R1", "R2"):
            m, sd = REPORTED[f"{key[measure]}_{reader}"][:2]
            row[f"paper {reader}"] = f"{m:.1f} ± {sd:.1f}"
        rows[MEASURE_LABELS.get(measure, measure)] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def icc_vs_paper(icc: pd.DataFrame) -> pd.DataFrame:
    """The ICC table with the paper's value beside each measure.

    Parameters
    ----------
    icc : pandas.DataFrame
        :func:`qmri_kernels.results.reader_icc`.

    Returns
    -------
    pandas.DataFrame
        Index (measure label, form); columns ``ICC``, ``95 % CI``, ``band``, ``paper``
        (the printed value, its form not named; :data:`DASH` for a measure it did not
        report).
    """
    rows = []
    for r in icc.itertuples(index=False):
        paper = ICC_REPORTED.get(r.measure)
        rows.append({"measure": MEASURE_LABELS.get(r.measure, r.measure), "form": r.kind,
                     "ICC": round(float(r.icc), 3),
                     "95 % CI": f"{r.ci_low:.3f} to {r.ci_high:.3f}", "band": r.band,
                     "paper": DASH if paper is None else f"{paper:.3f} ({agreement_band(paper)})"})
    return pd.DataFrame(rows).set_index(["measure", "form"])


def kappa_vs_paper(kappa: pd.DataFrame) -> pd.DataFrame:
    """Table S1: each item's kappa, SE, 95 % CI and band, beside what the paper says.

    Parameters
    ----------
    kappa : pandas.DataFrame
        :func:`qmri_kernels.results.score_kappa`.

    Returns
    -------
    pandas.DataFrame
        Index: item names (:data:`qmri_kernels.scores.ITEM_LABELS`); columns ``kappa``,
        ``SE``, ``95 % CI``, ``band``, ``paper`` (the value or the range given for the
        item's group in the text), ``paper's band``.
    """
    rows = {}
    for item, r in kappa.iterrows():
        low, high = KAPPA_REPORTED.get(item, (np.nan, np.nan))
        paper = (DASH if not np.isfinite(low) else
                 f"{low:.3f}" if low == high else f"{low:.3f}–{high:.3f}")
        bands = sorted({agreement_band(low), agreement_band(high)},
                       key=lambda b: [n for _, n in _BANDS_ORDER].index(b), reverse=True)
        rows[ITEM_LABELS.get(item, item)] = {
            "kappa": round(float(r["kappa"]), 3), "SE": round(float(r["se"]), 3),
            "95 % CI": f"{r['ci_low']:.3f} to {r['ci_high']:.3f}", "band": r["band"],
            "paper": paper, "paper's band": DASH if paper == DASH else "–".join(bands)}
    return pd.DataFrame.from_dict(rows, orient="index")


def correlations_vs_paper(correlations: pd.DataFrame, paper: bool = True) -> pd.DataFrame:
    """The ten tests with every column the book computes, and the paper's ρ and p.

    Parameters
    ----------
    correlations : pandas.DataFrame
        :func:`qmri_kernels.results.study_correlations`.
    paper : bool
        Add the paper's ρ and p of the biopsied muscle (leave out for other analyses).

    Returns
    -------
    pandas.DataFrame
        Index (measure label, item label); columns ``n``, ``rho``, ``p (SPSS)``,
        ``p (permutation)``, ``95 % CI (BCa)``, ``q (BH)``, and with ``paper``
        ``paper rho``, ``paper p``.
    """
    rows = []
    for r in correlations.itertuples(index=False):
        rho, p = CORRELATIONS_REPORTED.get((r.measure, r.item), (None, DASH))
        ci = (DASH if not np.isfinite(r.ci_low)
              else f"{r.ci_low:.2f} to {r.ci_high:.2f}")
        rows.append({"measure": MEASURE_LABELS.get(r.measure, r.measure),
                     "item": ITEM_LABELS.get(r.item, r.item), "n": int(r.n),
                     "rho": round(r.rho, 3), "p (SPSS)": round(r.p_t, 3),
                     "p (permutation)": round(r.p_perm, 3), "95 % CI (BCa)": ci,
                     "q (BH)": round(r.q_bh, 3),
                     "paper rho": DASH if rho is None else f"{rho:.3f}", "paper p": p})
    out = pd.DataFrame(rows).set_index(["measure", "item"])
    return out if paper else out.drop(columns=["paper rho", "paper p"])


def figure_values(clinical: pd.DataFrame, mri: pd.DataFrame) -> pd.DataFrame:
    """The values the paper's figure legends quote, beside the book's for those patients.

    Parameters
    ----------
    clinical : pandas.DataFrame
        Index ``subject``; ``patient`` (the paper's N).
    mri : pandas.DataFrame
        Index ``subject``; ``ff_percent``, ``water_t2_ms`` (the readers' mean).

    Returns
    -------
    pandas.DataFrame
        One row per quoted value: ``patient``, ``subject`` (:data:`DASH` if the cohort
        has no such patient), ``measure`` (label), ``figure``, ``paper``, ``this book``.
    """
    rows = []
    for (patient, measure), (value, figure) in FIGURE_VALUES.items():
        subject = subject_of_patient(clinical, patient)
        book = (mri.loc[subject, measure] if subject is not None and subject in mri.index
                else np.nan)
        rows.append({"patient": patient, "subject": subject or DASH,
                     "measure": MEASURE_LABELS[measure], "figure": figure, "paper": value,
                     "this book": DASH if not np.isfinite(book) else round(float(book), 1)})
    return pd.DataFrame(rows)
