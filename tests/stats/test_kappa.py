"""Cohen's kappa: published worked examples, statsmodels, sklearn and a hand formula."""

from __future__ import annotations

import numpy as np
import pytest

from qmri_kernels.stats import StatsError, weighted_kappa


def _raters_from_table(table):
    """Two rating vectors (categories 0..k-1) reproducing a k x k count table."""
    table = np.asarray(table)
    a, b = [], []
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            a += [i] * int(table[i, j])
            b += [j] * int(table[i, j])
    return np.array(a), np.array(b)


def _hand_kappa(a, b, categories, weights):
    """Disagreement-weight form (Cohen 1968): 1 - sum(v*O) / sum(v*E), written with loops."""
    pos = {c: i for i, c in enumerate(categories)}
    k, n = len(categories), len(a)
    obs = [[0.0] * k for _ in range(k)]
    for x, y in zip(a, b):
        obs[pos[x]][pos[y]] += 1.0 / n
    row = [sum(obs[i]) for i in range(k)]
    col = [sum(obs[i][j] for i in range(k)) for j in range(k)]
    num = den = 0.0
    for i in range(k):
        for j in range(k):
            if weights is None:
                v = 0.0 if i == j else 1.0
            elif weights == "linear":
                v = abs(i - j)
            else:
                v = (i - j) ** 2
            num += v * obs[i][j]
            den += v * row[i] * col[j]
    return 1.0 - num / den


# SAS PROC FREQ printout for the 3 x 3 table below, as quoted in statsmodels' test suite
# (statsmodels/stats/tests/test_inter_rater.py): simple and Cicchetti-Allison weighted kappa.
SAS_TABLE = [[0, 4, 1], [0, 8, 0], [0, 1, 5]]


def test_sas_printout_simple_kappa():
    a, b = _raters_from_table(SAS_TABLE)
    res = weighted_kappa(a, b, weights=None)
    assert round(res.value, 4) == 0.4842
    assert round(res.se, 4) == 0.1380
    assert tuple(round(v, 4) for v in res.ci95) == (0.2137, 0.7547)
    assert round(res.se0, 4) == 0.1484
    assert round(res.pval, 4) == 0.0011


def test_sas_printout_linear_weighted_kappa():
    a, b = _raters_from_table(SAS_TABLE)
    res = weighted_kappa(a, b, weights="linear")
    assert round(res.value, 4) == 0.4701
    assert round(res.se, 4) == 0.1457
    assert tuple(round(v, 4) for v in res.ci95) == (0.1845, 0.7558)
    assert round(res.se0, 4) == 0.1426
    assert round(res.pval, 4) == 0.0010


# Altman DG (1991), Practical Statistics for Medical Research, section 14.3: two radiologists
# grading 85 xeromammograms (Boyd et al. 1982) as normal / benign / suspected / cancer.
ALTMAN_TABLE = [[21, 12, 0, 0], [4, 17, 1, 0], [3, 9, 15, 2], [0, 0, 0, 1]]


def test_altman_radiology_example():
    a, b = _raters_from_table(ALTMAN_TABLE)
    res = weighted_kappa(a, b, weights=None)
    assert res.n == 85
    assert round(res.value, 3) == 0.473               # Altman: kappa = 0.47
    assert tuple(round(v, 2) for v in res.ci95) == (0.33, 0.62)
    lin = weighted_kappa(a, b, weights="linear")
    quad = weighted_kappa(a, b, weights="quadratic")
    # near misses (normal vs benign) dominate the disagreements, so credit for them raises kappa
    assert round(lin.value, 3) == 0.568 and round(quad.value, 3) == 0.671
    assert res.value < lin.value < quad.value


@pytest.mark.parametrize("weights, wt", [(None, None), ("linear", "linear"),
                                         ("quadratic", "quadratic")])
def test_matches_statsmodels(weights, wt):
    inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")
    rng = np.random.default_rng(5)
    for _ in range(10):
        latent = rng.normal(2.0, 1.2, 40)
        a = np.clip(np.rint(latent + rng.normal(0, 0.6, 40)), 0, 4).astype(int)
        b = np.clip(np.rint(latent + rng.normal(0, 0.6, 40)), 0, 4).astype(int)
        ours = weighted_kappa(a, b, weights=weights, categories=range(5))
        table = np.zeros((5, 5))
        np.add.at(table, (a, b), 1)
        ref = inter_rater.cohens_kappa(table, wt=wt)
        assert ours.value == pytest.approx(ref.kappa, abs=1e-12)
        assert ours.se == pytest.approx(ref.std_kappa, rel=1e-10)
        assert ours.se0 == pytest.approx(ref.std_kappa0, rel=1e-10)
        assert ours.ci95 == pytest.approx((ref.kappa_low, ref.kappa_upp), rel=1e-10)
        assert ours.pval == pytest.approx(ref.pvalue_two_sided, rel=1e-8)
        np.testing.assert_array_equal(ours.table, table)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_matches_hand_formula_and_sklearn(weights):
    rng = np.random.default_rng(9)
    a = rng.integers(0, 5, 60)
    b = np.clip(a + rng.integers(-1, 2, 60), 0, 4)
    ours = weighted_kappa(a, b, weights=weights, categories=range(5)).value
    assert ours == pytest.approx(_hand_kappa(a.tolist(), b.tolist(), list(range(5)), weights),
                                 abs=1e-12)
    metrics = pytest.importorskip("sklearn.metrics")
    assert ours == pytest.approx(metrics.cohen_kappa_score(a, b, weights=weights,
                                                           labels=list(range(5))), abs=1e-12)


def test_categories_fix_the_scale():
    # scores 0, 1 and 3 used, 2 and 4 never: positions on the full scale differ from
    # positions among observed scores, and so do the linear weights
    a = [0, 1, 3, 3, 1, 0, 3, 1]
    b = [0, 3, 3, 1, 1, 0, 3, 0]
    observed = weighted_kappa(a, b)
    full = weighted_kappa(a, b, categories=range(5))
    assert observed.categories == (0, 1, 3) and full.categories == (0, 1, 2, 3, 4)
    assert observed.value == pytest.approx(_hand_kappa(a, b, [0, 1, 3], "linear"), abs=1e-12)
    assert full.value == pytest.approx(_hand_kappa(a, b, [0, 1, 2, 3, 4], "linear"), abs=1e-12)
    assert observed.value != pytest.approx(full.value)
    # unweighted kappa ignores unused categories
    assert weighted_kappa(a, b, weights=None).value == pytest.approx(
        weighted_kappa(a, b, weights=None, categories=range(5)).value, abs=1e-12)
    # labels need not be numbers (table rows/columns follow the given order)
    grades = ["none", "mild", "severe"]
    res = weighted_kappa(["none", "mild", "severe", "mild"], ["none", "severe", "severe", "mild"],
                         categories=grades)
    assert res.table.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]


def test_perfect_and_degenerate_agreement():
    perfect = weighted_kappa([0, 1, 2, 3, 4], [0, 1, 2, 3, 4])
    assert perfect.value == 1.0 and perfect.se == 0.0
    # both raters give every item the same score: chance agreement is already 1
    for cats in (None, range(5)):
        res = weighted_kappa([2, 2, 2], [2, 2, 2], categories=cats)
        assert np.isnan(res.value) and np.isnan(res.se) and np.isnan(res.ci95[0])


def test_result_fields_are_read_only():
    res = weighted_kappa([0, 1, 2], [0, 1, 1])
    with pytest.raises(AttributeError):
        res.value = 1.0
    with pytest.raises(ValueError):
        res.table[0, 0] = 5
    assert res.weights == "linear" and res.n == 3


@pytest.mark.parametrize("a, b, kwargs, message", [
    ([0, 1, 2], [0, 1], {}, "rater_a and rater_b must have equal length"),
    ([], [], {}, "rater_a is empty"),
    ([0, 1, 5], [0, 1, 1], {"categories": range(5)}, r"rater_a has scores \[5\] not in"),
    ([0, 1, 1], [0, 1, 7], {"categories": range(5)}, r"rater_b has scores \[7\] not in"),
    ([0.0, np.nan, 1.0], [0, 1, 1], {}, "rater_a contains 1 missing"),
    ([0, 1, 1], [0, None, 1], {}, "rater_b contains missing"),
    ([0, 1], [0, 1], {"weights": "cubic"}, "weights must be one of"),
    ([0, 1], [0, 1], {"categories": [0, 1, 1]}, "categories has duplicate"),
    ([0, 0], [0, 0], {"categories": [0]}, "categories needs at least 2"),
    ([[0, 1]], [[0, 1]], {}, "rater_a must be 1-D"),
])
def test_bad_input(a, b, kwargs, message):
    with pytest.raises(StatsError, match=message):
        weighted_kappa(a, b, **kwargs)
