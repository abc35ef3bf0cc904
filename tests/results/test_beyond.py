"""Beyond the paper (power, effect sizes, attenuation), Table 1, and the paper's columns
beside the book's tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qmri_kernels.results import (DASH, PAPER_TESTS, attenuation_table, correlations_vs_paper,
                                  icc_vs_paper, kappa_vs_paper, paper_effect_sizes,
                                  power_table, readers_vs_paper, rho_at_p, spearman_brown,
                                  table1)
from qmri_kernels.stats import min_detectable_rho, p_from_r, spearman_power


def test_rho_at_p_inverts_the_spss_p():
    for rho in (0.3, 0.597, 0.8):
        assert rho_at_p(p_from_r(rho, 13), 13) == pytest.approx(rho, abs=1e-9)
    with pytest.raises(ValueError, match="0 < p < 1"):
        rho_at_p(0.0, 13)


def test_paper_effect_sizes_are_values_or_bounds():
    eff = paper_effect_sizes(13).set_index("item")
    assert eff.loc["fat", "rho_low"] == eff.loc["fat", "rho_high"] == 0.597
    strong = eff.loc["inflammatory_cells"]
    assert p_from_r(strong.rho_low, 13) == pytest.approx(0.008)
    assert strong.rho_high == 1.0 and strong.text.startswith("≥ ")
    weak = eff.loc["mhc1"]
    assert p_from_r(weak.rho_low, 13) == pytest.approx(0.522)
    assert p_from_r(weak.rho_high, 13) == pytest.approx(0.063)
    assert len(eff) == len(PAPER_TESTS)


def test_power_table_matches_the_stats_library():
    tab = power_table(13, {"a": 0.6, "none": np.nan})
    assert tab.loc["a", "power at n = 13"] == pytest.approx(spearman_power(0.6, 13))
    assert tab.loc["a", "n for 80% power"] == 21
    assert np.isnan(tab.loc["none", "power at n = 13"])
    # the smallest ρ detectable at 80 % has 80 % power by definition
    assert spearman_power(min_detectable_rho(13), 13) == pytest.approx(0.8)


def test_spearman_brown_and_attenuation():
    assert spearman_brown(1.0) == 1.0 and spearman_brown(0.5, 3) == pytest.approx(0.75)
    assert np.isnan(spearman_brown(-0.1)) and np.isnan(spearman_brown(np.nan))
    corr = pd.DataFrame({"measure": [m for m, _ in PAPER_TESTS],
                         "item": [i for _, i in PAPER_TESTS], "rho": np.linspace(0.1, 0.6, 10)})
    rel_score = {i: 0.64 for _, i in PAPER_TESTS} | {"mhc1": np.nan}
    tab = attenuation_table(corr, {"ff_percent": 0.81, "water_t2_ms": 1.0}, rel_score)
    fat = tab.set_index("item").loc["fat"]
    assert fat.factor == pytest.approx(np.sqrt(0.81 * 0.64))
    assert fat.rho_book_corrected == pytest.approx(0.1 / fat.factor)
    assert fat.paper_rho == "0.597"
    assert fat.paper_rho_corrected == f"{0.597 / fat.factor:.3f}"
    mhc1 = tab.set_index("item").loc["mhc1"]
    assert np.isnan(mhc1.factor) and mhc1.paper_rho_corrected == "—"
    assert tab.set_index("item").loc["cd4", "paper_rho_corrected"].count("–") == 1


def test_table1_splits_numbers_and_text():
    clinical = pd.DataFrame({
        "patient": [1, 2], "sex": ["M", "F"], "age_years": [50, 51],
        "chief_complaint": ["Myalgia, muscle weakness", "Skin rash"], "course_months": [2, 9],
        "ck_u_per_l": [2146, 27], "electromyography": ["Myogenic damage", "-"],
        "mri_to_biopsy_days": [23, 9], "biopsy_side": ["left", "right"],
        "biopsy_muscle": ["RF", "VL"], "diagnosis": ["PM", "DM"]},
        index=pd.Index(["01", "02"], name="subject"))
    numbers, text = table1(clinical)
    assert list(numbers.index) == ["1", "2"] and numbers.index.name == "N"
    assert list(numbers.columns) == ["sex", "age (years)", "course (months)", "CK (U/L)",
                                     "MRI to biopsy (days)", "biopsy site", "diagnosis"]
    assert numbers.loc["1", "CK (U/L)"] == "2,146"
    assert numbers.loc["2", "biopsy site"] == "Right VL"
    assert list(text.columns) == ["chief complaint", "electromyography"]
    assert text.loc["2", "electromyography"] == "-"


def test_the_papers_columns_beside_the_books_tables():
    cols = pd.MultiIndex.from_product([["ff_percent"], ["R1", "R2"]],
                                      names=["measure", "reader"])
    meas = pd.DataFrame([[1.0, 2.0], [3.0, 5.0]], columns=cols)
    r = readers_vs_paper(meas)
    assert r.loc["FF (%)", "R1"] == "2.0 ± 1.4" and r.loc["FF (%)", "paper R2"] == "7.3 ± 6.4"
    icc = pd.DataFrame([{"measure": "ff_percent", "kind": "ICC(C,1)", "icc": 0.9,
                         "ci_low": 0.7, "ci_high": 0.97, "band": "perfect"}])
    assert icc_vs_paper(icc).iloc[0]["paper"] == "0.934 (perfect)"
    kappa = pd.DataFrame({"kappa": [0.5, 0.2], "se": [0.1, 0.1], "ci_low": [0.3, 0.0],
                          "ci_high": [0.7, 0.4], "n": [13, 13], "band": ["moderate", "fair"]},
                         index=pd.Index(["necrosis", "mhc1"], name="item"))
    s1 = kappa_vs_paper(kappa)
    assert s1.loc["Necrotic fibers", "paper"] == "0.444–0.589"
    assert s1.loc["Necrotic fibers", "paper's band"] == "moderate"
    assert s1.loc["MHC-1", "paper's band"] == "slight"
    corr = pd.DataFrame([{"measure": "water_t2_ms", "item": "cd4", "n": 13, "rho": 0.3,
                          "p_t": 0.3, "p_perm": 0.31, "ci_low": np.nan, "ci_high": np.nan,
                          "q_bh": 0.5}])
    row = correlations_vs_paper(corr).iloc[0]
    assert row["paper rho"] == DASH and row["95 % CI (BCa)"] == DASH
    assert row["paper p"].startswith("0.063–0.522")
