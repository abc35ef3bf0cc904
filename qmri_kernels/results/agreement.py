"""Inter-reader agreement as the paper reports it, with the forms it did not name.

The paper's ICC of R1/R2 (SPSS 26) does not say which form. SPSS's default is two-way
mixed, consistency — ``ICC(C,1)`` in McGraw & Wong's names (ICC(3,1) of Shrout & Fleiss);
the form a reader study should report is two-way random, absolute agreement, ``ICC(A,1)``
(ICC(2,1)), which also counts a systematic offset between readers
(McGraw & Wong 1996; Koo & Li 2016). Both are given. R3/R4 agreement is Cohen's kappa with linear
weights on the fixed 0–4 scale (Cohen 1968; Cicchetti & Allison 1971) with the asymptotic SE of
Fleiss et al. 2003, as MedCalc reports it. The readers' differences are summarised as Bland &
Altman (1986) do: the mean difference (bias) and the 95 % limits of agreement.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as _st

from ..stats import icc, weighted_kappa

__all__ = ["AGREEMENT_BANDS", "agreement_band", "reader_icc", "score_kappa",
           "scores_for_correlation", "LIKERT", "bland_altman"]

#: The 0–4 Likert scale of the pathologists' scores.
LIKERT: tuple[int, ...] = (0, 1, 2, 3, 4)
#: The paper's words for agreement (Statistical analysis; Landis & Koch 1977 bands):
#: lower bound of each band.
AGREEMENT_BANDS: tuple[tuple[float, str], ...] = (
    (0.81, "perfect"), (0.61, "good"), (0.41, "moderate"), (0.21, "fair"),
    (0.0, "slight"), (-1.0, "poor"))


def agreement_band(value: float) -> str:
    """The paper's word for an ICC or kappa value (``"good"`` for 0.61–0.80 ...).

    Parameters
    ----------
    value : float
        An ICC or a (weighted) kappa, dimensionless, at most 1.

    Returns
    -------
    str
        One of the names in :data:`AGREEMENT_BANDS` (the band whose lower bound ``value``
        reaches), or ``"undefined"`` for NaN or ±inf.

    Examples
    --------
    >>> agreement_band(0.934), agreement_band(0.639), agreement_band(0.128)
    ('perfect', 'good', 'slight')
    """
    if not np.isfinite(value):
        return "undefined"
    return next(name for low, name in AGREEMENT_BANDS if value >= low)


def reader_icc(measurements: pd.DataFrame, readers: Sequence[str] = ("R1", "R2"),
               kinds: Sequence[str] = ("ICC(A,1)", "ICC(C,1)")) -> pd.DataFrame:
    """ICC of the readers' measurements, per measure and form.

    Parameters
    ----------
    measurements : pandas.DataFrame
        :func:`qmri_kernels.results.biopsy_measurements` (columns ``(measure, reader)``).
    readers : sequence of str
        Readers whose columns are the ratings (R1 and R2: the MRI readers).
    kinds : sequence of str
        ICC forms (:func:`qmri_kernels.stats.icc`).

    Returns
    -------
    pandas.DataFrame
        One row per measure × kind: ``measure, kind, icc, ci_low, ci_high, f, df1, df2,
        pval, n, band``.
    """
    rows = []
    for measure in measurements.columns.get_level_values("measure").unique():
        ratings = measurements[measure][list(readers)].to_numpy(dtype=float)
        for kind in kinds:
            r = icc(ratings, kind=kind)
            rows.append({"measure": measure, "kind": kind, "icc": r.value,
                         "ci_low": r.ci95[0], "ci_high": r.ci95[1], "f": r.f, "df1": r.df1,
                         "df2": r.df2, "pval": r.pval, "n": r.n_targets,
                         "band": agreement_band(r.value)})
    return pd.DataFrame(rows)


def score_kappa(scores: pd.DataFrame, items: Sequence[str], readers: Sequence[str] = ("R3", "R4"),
                weights: str | None = "linear",
                categories: Sequence[int] | None = LIKERT) -> pd.DataFrame:
    """Table S1: the two pathologists' kappa for every item, on the fixed 0–4 scale.

    Parameters
    ----------
    scores : pandas.DataFrame
        Tidy current scores (``subject, reader, item, score``), e.g.
        :meth:`qmri_kernels.scores.ScoreStore.table`.
    items : sequence of str
        Items in the order of the table.
    readers : sequence of two str
        The pathologists compared (R3 and R4).
    weights : {"linear", "quadratic", None}
        Disagreement weights of the kappa; None: unweighted (Cohen's) kappa.
    categories : sequence of int or None
        The scale the weights are laid on: the fixed 0–4 scale (default), or None for the
        scores the two readers actually gave to that item (what software that builds the
        table from the data, such as MedCalc, does). Linear weights 1 − |i − j|/(k − 1)
        give the same kappa on any scale without gaps; the two differ only when a score in
        the middle of the scale was never given, which makes its neighbours count as one
        step apart.

    Returns
    -------
    pandas.DataFrame
        Index ``item``; columns ``kappa, se, ci_low, ci_high, n, band``.

    Raises
    ------
    ValueError
        If a reader lacks a score the other gave (unpaired scores).
    """
    a, b = readers
    rows = {}
    for item in items:
        wide = scores[scores["item"] == item].pivot(index="subject", columns="reader",
                                                     values="score")
        if a not in wide or b not in wide or wide[[a, b]].isna().any().any():
            raise ValueError(f"scores: item {item!r} is not scored by both {a} and {b} for "
                             "every subject")
        k = weighted_kappa(wide[a].astype(int), wide[b].astype(int), weights=weights,
                           categories=categories)
        rows[item] = {"kappa": k.value, "se": k.se, "ci_low": k.ci95[0],
                      "ci_high": k.ci95[1], "n": k.n, "band": agreement_band(k.value)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "item"
    return out


def scores_for_correlation(scores: pd.DataFrame, kappa: pd.DataFrame,
                           readers: Sequence[str] = ("R3", "R4"),
                           good: float = 0.61) -> tuple[pd.DataFrame, pd.Series]:
    """The paper's rule "if agreement is good, average the two readers", item by item.

    Where kappa reaches ``good`` the readers' mean enters the correlations, as in the
    paper; where it does not, the mean still enters (the paper used it for every item) but
    the item is flagged so that its correlation is read with that caveat.

    Parameters
    ----------
    scores : pandas.DataFrame
        Tidy current scores (``subject, reader, item, score``).
    kappa : pandas.DataFrame
        :func:`score_kappa`.
    readers : sequence of str
        Readers whose scores are averaged (R3 and R4).
    good : float
        Lower bound of good agreement (0.61 in the paper).

    Returns
    -------
    mean : pandas.DataFrame
        Index ``subject``; one column per item, the readers' mean score.
    agreed : pandas.Series of bool
        Per item, whether kappa ≥ ``good``.
    """
    sub = scores[scores["reader"].isin(readers)]
    mean = sub.pivot_table(index="subject", columns="item", values="score", aggfunc="mean")
    agreed = kappa["kappa"] >= good
    return mean[list(kappa.index)], agreed


def bland_altman(measurements: pd.DataFrame, readers: Sequence[str] = ("R1", "R2")
                 ) -> pd.DataFrame:
    """Bias and 95 % limits of agreement of two readers, per measure (Bland & Altman 1986).

    With d = first reader − second reader per subject: bias = mean(d), limits of agreement
    = bias ± 1.96 SD(d), and the t-based 95 % interval of the bias (Bland & Altman 1986,
    section 6). The SD of d divided by √2 is each reader's own scatter if both err alike.

    Parameters
    ----------
    measurements : pandas.DataFrame
        :func:`qmri_kernels.results.biopsy_measurements` (columns ``(measure, reader)``).
    readers : (2,) sequence of str
        The difference is ``readers[0] − readers[1]``.

    Returns
    -------
    pandas.DataFrame
        Index ``measure``; columns ``n``, ``bias``, ``bias_ci_low``, ``bias_ci_high``,
        ``sd_diff``, ``loa_low``, ``loa_high``, ``reader_sd`` (``sd_diff / √2``), in the
        measure's unit (% for FF, ms for water T2).

    Raises
    ------
    ValueError
        If ``readers`` is not two readers of ``measurements``.

    References
    ----------
    Bland JM, Altman DG (1986). Statistical methods for assessing agreement between two
    methods of clinical measurement. Lancet 327:307-310. doi:10.1016/S0140-6736(86)90837-8

    Examples
    --------
    >>> cols = pd.MultiIndex.from_product([["ff_percent"], ["R1", "R2"]],
    ...                                   names=["measure", "reader"])
    >>> m = pd.DataFrame([[5.0, 4.0], [7.0, 6.5], [9.0, 7.5]], columns=cols)
    >>> bland_altman(m).loc["ff_percent", ["n", "bias"]].tolist()
    [3.0, 1.0]
    """
    if len(readers) != 2:
        raise ValueError(f"readers must be two readers, got {tuple(readers)!r}")
    a, b = readers
    present = set(measurements.columns.get_level_values("reader"))
    if not {a, b} <= present:
        raise ValueError(f"readers: {sorted({a, b} - present)} not in the measurements "
                         f"(readers present: {sorted(present)})")
    rows = {}
    for measure in measurements.columns.get_level_values("measure").unique():
        d = (measurements[(measure, a)] - measurements[(measure, b)]).dropna().to_numpy(float)
        n = d.size
        bias = float(d.mean()) if n else np.nan
        sd = float(d.std(ddof=1)) if n > 1 else np.nan
        half = float(_st.t.ppf(0.975, n - 1) * sd / np.sqrt(n)) if n > 1 else np.nan
        rows[measure] = {"n": n, "bias": bias, "bias_ci_low": bias - half,
                         "bias_ci_high": bias + half, "sd_diff": sd,
                         "loa_low": bias - 1.96 * sd, "loa_high": bias + 1.96 * sd,
                         "reader_sd": sd / np.sqrt(2)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "measure"
    return out
