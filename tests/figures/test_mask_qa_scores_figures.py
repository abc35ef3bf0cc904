"""Figures of the chapters "Mask QA" and "Histopathology scores", on hand-made tables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from qmri_kernels.figures.mask_qa import plot_edit_shift, plot_reader_dice  # noqa: E402
from qmri_kernels.figures.scores import plot_score_distributions  # noqa: E402
from qmri_kernels.scores import ITEMS  # noqa: E402

SUBJECTS = ["01", "02", "03"]


def _dice():
    rows = []
    for s in SUBJECTS:
        for pair, d in ((("R1", "R2"), 0.9), (("auto", "R1"), 0.95)):
            for flag in (True, False):
                rows.append({"subject": s, "reader_a": pair[0], "reader_b": pair[1],
                             "dice": d - 0.01 * flag, "biopsied": flag,
                             "contralateral": not flag})
    return pd.DataFrame(rows)


def test_reader_dice_has_a_panel_per_muscle_and_a_series_per_pair():
    fig = plot_reader_dice(_dice())
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["biopsied muscle", "contralateral muscle"]
    assert [t.get_text() for t in axes[1].get_legend().get_texts()] == [
        "R1 vs R2", "network vs R1"]
    assert np.allclose(axes[0].lines[0].get_ydata(), 0.89)
    plt.close(fig)
    with pytest.raises(ValueError, match="biopsied"):
        plot_reader_dice(_dice().assign(biopsied=False))


def test_edit_shift_plots_each_reader_and_the_band():
    cols = pd.MultiIndex.from_product([["ff_percent", "water_t2_ms"], ["R1", "R2"]],
                                      names=["measure", "reader"])
    shift = pd.DataFrame(np.arange(12.0).reshape(3, 4), index=SUBJECTS, columns=cols)
    fig = plot_edit_shift(shift, band={"ff_percent": 1.5})
    assert len(fig.axes) == 2
    assert "percentage points" in fig.axes[0].get_ylabel()
    assert len(fig.axes[0].patches) == 1 and not fig.axes[1].patches   # the band
    assert np.allclose(fig.axes[1].lines[-1].get_ydata(), shift["water_t2_ms"]["R2"])
    plt.close(fig)
    bad = shift.rename(columns={"ff_percent": "pdff"}, level="measure")
    with pytest.raises(ValueError, match="pdff"):
        plot_edit_shift(bad)


def test_score_distributions_count_each_score():
    rng = np.random.default_rng(1)
    scores = pd.DataFrame([(s, r, i, int(rng.integers(0, 5))) for s in map(str, range(13))
                           for r in ("R3", "R4") for i in ITEMS],
                          columns=["subject", "reader", "item", "score"])
    fig = plot_score_distributions(scores)
    assert len(fig.axes) == 10
    first = fig.axes[0]
    r3 = scores.query("reader == 'R3' and item == @ITEMS[0]").score
    heights = [p.get_height() for p in first.patches[:5]]
    assert heights == [int((r3 == k).sum()) for k in range(5)]
    assert sum(p.get_height() for p in first.patches) == 26
    assert "mean" in first.get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="R5"):
        plot_score_distributions(scores, ["R3", "R5"])
