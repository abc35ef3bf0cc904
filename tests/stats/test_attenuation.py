"""Spearman's (1904) attenuation and its correction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qmri_kernels.stats import StatsError, attenuated_rho, disattenuated_rho


def test_formula_and_round_trip():
    assert attenuated_rho(0.8, 0.84, 0.5) == pytest.approx(0.8 * math.sqrt(0.42))
    assert disattenuated_rho(attenuated_rho(-0.45, 0.7, 0.9), 0.7, 0.9) == pytest.approx(-0.45)
    assert attenuated_rho(0.6, 1.0, 1.0) == 0.6
    assert isinstance(attenuated_rho(0.6, 0.9, 0.9), float)


def test_arrays_broadcast():
    rel = np.array([0.5, 0.8, 1.0])
    out = attenuated_rho(0.7, rel, 0.9)
    np.testing.assert_allclose(out, 0.7 * np.sqrt(rel * 0.9))
    assert out.shape == (3,)
    with pytest.raises(StatsError, match="do not broadcast"):
        attenuated_rho([0.1, 0.2], [0.5, 0.6, 0.7], 0.9)


def test_correction_is_not_clipped():
    assert disattenuated_rho(0.9, 0.6, 0.7) > 1.0


def test_matches_simulated_measurement_error():
    """Classical test model: observed r = true r * sqrt(rel_x rel_y) (Pearson, large n)."""
    rng = np.random.default_rng(0)
    n, rho, rel_x, rel_y = 200_000, 0.7, 0.8, 0.5
    tx = rng.normal(size=n)
    ty = rho * tx + math.sqrt(1 - rho ** 2) * rng.normal(size=n)
    x = tx + math.sqrt(1 / rel_x - 1) * rng.normal(size=n)      # var(true)/var(x) = rel_x
    y = ty + math.sqrt(1 / rel_y - 1) * rng.normal(size=n)
    observed = np.corrcoef(x, y)[0, 1]
    assert observed == pytest.approx(attenuated_rho(rho, rel_x, rel_y), abs=0.01)
    assert disattenuated_rho(observed, rel_x, rel_y) == pytest.approx(rho, abs=0.015)


@pytest.mark.parametrize("args, message", [
    ((1.2, 0.8, 0.8), "rho_true must lie in"),
    ((0.5, 0.0, 0.8), r"reliability_x must lie in \(0, 1\]"),
    ((0.5, 0.8, 1.1), "reliability_y must lie in"),
    ((np.nan, 0.8, 0.8), "rho_true contains NaN"),
    (("high", 0.8, 0.8), "rho_true must be numeric"),
])
def test_bad_input(args, message):
    with pytest.raises(StatsError, match=message):
        attenuated_rho(*args)
    with pytest.raises(StatsError, match=message.replace("rho_true", "rho_observed")):
        disattenuated_rho(*args)
