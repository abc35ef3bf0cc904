import numpy as np
import pytest

from qmri_kernels.segment import dice, dice_per_label


def test_dice_values():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[:2] = True            # 8 voxels
    b[1:3] = True           # 8 voxels, 4 shared
    assert dice(a, b) == pytest.approx(0.5)
    assert dice(a, a) == 1.0
    assert np.isnan(dice(np.zeros(3, bool), np.zeros(3, bool)))
    with pytest.raises(ValueError, match="different shapes"):
        dice(a, b[:3])


def test_dice_per_label():
    p = np.array([1, 1, 2, 0])
    t = np.array([1, 2, 2, 0])
    d = dice_per_label(p, t, [1, 2, 3])
    assert d[1] == pytest.approx(2 / 3) and d[2] == pytest.approx(2 / 3) and np.isnan(d[3])
