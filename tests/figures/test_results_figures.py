"""Figures of the agreement and correlation chapters, on small hand-made tables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from qmri_kernels.figures.results import (plot_biopsy_panels, plot_bland_altman,  # noqa: E402
                                          plot_figure2)
from qmri_kernels.results import FIGURE2_TESTS, bland_altman, study_correlations  # noqa: E402
from qmri_kernels.results.inputs import BiopsySlices  # noqa: E402

SUBJECTS = [f"{i:02d}" for i in range(1, 11)]


@pytest.fixture(scope="module")
def tables():
    rng = np.random.default_rng(3)
    ff, t2 = rng.uniform(1, 25, 10), rng.uniform(35, 90, 10)
    cols = pd.MultiIndex.from_product([["ff_percent", "water_t2_ms"], ["R1", "R2"]],
                                      names=["measure", "reader"])
    meas = pd.DataFrame(np.column_stack([ff - 0.3, ff + 0.2 * rng.standard_normal(10),
                                         t2 - 2, t2 + rng.standard_normal(10)]),
                        index=pd.Index(SUBJECTS, name="subject"), columns=cols)
    mri = meas.T.groupby(level="measure").mean().T
    scores = pd.DataFrame({item: np.clip(np.rint(rng.uniform(0, 4, 10) * 2) / 2, 0, 4)
                           for _, item in FIGURE2_TESTS}, index=mri.index)
    scores["fat"] = np.clip(np.rint(ff / 6 * 2) / 2, 0, 4)       # FF tracks the fat score
    return meas, mri, scores


def test_bland_altman_draws_the_bias_and_limits(tables):
    meas, _, _ = tables
    ba = bland_altman(meas)
    fig = plot_bland_altman(meas, ba)
    assert len(fig.axes) == 2
    for ax, measure in zip(fig.axes, ba.index):
        ys = sorted(round(line.get_ydata()[0], 6) for line in ax.lines)
        want = sorted(round(ba.loc[measure, c], 6) for c in ("bias", "loa_low", "loa_high"))
        assert all(any(abs(y - w) < 1e-6 for y in ys) for w in want)
        x, d = ax.collections[0].get_offsets().T
        np.testing.assert_allclose(d, meas[(measure, "R1")] - meas[(measure, "R2")])
    plt.close(fig)


def test_figure2_shows_the_tables_rho_and_jitters_only_x(tables):
    _, mri, scores = tables
    corr = study_correlations(mri, scores, n_resamples=99, tests=FIGURE2_TESTS)
    fig = plot_figure2(mri, scores, corr, FIGURE2_TESTS, jitter=0.1, seed=5)
    axes = [ax for ax in fig.axes if ax.collections]
    assert len(axes) == 4
    for ax, (measure, item) in zip(axes, FIGURE2_TESTS):
        rho = corr.set_index("item").loc[item, "rho"]
        assert any(f"ρ = {rho:.3f}" in t.get_text() for t in ax.texts)
        x, y = ax.collections[0].get_offsets().T
        np.testing.assert_allclose(y, mri[measure])                   # values untouched
        offset = x - scores[item].to_numpy()
        assert np.all(np.abs(offset) <= 0.1) and np.ptp(offset) > 0  # jittered, bounded
    again = plot_figure2(mri, scores, corr, FIGURE2_TESTS, jitter=0.1, seed=5)
    np.testing.assert_array_equal(axes[0].collections[0].get_offsets(),
                                  again.axes[0].collections[0].get_offsets())
    plt.close("all")


def test_figure2_says_when_rho_is_undefined(tables):
    _, mri, scores = tables
    few = mri.iloc[:3]
    corr = study_correlations(few, scores.iloc[:3], n_resamples=99, tests=FIGURE2_TESTS)
    assert corr["rho"].isna().all() and (corr["n"] == 3).all()
    fig = plot_figure2(few, scores.iloc[:3], corr, FIGURE2_TESTS)
    assert all("ρ undefined" in " ".join(t.get_text() for t in ax.texts)
               for ax in fig.axes if ax.collections)
    plt.close(fig)


def test_biopsy_panels_outline_the_muscle():
    yy, xx = np.mgrid[:40, :30]
    body = (xx - 15) ** 2 / 14 ** 2 + (yy - 20) ** 2 / 18 ** 2 < 1
    muscle = (xx - 15) ** 2 + (yy - 12) ** 2 < 16
    images = {"t2w": np.where(body, 100.0, 0.0).T,
              "ff_percent": np.where(body, np.where(muscle, 5.0, 90.0), np.nan).T,
              "water_t2_ms": np.where(body, 40.0, np.nan).T}
    outlines = {k: muscle.T for k in images}
    box = np.zeros((30, 40), bool)
    box[5:10, 6:12] = True                                        # the T2w "body" sets its crop
    row = BiopsySlices("08", "left rectus femoris", images, outlines,
                       {k: 12.0 for k in images}, {k: (1.0, 1.5) for k in images},
                       bodies={"t2w": box})
    fig = plot_biopsy_panels([row, row], captions={"08": "patient 8 (sub-08)"},
                             values={"08": {"ff_percent": 6.04, "water_t2_ms": 40.0}})
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 6
    assert "FF map, z = +12 mm\nbiopsied muscle: 6.0 %" == panels[1].get_title()
    assert all(ax.collections for ax in panels)                   # the outline contour
    assert panels[0].images[0].get_array().shape == (6 + 8, 5 + 8)  # box ± 4 px, transposed
    assert panels[1].images[0].get_array().shape == (40, 30)     # body fills it: no crop
    assert any("patient 8" in t.get_text() for t in panels[0].texts)
    plt.close(fig)
