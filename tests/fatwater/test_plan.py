"""The per-acquisition tables: fat basis, grids, Gram matrices, periodicity of the cost."""

import numpy as np
import pytest

from qmri_kernels.fatwater import fat_phasor
from qmri_kernels.fatwater._plan import make_plan
from qmri_kernels.fatwater._reference import varpro_cost_reference
from qmri_kernels.physics import DEFAULT_FAT_SPECTRUM, FatSpectrum

TE = 1.5e-3 * np.arange(1, 7)


def test_tables_match_their_definitions():
    plan = make_plan(TE, 3.0, DEFAULT_FAT_SPECTRUM)
    assert plan.periodic and plan.period == pytest.approx(1 / 1.5e-3)
    assert plan.psi_grid[0] == pytest.approx(-plan.period / 2)
    np.testing.assert_allclose(np.diff(plan.psi_grid), plan.period / plan.psi_grid.size)
    np.testing.assert_allclose(plan.c, fat_phasor(TE))
    ph = plan.phasors_re + 1j * plan.phasors_im
    np.testing.assert_allclose(ph, np.exp(-2j * np.pi * TE[:, None] * plan.psi_grid[None, :]))
    for r, r2 in enumerate(plan.r2_grid):
        d = np.exp(-r2 * TE)
        a = np.stack([d, plan.c * d], axis=1)
        g = a.conj().T @ a
        g11, g12r, g12i, g22, det = plan.gram[r]
        np.testing.assert_allclose([g11, g12r + 1j * g12i, g22], [g[0, 0], g[0, 1], g[1, 1]])
        assert det == pytest.approx(np.linalg.det(g).real)
    assert not plan.te.flags.writeable


def test_cost_is_periodic_for_uniform_echo_spacing():
    plan = make_plan(TE, 3.0, DEFAULT_FAT_SPECTRUM)
    rng = np.random.default_rng(0)
    s = rng.standard_normal(6) + 1j * rng.standard_normal(6)
    for psi in (-120.0, 35.0, 300.0):
        a = varpro_cost_reference(s, psi, plan)[0]
        b = varpro_cost_reference(s, psi + plan.period, plan)[0]
        assert a == pytest.approx(b, rel=1e-9)


def test_non_uniform_echoes_are_not_periodic():
    te = np.array([1.2, 2.9, 4.1, 6.0, 7.7]) * 1e-3
    plan = make_plan(te, 3.0, DEFAULT_FAT_SPECTRUM)
    assert not plan.periodic and plan.period == 0.0
    assert plan.psi_grid[0] == pytest.approx(-0.5 / np.diff(te).min())
    assert plan.psi_grid[-1] == pytest.approx(0.5 / np.diff(te).min())


def test_echoes_that_cannot_separate_fat_from_water_are_rejected():
    single = FatSpectrum([1.3], [1.0], name="single")
    f = abs(single.frequencies_hz(3.0)[0])
    te = np.arange(1, 5) / f                       # fat back in phase at every echo
    with pytest.raises(ValueError, match="cannot separate water from fat"):
        make_plan(te, 3.0, single)
