"""Tests of the PDFF → fat-share relation and of the fat T2 calibration."""

from __future__ import annotations

import numpy as np
import pytest

from qmri_kernels.fatsat import mese_fat_share
from qmri_kernels.t2 import EPGT2Model, calibrate_fat_t2, residual_fat_share


def test_residual_fat_share_is_the_phantoms_relation():
    pdff = np.linspace(0, 1, 11)
    psi = np.linspace(-200, 200, 11)
    np.testing.assert_allclose(residual_fat_share(pdff, psi), mese_fat_share(pdff, psi, 1.046))
    share = residual_fat_share(pdff)
    assert share[0] == 0 and share[-1] == pytest.approx(1.0)
    assert np.all(np.diff(share) > 0) and np.all(share[1:-1] < pdff[1:-1])
    # Weaker saturation off resonance leaves more fat.
    assert residual_fat_share(0.1, 150.0) > residual_fat_share(0.1, 0.0)
    assert np.isnan(residual_fat_share(np.array([np.nan, 0.1]))[0])
    with pytest.raises(ValueError, match="pdff"):
        residual_fat_share(10.0)


def test_calibrate_fat_t2_recovers_fat_t2():
    rng = np.random.default_rng(3)
    true_fat_t2 = 0.15
    model = EPGT2Model(0.007, 8, fat_t2=true_fat_t2)
    v = 1500
    b1 = rng.uniform(0.75, 1.05, v)
    share = rng.uniform(0.75, 0.95, v)
    y = model.signal(rng.uniform(0.03, 0.045, v), b1, share, 400.0)
    noise = rng.normal(0, 6.0, y.shape + (2,))
    y = np.abs(y + noise[..., 0] + 1j * noise[..., 1]).astype(np.float32)
    cal = calibrate_fat_t2(EPGT2Model(0.007, 8), y, np.ones(v, bool), share)
    assert cal.fat_t2 == pytest.approx(true_fat_t2, abs=0.006)
    assert cal.cost.shape == cal.candidates.shape and cal.n_voxels == v
    with pytest.raises(ValueError, match="mask"):
        calibrate_fat_t2(model, y, np.ones(3, bool))
    with pytest.raises(ValueError, match="no voxels"):
        calibrate_fat_t2(model, y, np.zeros(v, bool))
