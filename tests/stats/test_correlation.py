"""Spearman (SPSS p), permutation p, BCa interval, BH q values, influence, the table."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from qmri_kernels.stats import (CORRELATION_COLUMNS, StatsError, benjamini_hochberg,
                                correlation_table, leave_one_out_rho, p_from_r, spearman,
                                spearman_bootstrap_ci, spearman_permutation_p)

# A small cohort-like data set: fat fraction (%) and a tied 1-4 fat score.
FF = np.array([0.8, 2.1, 3.5, 4.0, 5.2, 6.3, 7.7, 8.1, 9.9, 12.0, 14.2, 20.5, 26.2])
SCORE = np.array([1, 1, 1, 1, 1, 2, 1, 1, 3, 2, 3, 4, 4], dtype=float)


def test_spearman_hand_example():
    # no ties: rho = 1 - 6 sum(d^2) / (n (n^2 - 1)) = 1 - 36/210
    res = spearman([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5])
    assert res.rho == pytest.approx(1 - 36 / 210, abs=1e-15)
    t = res.rho * math.sqrt(4 / (1 - res.rho ** 2))
    assert res.pval == pytest.approx(2 * st.t.sf(t, 4), rel=1e-12)
    assert res.n == 6


def test_spearman_with_ties_matches_scipy_and_rank_pearson():
    rng = np.random.default_rng(1)
    for _ in range(20):
        x = rng.integers(0, 6, 13).astype(float)
        y = np.round(x + rng.normal(0, 2, 13))
        if len(set(x)) < 2 or len(set(y)) < 2:
            continue
        ours = spearman(x, y)
        ref = st.spearmanr(x, y)
        assert ours.rho == pytest.approx(ref.statistic, abs=1e-12)
        assert ours.pval == pytest.approx(ref.pvalue, rel=1e-9)
        assert ours.rho == pytest.approx(np.corrcoef(st.rankdata(x), st.rankdata(y))[0, 1],
                                         abs=1e-12)


def test_p_from_r_audits_the_paper():
    # Wang et al. 2023: FF vs fat score, r = 0.597, n = 13, reported p = 0.031
    assert round(p_from_r(0.597, 13), 3) == 0.031
    assert p_from_r(0.597, 13) == pytest.approx(0.031226, abs=1e-6)
    assert p_from_r(-0.597, 13) == p_from_r(0.597, 13)
    assert p_from_r(1.0, 13) == 0.0 and p_from_r(0.0, 13) == pytest.approx(1.0)
    res = spearman(FF, SCORE)
    assert p_from_r(res.rho, res.n) == pytest.approx(res.pval, rel=1e-12)


def _exact_permutation_p(x, y):
    rx, ry = st.rankdata(x), st.rankdata(y)
    obs = abs(np.corrcoef(rx, ry)[0, 1])
    perms = np.array(list(itertools.permutations(rx)))
    pc = perms - perms.mean(axis=1, keepdims=True)
    yc = ry - ry.mean()
    rho = pc @ yc / np.sqrt(np.sum(pc ** 2, axis=1) * np.sum(yc ** 2))
    return np.mean(np.abs(rho) >= obs - 1e-12)


def test_permutation_p_exact_for_small_n():
    # n = 6: all 720 pairings are enumerated; 21 have rho >= 0.829, 21 have rho <= -0.829
    p = spearman_permutation_p([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5], n_resamples=9999, seed=0)
    assert p == pytest.approx(42 / 720, abs=1e-12)


def test_permutation_p_monte_carlo_close_to_exact_enumeration():
    x = np.array([0.8, 2.1, 3.5, 4.0, 5.2, 6.3, 7.7, 8.1])
    y = np.array([1, 2, 1, 1, 3, 2, 4, 2], dtype=float)
    exact = _exact_permutation_p(x, y)              # 8! = 40320 pairings
    mc = spearman_permutation_p(x, y, n_resamples=4000, seed=3)
    se = math.sqrt(exact * (1 - exact) / 4000)
    assert abs(mc - exact) < 4 * se + 1e-3
    assert spearman_permutation_p(x, y, n_resamples=4000, seed=3) == mc     # seeded
    assert spearman_permutation_p(x, y, n_resamples=4000, seed=4) != mc


def test_bootstrap_ci_equals_scipy_bca_when_no_resample_is_degenerate():
    rng = np.random.default_rng(2)
    x = rng.normal(size=15)
    y = 0.6 * x + rng.normal(size=15)

    def rho(a, b, axis=-1):
        return st.pearsonr(st.rankdata(a, axis=axis), st.rankdata(b, axis=axis),
                           axis=axis).statistic

    ours = spearman_bootstrap_ci(x, y, n_resamples=999, seed=42)
    ref = st.bootstrap((x, y), rho, paired=True, vectorized=True, method="BCa",
                       n_resamples=999, rng=np.random.default_rng(42))
    assert ours.n_undefined == 0
    assert (ours.low, ours.high) == pytest.approx(
        (ref.confidence_interval.low, ref.confidence_interval.high), abs=1e-12)
    low, high = ours
    assert low < spearman(x, y).rho < high and ours.method == "BCa"


def test_bootstrap_ci_survives_constant_resamples():
    # 7 of 13 scores are tied at 1 and ~1/1000 resamples draws only those: scipy's BCa is
    # NaN here, ours leaves those resamples out and reports how many
    ci = spearman_bootstrap_ci(FF, SCORE, n_resamples=20000, seed=1)
    idx = np.random.default_rng(1).integers(0, 13, (20000, 13))
    constant = np.ptp(SCORE[idx], axis=1) == 0
    assert ci.n_undefined == int(constant.sum()) > 0
    assert ci.low < spearman(FF, SCORE).rho < ci.high <= 1.0
    assert spearman_bootstrap_ci(FF, SCORE, n_resamples=20000, seed=1) == ci


def test_bootstrap_ci_level_orders_intervals():
    ci90 = spearman_bootstrap_ci(FF, SCORE, n_resamples=4000, seed=0, confidence=0.90)
    ci99 = spearman_bootstrap_ci(FF, SCORE, n_resamples=4000, seed=0, confidence=0.99)
    assert ci99.low <= ci90.low and ci90.high <= ci99.high


def test_benjamini_hochberg_published_example():
    # Benjamini & Hochberg (1995) section 4: 15 p values; BH at 0.05 rejects the first four
    # (Bonferroni only three)
    p = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240,
         0.4262, 0.5719, 0.6528, 0.7590, 1.0000]
    q = benjamini_hochberg(p)
    assert int(np.sum(q <= 0.05)) == 4
    assert int(np.sum(np.array(p) * len(p) <= 0.05)) == 3


def test_benjamini_hochberg_matches_statsmodels():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    rng = np.random.default_rng(4)
    for m in (1, 2, 7, 30):
        p = rng.uniform(0, 0.2, m) ** 2
        p[: m // 3] = p[0]                                   # ties
        if m > 2:
            p[-1] = 1.0
        np.testing.assert_allclose(benjamini_hochberg(p),
                                   multitest.multipletests(p, method="fdr_bh")[1], rtol=1e-13)


def test_leave_one_out_matches_brute_force():
    loo = leave_one_out_rho(FF, SCORE)
    for i in range(FF.size):
        keep = np.arange(FF.size) != i
        assert loo[i] == pytest.approx(st.spearmanr(FF[keep], SCORE[keep]).statistic, abs=1e-12)
    # leaving out the only distinct value makes y constant: rho undefined
    loo = leave_one_out_rho([1, 2, 3, 4], [0, 0, 0, 1])
    assert np.isnan(loo[3]) and np.all(np.isfinite(loo[:3]))


def test_correlation_table():
    frame = pd.DataFrame({"ff_percent": FF, "score_fat": SCORE,
                          "t2_ms": 40 + 1.5 * SCORE + np.linspace(0, 3, 13)})
    frame.loc[4, "t2_ms"] = np.nan
    pairs = [("ff_percent", "score_fat"), ("t2_ms", "score_fat")]
    tab = correlation_table(frame, pairs, n_resamples=999, seed=7)
    assert tuple(tab.columns) == CORRELATION_COLUMNS
    assert tab["n"].tolist() == [13, 12]
    first = spearman(FF, SCORE)
    assert tab.loc[0, "rho"] == first.rho and tab.loc[0, "p_t"] == first.pval
    np.testing.assert_allclose(tab["q_bh"], benjamini_hochberg(tab["p_t"].to_numpy()))
    assert ((tab["ci_low"] < tab["rho"]) & (tab["rho"] < tab["ci_high"])).all()
    # reproducible, and a row does not change when pairs are appended after it
    again = correlation_table(frame, pairs[:1], n_resamples=999, seed=7)
    assert again.loc[0, ["p_perm", "ci_low", "ci_high"]].tolist() == \
        tab.loc[0, ["p_perm", "ci_low", "ci_high"]].tolist()
    with pytest.raises(StatsError, match=r"pair \('t2_ms', 'score_fat'\).*x contains 1"):
        correlation_table(frame, pairs, n_resamples=99, dropna=False)
    with pytest.raises(StatsError, match="not in frame"):
        correlation_table(frame, [("ff_percent", "cd4")])
    with pytest.raises(StatsError, match="pairs is empty"):
        correlation_table(frame, [])
    with pytest.raises(StatsError, match="frame must be a pandas DataFrame"):
        correlation_table(FF, pairs)


@pytest.mark.parametrize("x, y, message", [
    ([1, 2, 3], [1, 2], "x and y must have equal length"),
    ([1, 2], [1, 2], "at least 3 pairs"),
    ([1, np.nan, 3], [1, 2, 3], "x contains 1 missing"),
    ([1, 2, 3], [1, 2, np.inf], "y contains 1 missing"),
    ([2, 2, 2], [1, 2, 3], "x is constant"),
    ([1, 2, 3], [5, 5, 5], "y is constant"),
    ([[1, 2, 3]], [1, 2, 3], "x must be 1-D"),
    (["a", "b", "c"], [1, 2, 3], "x must be numeric"),
])
def test_bad_input(x, y, message):
    for func in (spearman, spearman_permutation_p, spearman_bootstrap_ci):
        with pytest.raises(StatsError, match=message):
            func(x, y)


def test_bad_parameters():
    with pytest.raises(StatsError, match="r must lie in"):
        p_from_r(1.2, 13)
    with pytest.raises(StatsError, match="n must be"):
        p_from_r(0.5, 2)
    with pytest.raises(StatsError, match="confidence must lie in"):
        spearman_bootstrap_ci(FF, SCORE, confidence=95)
    with pytest.raises(StatsError, match="n_resamples must be"):
        spearman_permutation_p(FF, SCORE, n_resamples=0)
    with pytest.raises(StatsError, match="seed is required"):
        spearman_permutation_p(FF, SCORE, seed=None)
    with pytest.raises(StatsError, match="at least 4 pairs"):
        leave_one_out_rho([1, 2, 3], [3, 1, 2])
    with pytest.raises(StatsError, match="pvals must lie in"):
        benjamini_hochberg([0.1, 1.5])
    with pytest.raises(StatsError, match="pvals contains 1 NaN"):
        benjamini_hochberg([0.1, np.nan])
    with pytest.raises(StatsError, match="non-empty 1-D"):
        benjamini_hochberg([])
