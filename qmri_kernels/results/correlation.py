"""The paper's correlation tests: FF vs the fat score, water T2 vs the other nine items.

Spearman's ρ with the p SPSS reports (t approximation, n − 2 df), beside what SPSS did not
give: a permutation p (exact in spirit for n = 13 with ties), a BCa bootstrap interval of
ρ, and Benjamini–Hochberg q over the family of ten tests (:mod:`qmri_kernels.stats`).

A test is *undefined* — its row kept, its numbers NaN — when fewer than
:data:`MIN_SUBJECTS` subjects have both values or either variable is the same for every
subject (a rank correlation needs two different ranks on each side); the q values are then
computed over the defined tests. :func:`reader_sensitivity` repeats a test with each
pathologist's scores alone, :func:`influence_table` leaves one patient out at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..stats import CORRELATION_COLUMNS, correlation_table, leave_one_out_rho, spearman

__all__ = ["PAPER_TESTS", "FIGURE2_TESTS", "MIN_SUBJECTS", "study_correlations",
           "contralateral_correlations", "reader_sensitivity", "influence_table"]

#: (measurement, histopathology item) of the paper's ten tests (Statistical analysis).
PAPER_TESTS: tuple[tuple[str, str], ...] = (
    ("ff_percent", "fat"),
    ("water_t2_ms", "myofiber_size_variation"), ("water_t2_ms", "necrosis"),
    ("water_t2_ms", "inflammatory_cells"), ("water_t2_ms", "connective_tissue"),
    ("water_t2_ms", "acp"), ("water_t2_ms", "cd4"), ("water_t2_ms", "cd68"),
    ("water_t2_ms", "mhc1"), ("water_t2_ms", "complement"),
)

#: The four tests of the paper's Figure 2 (a–d).
FIGURE2_TESTS: tuple[tuple[str, str], ...] = (
    ("ff_percent", "fat"), ("water_t2_ms", "myofiber_size_variation"),
    ("water_t2_ms", "inflammatory_cells"), ("water_t2_ms", "connective_tissue"),
)

#: Fewest subjects with both values for which a test is run (the leave-one-out and the
#: BCa interval's jackknife need a few more than Spearman's ρ itself).
MIN_SUBJECTS: int = 5


def _defined(x: pd.Series, y: pd.Series) -> bool:
    ok = x.notna() & y.notna()
    return int(ok.sum()) >= MIN_SUBJECTS and x[ok].nunique() > 1 and y[ok].nunique() > 1


def study_correlations(mri: pd.DataFrame, scores: pd.DataFrame, *, n_resamples: int = 9999,
                       seed: int = 0, tests=PAPER_TESTS) -> pd.DataFrame:
    """Spearman correlations of the paper's ten tests.

    Parameters
    ----------
    mri : pandas.DataFrame
        Index ``subject``; columns ``ff_percent`` and ``water_t2_ms`` (e.g. the readers'
        mean, :func:`qmri_kernels.results.reader_mean`).
    scores : pandas.DataFrame
        Index ``subject``; one column per item (e.g. the pathologists' mean).
    n_resamples : int
        Permutations and bootstrap resamples per test.
    seed : int
        Seeds both (each test its own stream; see
        :func:`qmri_kernels.stats.correlation_table`).
    tests : sequence of (str, str)
        (measurement, item) pairs; default :data:`PAPER_TESTS`.

    Returns
    -------
    pandas.DataFrame
        One row per test: ``measure, item, n, rho, p_t, p_perm, ci_low, ci_high, q_bh``;
        NaN for a test that is undefined (see the module's notes).

    Raises
    ------
    ValueError
        If the subjects of ``mri`` and ``scores`` differ, or a test names a column that
        neither has.
    """
    if set(mri.index) != set(scores.index):
        raise ValueError(f"mri and scores cover different subjects: "
                         f"{sorted(set(mri.index) ^ set(scores.index))}")
    frame = mri.join(scores.add_prefix("score_"))
    pairs = [(m, f"score_{item}") for m, item in tests]
    missing = sorted({c for pair in pairs for c in pair} - set(frame.columns))
    if missing:
        raise ValueError(f"tests name columns not in mri or scores: {missing}")
    ok = [p for p in pairs if _defined(frame[p[0]], frame[p[1]])]
    table = (correlation_table(frame, ok, n_resamples=n_resamples, seed=seed) if ok
             else pd.DataFrame(columns=list(CORRELATION_COLUMNS)))
    table = table.set_index(["x", "y"]).reindex(pairs).reset_index()
    counts = [int((frame[x].notna() & frame[y].notna()).sum()) for x, y in pairs]
    table["n"] = counts
    table = table.rename(columns={"x": "measure", "y": "item"})
    table["item"] = table["item"].str.removeprefix("score_")
    numeric = ["rho", "p_t", "p_perm", "ci_low", "ci_high", "q_bh"]
    table[numeric] = table[numeric].astype(float)
    return table[["measure", "item", "n", *numeric]]


def contralateral_correlations(mri_contra: pd.DataFrame, scores: pd.DataFrame, *,
                               n_resamples: int = 9999, seed: int = 1) -> pd.DataFrame:
    """The same ten tests with the contralateral muscle's FF and water T2.

    The paper measured the contralateral muscle with one reader (R2) and found no
    association (p 0.190–0.981).

    Parameters
    ----------
    mri_contra : pandas.DataFrame
        Index ``subject``; ``ff_percent``, ``water_t2_ms`` of the contralateral muscle.
    scores : pandas.DataFrame
        As for :func:`study_correlations`.
    n_resamples, seed
        As for :func:`study_correlations`.

    Returns
    -------
    pandas.DataFrame
        As :func:`study_correlations`.
    """
    return study_correlations(mri_contra, scores, n_resamples=n_resamples, seed=seed)


def reader_sensitivity(mri: pd.DataFrame, scores: pd.DataFrame, items: Sequence[str],
                       readers: Sequence[str] = ("R3", "R4"),
                       tests: Sequence[tuple[str, str]] = PAPER_TESTS) -> pd.DataFrame:
    """ρ and SPSS p of the paper's tests with each pathologist's scores alone and their mean.

    Where the pathologists agree well, the choice hardly matters; where they do not, the
    spread of these three ρ shows how much of a correlation rests on who scored.

    Parameters
    ----------
    mri : pandas.DataFrame
        Index ``subject``; ``ff_percent``, ``water_t2_ms``.
    scores : pandas.DataFrame
        Tidy scores ``subject, reader, item, score``.
    items : sequence of str
        Items to show (their tests are taken from ``tests``).
    readers : sequence of str
        The pathologists, each shown alone and averaged (R3 and R4).
    tests : sequence of (str, str)
        (MRI measure column, score item) pairs; default the paper's :data:`PAPER_TESTS`.

    Returns
    -------
    pandas.DataFrame
        Index ``item``; columns ``measure``, then ``rho <reader>`` and ``p <reader>`` for
        each reader and for ``mean`` (NaN where undefined).
    """
    rows = {}
    for measure, item in tests:
        if item not in items:
            continue
        sub = scores[(scores["item"] == item) & scores["reader"].isin(readers)]
        wide = sub.pivot(index="subject", columns="reader", values="score")
        wide["mean"] = wide[list(readers)].mean(axis=1)
        x = mri[measure].reindex(wide.index)
        row = {"measure": measure}
        for who in (*readers, "mean"):
            y = wide[who]
            if _defined(x, y):
                ok = x.notna() & y.notna()
                r = spearman(x[ok], y[ok])
                row[f"rho {who}"], row[f"p {who}"] = r.rho, r.pval
            else:
                row[f"rho {who}"], row[f"p {who}"] = np.nan, np.nan
        rows[item] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "item"
    return out


def influence_table(mri: pd.DataFrame, scores: pd.DataFrame,
                    tests: Sequence[tuple[str, str]] = PAPER_TESTS) -> pd.DataFrame:
    """How far one patient moves each ρ: Spearman's ρ with each patient left out.

    Parameters
    ----------
    mri : pandas.DataFrame
        Index ``subject``; ``ff_percent``, ``water_t2_ms``.
    scores : pandas.DataFrame
        Index ``subject``; one column per item.
    tests : sequence of (str, str)
        (MRI measure column, score item) pairs; default the paper's :data:`PAPER_TESTS`.

    Returns
    -------
    pandas.DataFrame
        One row per test: ``measure``, ``item``, ``rho`` (all patients), ``rho_min`` and
        ``rho_max`` (over the leave-one-out samples), ``most_influential`` (the subject
        whose removal moves ρ most) and ``rho_without`` (ρ without that subject). NaN (and
        "—") where undefined.
    """
    rows = []
    for measure, item in tests:
        x, y = mri[measure], scores[item].reindex(mri.index)
        ok = x.notna() & y.notna()
        row = {"measure": measure, "item": item, "rho": np.nan, "rho_min": np.nan,
               "rho_max": np.nan, "most_influential": "—", "rho_without": np.nan}
        if _defined(x, y):
            rho = spearman(x[ok], y[ok]).rho
            loo = leave_one_out_rho(x[ok].to_numpy(float), y[ok].to_numpy(float))
            shift = np.abs(np.nan_to_num(loo - rho, nan=-np.inf))
            k = int(np.argmax(shift))
            row.update(rho=rho, rho_min=np.nanmin(loo), rho_max=np.nanmax(loo),
                       most_influential=str(x[ok].index[k]), rho_without=loo[k])
        rows.append(row)
    return pd.DataFrame(rows)
