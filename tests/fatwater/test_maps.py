"""The fit's PDFF map from the packed parameters equals the array formula."""

import numpy as np
import pytest

from qmri_kernels.fatwater import FatWaterModel, proton_density_fat_fraction, signal
from qmri_kernels.fatwater._maps import pdff_kernel


def test_pdff_kernel_is_the_array_formula():
    rng = np.random.default_rng(5)
    params = rng.normal(size=(5000, 7))
    params[:10, :4] = 0.0                            # W + F = 0: NaN
    params[10:20, 0] = np.nan                        # a NaN parameter: NaN
    params[20:30, 2:4] = -params[20:30, 0:2]         # F = −W: NaN
    params[30:40, 2:4] = 0.0                         # no fat: 0 exactly
    want = proton_density_fat_fraction(params[:, 0] + 1j * params[:, 1],
                                       params[:, 2] + 1j * params[:, 3])
    got = pdff_kernel(params)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(got[:30]).all() and (got[30:40] == 0.0).all()
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("scale", [1e-170, 1e-140, 1.0, 1e140, 1e170])
def test_pdff_kernel_at_any_scale(scale):
    # the squares of the amplitudes under- or overflow at the extremes: the modulus falls
    # back to hypot, and the fraction does not depend on the scale
    rng = np.random.default_rng(6)
    params = rng.normal(size=(2000, 7))
    want = proton_density_fat_fraction(params[:, 0] + 1j * params[:, 1],
                                       params[:, 2] + 1j * params[:, 3])
    got = pdff_kernel(params * scale)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


def test_fit_pdff_map_matches_its_amplitudes():
    te = 1.5e-3 * np.arange(1, 7)
    w = np.array([[0.9, 0.0], [0.2, 0.5]])
    f = np.array([[0.1, 0.0], [0.8, 0.5]])
    s = signal(w, f, 40.0, 25.0, te)
    mask = np.array([[True, True], [True, False]])
    fit = FatWaterModel(te).fit(s, mask)
    want = proton_density_fat_fraction(fit.water_complex, fit.fat_complex)
    np.testing.assert_allclose(fit.pdff, want, rtol=1e-13, atol=1e-15)
    assert np.isnan(fit.pdff[1, 1]) and np.isnan(fit.pdff[0, 1])
    assert not fit.pdff.flags.writeable
