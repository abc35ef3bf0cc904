"""The readers' disagreements as tables for adjudication."""

from __future__ import annotations

import pytest

from qmri_kernels.scores import ITEMS, ScoreError, ScoreStore
from qmri_kernels.scores.adjudication import (ITEM_SHORT, adjudication_sheet,
                                              disagreement_table)


@pytest.fixture
def comparison(tmp_path):
    with ScoreStore(tmp_path / "s.sqlite") as store:
        for subject in ("01", "02", "03"):
            for item in ITEMS:
                store.record(subject, "R3", item, 2)
                store.record(subject, "R4", item, 2)
        store.record("01", "R4", "fat", 3)          # corrections: the current values count
        store.record("02", "R4", "necrosis", 0)
        store.record("03", "R3", "cd4", 4)
        store.record("03", "R3", "cd4", 1)
        for reader in ("R3", "R4"):
            store.session(reader).lock()
        yield store.comparison()


def test_disagreement_table_lists_each_pair_largest_first(comparison):
    table = disagreement_table(comparison)
    assert table[["subject", "item", "R3", "R4", "difference"]].values.tolist() == [
        ["02", "necrosis", 2, 0, 2], ["01", "fat", 2, 3, 1], ["03", "cd4", 1, 2, 1]]
    assert table.loc[0, "finding"] == "Necrotic fibers"
    assert disagreement_table(comparison, subjects=["01"]).item.tolist() == ["fat"]


def test_adjudication_sheet_has_a_cell_per_subject_and_item(comparison):
    sheet = adjudication_sheet(comparison)
    assert list(sheet.columns) == [ITEM_SHORT[i] for i in ITEMS]
    assert sheet.columns.name == "R3 / R4"
    assert list(sheet.index) == ["01", "02", "03", "differ"]
    assert sheet.loc["01", "fat"] == "2 / 3" and sheet.loc["03", "CD4"] == "1 / 2"
    assert (sheet.loc[["01", "02", "03"]] != "").sum().sum() == 3
    assert sheet.loc["differ", "necrosis"] == "1" and sheet.loc["differ", "CD68"] == "0"
    small = adjudication_sheet(comparison, ["02"], empty="·", totals=False)
    assert list(small.index) == ["02"] and small.loc["02", "fat"] == "·"


def test_a_table_that_is_not_a_comparison_is_refused(comparison):
    with pytest.raises(ScoreError, match="must be a Comparison"):
        disagreement_table(comparison.table)
