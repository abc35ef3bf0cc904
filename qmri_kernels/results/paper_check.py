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

from ..stats import p_from_r

__all__ = ["PAPER_RESULTS", "paper_vs_book", "audit_paper", "mean_sd"]

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
}


def mean_sd(values, digits: int = 1, with_range: bool = False) -> str:
    """``"7.3 ± 6.1"`` (sample SD, n − 1), optionally with ``" (min–max)"``.

    Parameters
    ----------
    values : array-like
    digits : int
    with_range : bool

    Returns
    -------
    str

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
    return f"{v.min():.{digits}f}–{v.max():.{digits}f}" if v.size > 1 else f"{v[0]:.{digits}f}"


def paper_vs_book(*, clinical: pd.DataFrame, measurements: pd.DataFrame,
                  contralateral: pd.DataFrame, icc: pd.DataFrame, kappa: pd.DataFrame,
                  scores_mean: pd.DataFrame, correlations: pd.DataFrame,
                  contra_correlations: pd.DataFrame, icc_kind: str = "ICC(C,1)"
                  ) -> pd.DataFrame:
    """The paper's numbers beside the book's, one row per reported quantity.

    Parameters
    ----------
    clinical : pandas.DataFrame
        The cohort's clinical table (``sex``, ``age_years``, ``ck_u_per_l``,
        ``mri_to_biopsy_days``, ``diagnosis``).
    measurements : pandas.DataFrame
        :func:`qmri_kernels.results.biopsy_measurements` for R1 and R2.
    contralateral : pandas.DataFrame
        Index ``subject``; ``ff_percent``, ``water_t2_ms`` of the contralateral muscle.
    icc : pandas.DataFrame
        :func:`qmri_kernels.results.reader_icc`.
    kappa : pandas.DataFrame
        :func:`qmri_kernels.results.score_kappa`.
    scores_mean : pandas.DataFrame
        Index ``subject``; the pathologists' mean score per item.
    correlations, contra_correlations : pandas.DataFrame
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
    counts = c["diagnosis"].value_counts()
    mean = measurements.T.groupby(level="measure").mean().T
    ic = icc.set_index(["measure", "kind"])["icc"]
    corr = correlations.set_index("item")
    t2 = corr[corr["measure"] == "water_t2_ms"]
    strong = ["myofiber_size_variation", "inflammatory_cells", "connective_tissue"]
    others = [i for i in t2.index if i not in strong]
    book = {
        "patients": str(len(c)),
        "sex (M/F)": f"{(c['sex'] == 'M').sum()}/{(c['sex'] == 'F').sum()}",
        "diagnoses (DM/PM/ASS/IMNM)": "/".join(str(counts.get(d, 0))
                                               for d in ("DM", "PM", "ASS", "IMNM")),
        "age, years: mean (range)": f"{c['age_years'].mean():.1f} "
                                    f"({c['age_years'].min()}–{c['age_years'].max()})",
        "CK, U/L: mean (range)": f"{c['ck_u_per_l'].mean():,.0f} "
                                 f"({c['ck_u_per_l'].min():,}–{c['ck_u_per_l'].max():,})",
        "MRI to biopsy, days: mean (range)": f"{c['mri_to_biopsy_days'].mean():.1f} "
                                             f"({c['mri_to_biopsy_days'].min()}–"
                                             f"{c['mri_to_biopsy_days'].max()})",
        "FF biopsied, R1 (%)": mean_sd(measurements[("ff_percent", "R1")]),
        "FF biopsied, R2 (%)": mean_sd(measurements[("ff_percent", "R2")]),
        "FF ICC R1/R2": f"{ic[('ff_percent', icc_kind)]:.3f}",
        "water T2 biopsied, R1 (ms)": mean_sd(measurements[("water_t2_ms", "R1")]),
        "water T2 biopsied, R2 (ms)": mean_sd(measurements[("water_t2_ms", "R2")]),
        "water T2 ICC R1/R2": f"{ic[('water_t2_ms', icc_kind)]:.3f}",
        "FF biopsied, mean of readers (%)": mean_sd(mean["ff_percent"], with_range=True),
        "water T2 biopsied, mean of readers (ms)": mean_sd(mean["water_t2_ms"]),
        "kappa: myofiber size, inflammatory cells, CD4, CD68": _range(
            kappa.loc[["myofiber_size_variation", "inflammatory_cells", "cd4", "cd68"],
                      "kappa"]),
        "kappa: fat, connective tissue": _range(kappa.loc[["fat", "connective_tissue"],
                                                          "kappa"]),
        "kappa: necrosis, ACP, complement": _range(
            kappa.loc[["necrosis", "acp", "complement"], "kappa"]),
        "kappa: MHC-1": f"{kappa.loc['mhc1', 'kappa']:.3f}",
        "fat score": mean_sd(scores_mean["fat"], 2) + f" ({scores_mean['fat'].min():g}–"
                                                      f"{scores_mean['fat'].max():g})",
        "myofiber size variation score": mean_sd(scores_mean["myofiber_size_variation"], 2),
        "inflammatory cells score": mean_sd(scores_mean["inflammatory_cells"], 2),
        "connective tissue score": mean_sd(scores_mean["connective_tissue"], 2),
        "FF vs fat score: r, p": f"{corr.loc['fat', 'rho']:.3f}, {corr.loc['fat', 'p_t']:.3f}",
        "water T2 vs myofiber size, inflammatory cells, connective tissue: p":
            f"≤ {t2.loc[strong, 'p_t'].max():.3f}",
        "water T2 vs the other six items: p": _range(t2.loc[others, "p_t"]),
        "FF contralateral (%)": mean_sd(contralateral["ff_percent"]),
        "water T2 contralateral (ms)": mean_sd(contralateral["water_t2_ms"]),
        "contralateral vs scores: p": _range(contra_correlations["p_t"]),
    }
    words = {"copied": "copied from the paper", "tuned": "tuned to the paper",
             "outcome": "outcome of the analysis"}
    rows = [{"quantity": q, "paper": text, "this book": book[q], "how it relates": words[kind]}
            for q, (text, kind) in PAPER_RESULTS.items()]
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
