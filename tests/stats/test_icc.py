"""Intraclass correlation: Shrout & Fleiss's worked example, pingouin, and CI coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from qmri_kernels.stats import ICC_KINDS, StatsError, icc, icc_table

# Shrout & Fleiss (1979), Psychol Bull 86:420, Table 2: 6 targets x 4 judges.
SF_TABLE = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8],
                     [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float)

# Published (Shrout & Fleiss 1979, Table 4), two decimals, and our three-decimal values
# computed from the ANOVA of Table 2.
SF_PUBLISHED = {"ICC(1,1)": 0.17, "ICC(2,1)": 0.29, "ICC(3,1)": 0.71,
                "ICC(1,k)": 0.44, "ICC(2,k)": 0.62, "ICC(3,k)": 0.91}
SF_THREE_DECIMALS = {"ICC(1,1)": 0.166, "ICC(2,1)": 0.290, "ICC(3,1)": 0.715,
                     "ICC(1,k)": 0.443, "ICC(2,k)": 0.620, "ICC(3,k)": 0.909}


def _slow_mean_squares(r):
    """Loop-based two-way ANOVA without replication (reference for the vectorised one)."""
    n, k = len(r), len(r[0])
    grand = sum(sum(row) for row in r) / (n * k)
    row_means = [sum(row) / k for row in r]
    col_means = [sum(r[i][j] for i in range(n)) / n for j in range(k)]
    ss_rows = sum(k * (m - grand) ** 2 for m in row_means)
    ss_cols = sum(n * (m - grand) ** 2 for m in col_means)
    ss_err = sum((r[i][j] - row_means[i] - col_means[j] + grand) ** 2
                 for i in range(n) for j in range(k))
    ss_within = sum((r[i][j] - row_means[i]) ** 2 for i in range(n) for j in range(k))
    return (ss_rows / (n - 1), ss_cols / (k - 1), ss_err / ((n - 1) * (k - 1)),
            ss_within / (n * (k - 1)))


def test_shrout_fleiss_table2_values():
    for kind in ICC_KINDS:
        res = icc(SF_TABLE, kind)
        assert round(res.value, 2) == SF_PUBLISHED[kind], kind
        assert round(res.value, 3) == pytest.approx(SF_THREE_DECIMALS[kind], abs=1e-9), kind
        assert res.kind == kind and res.n_targets == 6 and res.n_raters == 4
    # Shrout & Fleiss Table 3 mean squares: BMS 11.24, WMS 6.26, JMS 32.49, EMS 1.02
    res = icc(SF_TABLE)
    assert (round(res.ms_targets, 2), round(res.ms_within, 2), round(res.ms_raters, 2),
            round(res.ms_error, 2)) == (11.24, 6.26, 32.49, 1.02)
    assert (res.ms_targets, res.ms_raters, res.ms_error, res.ms_within) == pytest.approx(
        _slow_mean_squares(SF_TABLE.tolist()), rel=1e-12)


def test_written_out_rater_count_and_aliases():
    assert icc(SF_TABLE, "ICC(2,4)").kind == "ICC(2,k)"
    assert icc(SF_TABLE, "icc(3, 4)").value == icc(SF_TABLE, "ICC(3,k)").value
    pairs = {"ICC(A,1)": "ICC(2,1)", "ICC(C,1)": "ICC(3,1)", "ICC(A,k)": "ICC(2,k)",
             "ICC(C,k)": "ICC(3,k)", "ICC1": "ICC(1,1)", "ICC2k": "ICC(2,k)",
             "ICC(1)": "ICC(1,1)", "ICC(k)": "ICC(1,k)"}
    for alias, canonical in pairs.items():
        a, b = icc(SF_TABLE, alias), icc(SF_TABLE, canonical)
        assert a == b and a.kind == canonical
    with pytest.raises(StatsError, match="averages 3 raters but ratings has 4 columns"):
        icc(SF_TABLE, "ICC(2,3)")


def _pingouin_table(ratings):
    pg = pytest.importorskip("pingouin")
    n, k = ratings.shape
    long = pd.DataFrame([(i, j, ratings[i, j]) for i in range(n) for j in range(k)],
                        columns=["target", "rater", "score"])
    out = pg.intraclass_corr(long, targets="target", raters="rater", ratings="score")
    # pingouin 0.7 names: ICC(1,1), ICC(A,1), ICC(C,1), ICC(1,k), ICC(A,k), ICC(C,k)
    return out.set_index("Type")


@pytest.mark.filterwarnings("ignore:The inplace keyword")   # inside pingouin 0.7 + pandas
@pytest.mark.parametrize("which", ["shrout_fleiss", "two_readers", "three_readers"])
def test_matches_pingouin(which):
    rng = np.random.default_rng(7)
    if which == "shrout_fleiss":
        ratings = SF_TABLE
    else:
        k = 2 if which == "two_readers" else 3
        truth = rng.normal(55.0, 14.0, size=(13, 1))           # e.g. water T2 in ms
        ratings = truth + rng.normal([0.0, 3.0, -1.0][:k], 4.0, size=(13, k))
    ref = _pingouin_table(ratings)
    names = {"ICC(1,1)": "ICC(1,1)", "ICC(2,1)": "ICC(A,1)", "ICC(3,1)": "ICC(C,1)",
             "ICC(1,k)": "ICC(1,k)", "ICC(2,k)": "ICC(A,k)", "ICC(3,k)": "ICC(C,k)"}
    for kind, pg_name in names.items():
        ours, theirs = icc(ratings, kind), ref.loc[pg_name]
        assert ours.value == pytest.approx(theirs["ICC"], abs=1e-10), kind
        assert ours.f == pytest.approx(theirs["F"], rel=1e-10)
        assert (ours.df1, ours.df2) == (theirs["df1"], theirs["df2"])
        assert ours.pval == pytest.approx(theirs["pval"], rel=1e-8, abs=1e-300)
        # pingouin rounds its CI to 2 decimals; ours is full precision
        assert np.allclose(ours.ci95, theirs["CI95"], atol=0.005 + 1e-9), kind


def test_agreement_interval_matches_shrout_fleiss_degrees_of_freedom():
    """McGraw & Wong's Satterthwaite v (as coded) equals Shrout & Fleiss's own expression."""
    rng = np.random.default_rng(3)
    for _ in range(5):
        ratings = rng.normal(size=(9, 1)) * 2 + rng.normal([0, 1, 2], 1.0, size=(9, 3))
        n, k = ratings.shape
        res = icc(ratings, "ICC(2,1)")
        rho, fj = res.value, res.ms_raters / res.ms_error
        # Shrout & Fleiss (1979) eq. for v, written independently of the library
        num = (n - 1) * (k - 1) * (k * rho * fj + n * (1 + (k - 1) * rho) - k * rho) ** 2
        den = (n - 1) * k ** 2 * rho ** 2 * fj ** 2 + (n * (1 + (k - 1) * rho) - k * rho) ** 2
        v = num / den
        fs_low = st.f.ppf(0.975, n - 1, v)
        fs_high = st.f.ppf(0.975, v, n - 1)
        bms, jms, ems = res.ms_targets, res.ms_raters, res.ms_error
        low = n * (bms - fs_low * ems) / (fs_low * (k * jms + (k * n - k - n) * ems) + n * bms)
        high = n * (fs_high * bms - ems) / (k * jms + (k * n - k - n) * ems + n * fs_high * bms)
        assert res.ci95 == pytest.approx((low, high), rel=1e-10)
        # the k-rater interval is the Spearman-Brown step-up of the single-rater one
        avg = icc(ratings, "ICC(2,k)")
        assert avg.ci95 == pytest.approx(tuple(k * b / (1 + (k - 1) * b) for b in (low, high)),
                                         rel=1e-10)


def test_consistency_interval_covers_truth():
    """ICC(3,1)'s exact interval covers the true ICC in about 95 % of simulated studies."""
    rng = np.random.default_rng(11)
    n, k, sd_target, sd_err = 13, 2, 1.0, 0.5
    true_icc = sd_target ** 2 / (sd_target ** 2 + sd_err ** 2)
    hits = 0
    n_sim = 600
    for _ in range(n_sim):
        ratings = (rng.normal(0, sd_target, (n, 1)) + np.array([0.0, 0.7])
                   + rng.normal(0, sd_err, (n, k)))
        low, high = icc(ratings, "ICC(3,1)").ci95
        hits += low <= true_icc <= high
    assert 0.92 <= hits / n_sim <= 0.98


def test_offset_separates_agreement_from_consistency():
    base = np.array([[1.0], [2.0], [4.0], [7.0]])
    ratings = np.hstack([base, base + 1.0])        # reader 2 always one unit higher
    assert icc(ratings, "ICC(3,1)").value == 1.0
    assert icc(ratings, "ICC(3,1)").ci95 == (1.0, 1.0)
    assert 0.8 < icc(ratings, "ICC(2,1)").value < 1.0
    same = np.hstack([base, base])
    for kind in ICC_KINDS:
        assert icc(same, kind).value == 1.0


def test_icc_table_lists_all_kinds():
    tab = icc_table(SF_TABLE)
    assert tab["kind"].tolist() == list(ICC_KINDS)
    assert tab["mcgraw_wong"].tolist()[1:3] == ["ICC(A,1)", "ICC(C,1)"]
    assert tab.loc[1, "icc"] == icc(SF_TABLE, "ICC(2,1)").value
    assert (tab["ci_low"] < tab["icc"]).all() and (tab["icc"] < tab["ci_high"]).all()


@pytest.mark.parametrize("ratings, message", [
    ([[1.0, np.nan], [2.0, 3.0], [3.0, 4.0]], "ratings contains 1 missing"),
    ([[1.0], [2.0], [3.0]], "ratings needs at least 2 raters"),
    ([[1.0, 2.0]], "ratings needs at least 2 targets"),
    ([1.0, 2.0, 3.0], "ratings must be 2-D"),
    (np.ones((2, 2, 2)), "ratings must be 2-D"),
    ([[2.0, 2.0], [2.0, 2.0]], "ratings are all identical"),
    ([["a", "b"], ["c", "d"]], "ratings must be a numeric"),
])
def test_bad_ratings(ratings, message):
    with pytest.raises(StatsError, match=message):
        icc(ratings)


def test_unknown_kind_lists_valid_kinds():
    with pytest.raises(StatsError) as err:
        icc(SF_TABLE, "ICC(4,1)")
    for kind in ICC_KINDS:
        assert kind in str(err.value)
    assert isinstance(err.value, ValueError)
    with pytest.raises(StatsError, match="kind must be a string"):
        icc(SF_TABLE, 2)


def test_result_is_frozen():
    res = icc(SF_TABLE)
    with pytest.raises(AttributeError):
        res.value = 0.5
