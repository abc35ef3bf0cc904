"""Power, minimal detectable rho, sample size and simulated replication."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from qmri_kernels.stats import (StatsError, min_detectable_rho, replication_rate, required_n,
                                spearman_power)

Z_A = st.norm.isf(0.025)
Z_B = st.norm.ppf(0.8)


def test_fisher_min_detectable_rho_closed_form():
    for n in (8, 13, 30, 100):
        closed = math.tanh((Z_A + Z_B) / math.sqrt(n - 3))
        # closed form neglects the opposite tail, which only matters for tiny n
        assert min_detectable_rho(n, method="fisher") == pytest.approx(closed, abs=2e-4)
    assert round(min_detectable_rho(13, method="fisher"), 3) == 0.709


def test_bonett_wright_threshold_solves_its_equation():
    for n in (13, 40):
        rho = min_detectable_rho(n)
        rhs = (Z_A + Z_B * math.sqrt(1 + rho ** 2 / 2)) / math.sqrt(n - 3)
        assert math.atanh(rho) == pytest.approx(rhs, abs=1e-3)
        assert rho > min_detectable_rho(n, method="fisher")
    assert round(min_detectable_rho(13), 3) == 0.725


def test_required_n_textbook_value():
    # r = 0.30, two-sided alpha 0.05, power 0.80 -> 85 pairs (Fisher z; e.g. Hulley et al.,
    # Designing Clinical Research, sample-size table for correlation coefficients)
    assert required_n(0.30, method="fisher") == 85
    assert required_n(0.30) > 85


@pytest.mark.parametrize("method", ["fisher", "bonett_wright"])
def test_required_n_is_the_smallest_sufficient_n(method):
    for rho in (0.3, 0.5, -0.6, 0.8):
        n = required_n(rho, method=method)
        assert spearman_power(rho, n, method=method) >= 0.8
        if n > 4:
            assert spearman_power(rho, n - 1, method=method) < 0.8
        assert min_detectable_rho(n, method=method) <= abs(rho) + 1e-9


def test_power_agrees_with_simulated_spearman_studies():
    # bivariate normal with Pearson r = 2 sin(pi rho_s / 6) has Spearman rho_s = 0.6
    rho_s, n = 0.6, 20
    r = 2 * math.sin(math.pi * rho_s / 6)

    def study(rng):
        x = rng.normal(size=n)
        return x, r * x + math.sqrt(1 - r * r) * rng.normal(size=n)

    res = replication_rate(study, 2000, seed=12)
    predicted = spearman_power(rho_s, n)
    assert abs(res.rate - predicted) < 0.025          # Monte Carlo SE ~ 0.009
    # Spearman's rho varies more than Pearson's r: Bonett & Wright's inflated variance
    # predicts the simulated power better than plain Fisher z
    assert abs(res.rate - predicted) < abs(res.rate - spearman_power(rho_s, n, method="fisher"))
    assert res.rho_quantiles[1] == pytest.approx(rho_s, abs=0.05)
    assert res.n_undefined == 0 and res.rhos.shape == (2000,)


def test_replication_rate_null_model_and_determinism():
    def null_study(rng):
        return rng.normal(size=13), rng.normal(size=13)

    res = replication_rate(null_study, 1000, seed=1)
    assert 0.03 <= res.rate <= 0.07
    assert res.quantile_levels == (0.025, 0.5, 0.975)
    assert res.rho_quantiles[0] < 0 < res.rho_quantiles[2]
    again = replication_rate(null_study, 1000, seed=1)
    np.testing.assert_array_equal(res.rhos, again.rhos)
    with pytest.raises(ValueError):
        res.rhos[0] = 0.0


def test_replication_rate_counts_undefined_studies():
    def coarse_study(rng):
        x = rng.integers(1, 3, 5).astype(float)     # often constant
        return x, x + rng.normal(size=5)

    res = replication_rate(coarse_study, 300, seed=2, quantiles=(0.5,))
    undefined = np.isnan(res.rhos)
    assert res.n_undefined == int(undefined.sum()) > 0
    assert np.all(np.isnan(res.pvals[undefined]))
    assert res.rate == pytest.approx(np.sum(res.pvals[~undefined] < 0.05) / 300)


def test_replication_rate_bad_simulate():
    with pytest.raises(StatsError, match="simulate must be callable"):
        replication_rate(None, 10, seed=0)
    with pytest.raises(StatsError, match="study 0 returned"):
        replication_rate(lambda rng: rng.normal(size=3), 10, seed=0)
    with pytest.raises(StatsError, match="bad data for study 0: x and y must have equal"):
        replication_rate(lambda rng: (np.ones(4), np.ones(5)), 10, seed=0)
    with pytest.raises(StatsError, match="n_studies must be"):
        replication_rate(lambda rng: (np.arange(4.0), np.arange(4.0)), 0, seed=0)
    with pytest.raises(StatsError, match="quantiles must be"):
        replication_rate(lambda rng: (np.arange(4.0), np.arange(4.0)), 5, seed=0,
                         quantiles=(1.5,))


def test_bad_power_arguments():
    with pytest.raises(StatsError, match="n must be"):
        min_detectable_rho(3)
    with pytest.raises(StatsError, match="alpha must lie in"):
        min_detectable_rho(13, alpha=5)
    with pytest.raises(StatsError, match="must exceed alpha"):
        min_detectable_rho(13, power=0.01)
    with pytest.raises(StatsError, match="method must be one of"):
        spearman_power(0.5, 13, method="kendall")
    with pytest.raises(StatsError, match="rho must be non-zero"):
        required_n(0.0)
    with pytest.raises(StatsError, match="rho must lie in"):
        spearman_power(1.0, 13)
