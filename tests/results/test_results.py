"""The paper's analysis on small hand-made tables: measurements, agreement, correlations,
paper vs book and the audit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qmri_kernels.results import (PAPER_TESTS, agreement_band, audit_paper,
                                  biopsy_measurements, contralateral_correlations,
                                  paper_vs_book, reader_icc, reader_mean, score_kappa,
                                  scores_for_correlation, study_correlations)
from qmri_kernels.scores import ITEMS
from qmri_kernels.stats import icc, weighted_kappa

SUBJECTS = [f"{i:02d}" for i in range(1, 14)]


def _roi(rng) -> pd.DataFrame:
    ff = rng.uniform(1, 25, 13)
    t2 = rng.uniform(35, 90, 13)
    rows = []
    for reader, dff, dt2 in (("R1", -0.3, -1.0), ("R2", 0.2, 2.0), ("auto", 0.0, 0.0)):
        for i, s in enumerate(SUBJECTS):
            for m, v in (("ff_percent", ff[i] + dff + 0.2 * rng.standard_normal()),
                         ("water_t2_ms", t2[i] + dt2 + rng.standard_normal())):
                for where, scale in (("biopsied", 1.0), ("contralateral", 0.7)):
                    rows.append({"subject": s, "reader": reader, "muscle": "RF",
                                 "side": "left" if where == "biopsied" else "right",
                                 "label": 31, "map": m, "mean": v * scale, "median": v,
                                 "sd": 1.0, "n_voxels": 100,
                                 "biopsied": where == "biopsied",
                                 "contralateral": where == "contralateral"})
                rows.append({**rows[-1], "map": "r2star_per_s", "mean": 40.0})
    return pd.DataFrame(rows)


def _scores(rng, latent) -> pd.DataFrame:
    rows = []
    for item in ITEMS:
        for reader in ("R3", "R4"):
            vals = np.clip(np.rint(latent + 0.4 * rng.standard_normal(13)), 0, 4).astype(int)
            rows += [{"subject": s, "reader": reader, "item": item, "score": int(v)}
                     for s, v in zip(SUBJECTS, vals)]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    roi = _roi(rng)
    meas = biopsy_measurements(roi)
    latent = 4 * (meas[("water_t2_ms", "R1")].to_numpy() - 35) / 60
    return roi, meas, _scores(rng, latent)


def test_measurements_are_the_biopsied_rows_per_reader(data):
    roi, meas, _ = data
    assert list(meas.index) == SUBJECTS
    row = roi.query("subject == '05' and reader == 'R2' and biopsied and map == 'ff_percent'")
    assert meas.loc["05", ("ff_percent", "R2")] == row["mean"].iloc[0]
    mean = reader_mean(meas)
    assert mean.loc["05", "ff_percent"] == pytest.approx(
        meas.loc["05", "ff_percent"].mean())
    contra = biopsy_measurements(roi, ["R2"], where="contralateral")
    assert contra.loc["05", ("ff_percent", "R2")] == pytest.approx(
        0.7 * meas.loc["05", ("ff_percent", "R2")])


def test_bad_measurement_requests_are_named(data):
    roi, _, _ = data
    with pytest.raises(ValueError, match="readers: no biopsied rows for \\['R9'\\]"):
        biopsy_measurements(roi, ["R1", "R9"])
    with pytest.raises(ValueError, match="where"):
        biopsy_measurements(roi, where="left")


def test_icc_table_holds_both_forms_and_matches_the_library(data):
    _, meas, _ = data
    table = reader_icc(meas)
    assert set(table["kind"]) == {"ICC(A,1)", "ICC(C,1)"}
    got = table.set_index(["measure", "kind"]).loc[("water_t2_ms", "ICC(C,1)")]
    want = icc(meas["water_t2_ms"][["R1", "R2"]].to_numpy(), "ICC(C,1)")
    assert got["icc"] == pytest.approx(want.value) and got["n"] == 13
    # a systematic offset between readers lowers absolute agreement, not consistency
    a = table.set_index(["measure", "kind"])["icc"]
    assert a[("water_t2_ms", "ICC(A,1)")] < a[("water_t2_ms", "ICC(C,1)")]


def test_kappa_table_uses_the_fixed_scale_and_the_averaging_rule(data):
    _, _, scores = data
    kappa = score_kappa(scores, ITEMS)
    assert list(kappa.index) == list(ITEMS)
    fat = scores[scores["item"] == "fat"].pivot(index="subject", columns="reader",
                                                values="score")
    assert kappa.loc["fat", "kappa"] == pytest.approx(
        weighted_kappa(fat["R3"], fat["R4"], categories=range(5)).value)
    mean, agreed = scores_for_correlation(scores, kappa)
    assert mean.loc["01", "fat"] == pytest.approx(fat.loc["01"].mean())
    assert agreed.dtype == bool and set(agreed.index) == set(ITEMS)
    with pytest.raises(ValueError, match="not scored by both"):
        score_kappa(scores[~((scores["reader"] == "R4") & (scores["subject"] == "03"))],
                    ITEMS)


def test_the_ten_tests_and_the_paper_table(data):
    roi, meas, scores = data
    kappa = score_kappa(scores, ITEMS)
    mean, _ = scores_for_correlation(scores, kappa)
    corr = study_correlations(reader_mean(meas), mean, n_resamples=199)
    assert [tuple(r) for r in corr[["measure", "item"]].to_numpy()] == list(PAPER_TESTS)
    assert corr.set_index("item").loc["myofiber_size_variation", "rho"] > 0.5
    contra = reader_mean(biopsy_measurements(roi, ["R2"], where="contralateral"))
    ccorr = contralateral_correlations(contra, mean, n_resamples=199)
    clinical = pd.DataFrame({"sex": list("MMMMMFFFMFMFM"), "age_years": range(20, 33),
                             "ck_u_per_l": range(100, 113),
                             "mri_to_biopsy_days": range(3, 16),
                             "diagnosis": ["DM"] * 7 + ["PM"] * 4 + ["ASS", "IMNM"]})
    table = paper_vs_book(clinical=clinical, measurements=meas, contralateral=contra,
                          icc=reader_icc(meas), kappa=kappa, scores_mean=mean,
                          correlations=corr, contra_correlations=ccorr)
    assert table.loc["diagnoses (DM/PM/ASS/IMNM)", "this book"] == "7/4/1/1"
    assert table.loc["FF ICC R1/R2", "how it relates"] == "outcome of the analysis"
    assert table["this book"].str.len().min() > 0
    with pytest.raises(ValueError, match="different subjects"):
        study_correlations(reader_mean(meas).iloc[:-1], mean)


def test_audit_finds_the_papers_table_1_disagreements():
    clinical = pd.DataFrame({
        "age_years": [50, 51, 23, 15, 50, 24, 72, 25, 67, 66, 32, 19, 65],
        "ck_u_per_l": [2146, 27, 8225, 37, 1761, 7792, 256, 504, 17, 26, 1762, 10378, 866],
        "mri_to_biopsy_days": [23, 9, 25, 5, 4, 25, 30, 4, 8, 3, 10, 29, 10],
        "sex": list("MMMMMFFFMFMFM")})
    audit = audit_paper(clinical)
    assert audit.loc["mean age (years)", "recomputed"] == 43.0
    assert audit.loc["mean age (years)", "agrees"] == "no"          # text: 43.2
    assert audit.loc["youngest patient (years)", "agrees"] == "no"  # text: 19, table: 15
    assert audit.loc["mean CK (U/L)", "agrees"] == "yes"
    assert audit.loc["p implied by r = 0.597, n = 13 (t approximation)", "agrees"] == "yes"


@pytest.mark.parametrize("value, band", [(0.934, "perfect"), (0.81, "perfect"),
                                         (0.8, "good"), (0.5, "moderate"),
                                         (0.128, "slight"), (float("nan"), "undefined")])
def test_agreement_bands(value, band):
    assert agreement_band(value) == band


def test_bland_altman_bias_and_limits(data):
    from qmri_kernels.results import bland_altman

    _, meas, _ = data
    ba = bland_altman(meas)
    d = meas[("water_t2_ms", "R1")] - meas[("water_t2_ms", "R2")]
    row = ba.loc["water_t2_ms"]
    assert row["bias"] == pytest.approx(d.mean()) and row["n"] == 13
    assert row["loa_high"] - row["loa_low"] == pytest.approx(2 * 1.96 * d.std(ddof=1))
    assert row["bias_ci_low"] < row["bias"] < row["bias_ci_high"]
    assert row["reader_sd"] == pytest.approx(d.std(ddof=1) / np.sqrt(2))
    with pytest.raises(ValueError, match="R9"):
        bland_altman(meas, ("R1", "R9"))


def test_undefined_tests_keep_their_rows(data):
    _, meas, scores = data
    kappa = score_kappa(scores, ITEMS)
    mean, _ = scores_for_correlation(scores, kappa)
    mean["acp"] = 2.0                                         # every patient the same
    corr = study_correlations(reader_mean(meas), mean, n_resamples=99)
    acp = corr.set_index("item").loc["acp"]
    assert np.isnan(acp["rho"]) and np.isnan(acp["q_bh"]) and acp["n"] == 13
    assert corr["rho"].notna().sum() == 9
    assert corr["q_bh"].dropna().max() <= 1


def test_each_pathologist_alone_and_leaving_one_out(data):
    from qmri_kernels.results import influence_table, reader_sensitivity
    from qmri_kernels.stats import leave_one_out_rho, spearman

    _, meas, scores = data
    mri = reader_mean(meas)
    sens = reader_sensitivity(mri, scores, ["necrosis"])
    r3 = scores[(scores.item == "necrosis") & (scores.reader == "R3")].set_index("subject")
    assert sens.loc["necrosis", "rho R3"] == pytest.approx(
        spearman(mri["water_t2_ms"], r3["score"].reindex(mri.index)).rho)
    assert list(sens.index) == ["necrosis"]
    kappa = score_kappa(scores, ITEMS)
    mean, _ = scores_for_correlation(scores, kappa)
    infl = influence_table(mri, mean).set_index("item")
    loo = leave_one_out_rho(mri["water_t2_ms"], mean["cd4"])
    row = infl.loc["cd4"]
    assert row["rho_min"] == pytest.approx(loo.min())
    k = int(np.argmax(np.abs(loo - row["rho"])))
    assert row["most_influential"] == mri.index[k]
    assert row["rho_without"] == pytest.approx(loo[k])
