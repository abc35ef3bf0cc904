import numpy as np
import pytest

from qmri_kernels.fatsat import chess_saturation, mese_fat_share, residual_fat_weight


def test_chess_saturates_methylene_and_spares_water():
    methylene = -3.4e-6 * 3.0 * 42.577478518e6
    assert chess_saturation(methylene) == pytest.approx(0.95)
    assert chess_saturation(0.0) < 0.01


def test_residual_fat_grows_off_resonance():
    on = residual_fat_weight(0.0)
    assert 0.1 < on < 0.25          # olefinic/glycerol peaks escape CHESS
    off = residual_fat_weight(np.array([-200.0, 200.0]))
    assert np.all(off > 2 * on)
    assert residual_fat_weight(np.zeros((3, 4))).shape == (3, 4)


def test_mese_fat_share_limits_and_monotonic():
    tr = 1.046
    assert mese_fat_share(0.0, 0.0, tr) == 0.0
    assert mese_fat_share(1.0, 0.0, tr) == pytest.approx(1.0)
    shares = mese_fat_share(np.linspace(0, 1, 11), 0.0, tr)
    assert np.all(np.diff(shares) > 0)
    assert shares[1] < 0.1          # 10 % PDFF leaves a few percent of fat signal
    with pytest.raises(ValueError, match="pdff"):
        mese_fat_share(1.5, 0.0, tr)
    with pytest.raises(ValueError, match="repetition_time"):
        mese_fat_share(0.1, 0.0, 0.0)
