"""Dice between two readers' labels: the array function and the table over a cohort."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from qmri_kernels import derivatives as D
from qmri_kernels.labels import label_index
from qmri_kernels.masks import GridMismatchError
from qmri_kernels.masks.overlap import DICE_COLUMNS, label_dice, reader_dice_table


def _slow_dice(a, b, label):
    """Voxel loop (reference)."""
    both = na = nb = 0
    for x, y in zip(np.ravel(a), np.ravel(b)):
        na += x == label
        nb += y == label
        both += x == label and y == label
    return 2 * both / (na + nb) if na + nb else float("nan")


def test_label_dice_matches_a_voxel_loop_on_random_volumes():
    rng = np.random.default_rng(0)
    a = rng.choice([0, 11, 31, 32], size=(9, 8, 3))
    b = np.where(rng.random(a.shape) < 0.2, rng.choice([0, 11, 31], size=a.shape), a)
    out = label_dice(a, b)
    assert sorted(out) == [11, 31, 32]
    for label, (dice, na, nb) in out.items():
        assert dice == pytest.approx(_slow_dice(a, b, label))
        assert (na, nb) == (int((a == label).sum()), int((b == label).sum()))


def test_label_dice_edge_cases():
    a = np.zeros((4, 4, 1), int)
    b = a.copy()
    a[:2] = 31
    b[2:] = 31
    assert label_dice(a, b) == {31: (0.0, 8, 8)}          # disjoint
    assert label_dice(a, a)[31][0] == 1.0
    dice, na, nb = label_dice(a, b, labels=[12])[12]      # in neither volume
    assert np.isnan(dice) and (na, nb) == (0, 0)
    assert label_dice(np.zeros((2, 2, 1), int), np.zeros((2, 2, 1), int)) == {}
    with pytest.raises(GridMismatchError, match=r"\(4, 4, 1\) and \(4, 3, 1\)"):
        label_dice(a, b[:, :3])


@dataclass
class _Entry:
    id: str
    biopsy_muscle: str
    biopsy_side: str

    @property
    def contralateral_side(self):
        return "right" if self.biopsy_side == "left" else "left"


@dataclass
class _Manifest:
    derivatives: Path
    subjects: list

    def subject(self, sid):
        return next(s for s in self.subjects if s.id == sid)


def test_reader_dice_table_reads_saved_labels_and_flags_the_biopsy(tmp_path):
    m = _Manifest(tmp_path, [_Entry("01", "RF", "left")])
    rf_l, rf_r = label_index("RF", "left"), label_index("RF", "right")
    base = np.zeros((6, 6, 2), np.int16)
    base[:3, :3] = rf_l
    base[3:, 3:] = rf_r
    r2 = base.copy()
    r2[3, :3] = rf_l                      # R2 takes in one more row of the left RF
    for reader, data in (("auto", base), ("R1", base), ("R2", r2)):
        D.write_map(tmp_path, "01", D.label_spec(reader), data, np.diag([-2.0, -2, 8, 1]))
    table = reader_dice_table(m, [("R1", "R2"), ("auto", "R1")])
    assert list(table.columns) == list(DICE_COLUMNS)
    r12 = table[(table.reader_a == "R1") & (table.reader_b == "R2")].set_index("label")
    assert r12.loc[rf_l, "dice"] == pytest.approx(2 * 18 / (18 + 24))
    assert r12.loc[rf_l, "biopsied"] and not r12.loc[rf_l, "contralateral"]
    assert r12.loc[rf_r, "contralateral"] and r12.loc[rf_r, "dice"] == 1.0
    assert (r12.muscle == "RF").all() and set(r12.side) == {"left", "right"}
    assert (table[table.reader_a == "auto"].dice == 1.0).all()
    with pytest.raises(FileNotFoundError, match="reader R3 has no saved labels"):
        reader_dice_table(m, [("R1", "R3")])
