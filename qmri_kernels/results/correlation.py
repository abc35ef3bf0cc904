"""The paper's correlation tests: FF vs the fat score, water T2 vs the other nine items.

Spearman's ρ with the p SPSS reports (t approximation, n − 2 df), beside what SPSS did not
give: a permutation p (exact in spirit for n = 13 with ties), a BCa bootstrap interval of
ρ, and Benjamini–Hochberg q over the family of ten tests (:mod:`qmri_kernels.stats`).
"""

from __future__ import annotations

import pandas as pd

from ..stats import correlation_table

__all__ = ["PAPER_TESTS", "study_correlations", "contralateral_correlations"]

#: (measurement, histopathology item) of the paper's ten tests (Statistical analysis).
PAPER_TESTS: tuple[tuple[str, str], ...] = (
    ("ff_percent", "fat"),
    ("water_t2_ms", "myofiber_size_variation"), ("water_t2_ms", "necrosis"),
    ("water_t2_ms", "inflammatory_cells"), ("water_t2_ms", "connective_tissue"),
    ("water_t2_ms", "acp"), ("water_t2_ms", "cd4"), ("water_t2_ms", "cd68"),
    ("water_t2_ms", "mhc1"), ("water_t2_ms", "complement"),
)


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
        One row per test: ``measure, item, n, rho, p_t, p_perm, ci_low, ci_high, q_bh``.

    Raises
    ------
    ValueError
        If the subjects of ``mri`` and ``scores`` differ.
    """
    if set(mri.index) != set(scores.index):
        raise ValueError(f"mri and scores cover different subjects: "
                         f"{sorted(set(mri.index) ^ set(scores.index))}")
    frame = mri.join(scores.add_prefix("score_"))
    pairs = [(m, f"score_{item}") for m, item in tests]
    table = correlation_table(frame, pairs, n_resamples=n_resamples, seed=seed)
    table = table.rename(columns={"x": "measure", "y": "item"})
    table["item"] = table["item"].str.removeprefix("score_")
    return table


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
