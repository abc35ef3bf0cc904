"""FatWaterModel / FatWaterFit: the public API, recovery, noise bias and bad input."""

import numpy as np
import pytest

from qmri_kernels.fatwater import (FatWaterFit, FatWaterModel, combine_complex, pdff_crlb,
                                   proton_density_fat_fraction, signal)
from qmri_kernels.fatwater._plan import make_plan
from qmri_kernels.fatwater._reference import fit_voxel_reference
from qmri_kernels.physics import DEFAULT_FAT_SPECTRUM

TE = 1.5e-3 * np.arange(1, 7)


def grid_of_voxels(rng, n=200):
    rng = np.random.default_rng(rng)
    ff = rng.uniform(0, 1, n)
    amp = rng.uniform(300, 1500, n) * np.exp(1j * rng.uniform(-np.pi, np.pi, n))
    r2 = rng.uniform(0, 200, n)
    psi = rng.uniform(-300, 300, n)
    return ff, amp, r2, psi


def test_exact_recovery_without_noise():
    ff, amp, r2, psi = grid_of_voxels(0)
    s = signal(amp * (1 - ff), amp * ff, r2, psi, TE)
    fit = FatWaterModel(TE).fit(s)
    assert isinstance(fit, FatWaterFit) and fit.shape == (200,)
    np.testing.assert_allclose(fit.pdff, ff, atol=1e-6)
    np.testing.assert_allclose(fit.r2star, r2, atol=1e-3)
    np.testing.assert_allclose(fit.fieldmap, psi, atol=1e-4)
    # the kernels take complex64: amplitudes agree to its precision
    np.testing.assert_allclose(fit.water, np.abs(amp) * (1 - ff), rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(fit.fat, np.abs(amp) * ff, rtol=1e-6, atol=1e-4)
    assert np.all(fit.residual < 1e-6 * np.abs(amp))
    np.testing.assert_allclose(fit.predict(), s, atol=1e-5 * np.abs(amp).max())


def test_recovery_with_noise_matches_the_scipy_reference():
    ff, amp, r2, psi = grid_of_voxels(1, n=40)
    amp = np.abs(amp)
    rng = np.random.default_rng(2)
    s = signal(amp * (1 - ff), amp * ff, r2, psi, TE)
    s = s + 10.0 * (rng.standard_normal(s.shape) + 1j * rng.standard_normal(s.shape))
    fit = FatWaterModel(TE).fit(s)
    plan = make_plan(TE, 3.0, DEFAULT_FAT_SPECTRUM)
    for v in range(40):
        ref = fit_voxel_reference(s[v], plan)
        assert fit.fieldmap[v] == pytest.approx(ref[5], abs=0.05)
        assert fit.r2star[v] == pytest.approx(ref[4], abs=0.1)
        w, f = ref[0] + 1j * ref[1], ref[2] + 1j * ref[3]
        assert fit.pdff[v] == pytest.approx(float(proton_density_fat_fraction(w, f)), abs=1e-4)
    assert np.median(np.abs(fit.pdff - ff)) < 0.02


def test_maps_have_the_signal_shape_and_nan_outside_the_mask():
    rng = np.random.default_rng(3)
    s = signal(np.full((8, 7, 2), 500.0), np.full((8, 7, 2), 100.0), 40.0, 20.0, TE)
    s = s + rng.standard_normal(s.shape) + 1j * rng.standard_normal(s.shape)
    mask = np.zeros((8, 7, 2), bool)
    mask[2:6, 1:6, :] = True
    fit = FatWaterModel(TE).fit(s, mask=mask)
    for name in ("water", "fat", "pdff", "r2star", "fieldmap", "residual"):
        m = getattr(fit, name)
        assert m.shape == (8, 7, 2), name
        assert np.all(np.isnan(m[~mask])) and np.all(np.isfinite(m[mask])), name
    assert fit.model_params.shape == (8, 7, 2, 7)
    assert not fit.model_params.flags.writeable
    np.testing.assert_allclose(fit.pdff[mask], 1 / 6, atol=0.01)
    np.testing.assert_allclose(fit.fieldmap[mask], 20.0, atol=1.0)
    assert set(np.unique(fit.fieldmap_source[mask])) <= {1, 2, 3, 4, 5, 6}
    assert np.all(fit.fieldmap_source[~mask] == 0)


def test_fortran_ordered_inputs_give_the_same_fit():
    # NIfTI volumes arrive in Fortran order: the fit walks them in C order all the same
    rng = np.random.default_rng(8)
    s = signal(np.full((9, 8, 3), 600.0), np.full((9, 8, 3), 150.0), 45.0, -30.0, TE)
    s = s + 3 * (rng.standard_normal(s.shape) + 1j * rng.standard_normal(s.shape))
    mask = rng.uniform(size=(9, 8, 3)) < 0.8
    model = FatWaterModel(TE)
    want = model.fit(s, mask)
    got = model.fit(np.asfortranarray(s), np.asfortranarray(mask))
    np.testing.assert_array_equal(got.model_params, want.model_params)
    np.testing.assert_array_equal(got.fieldmap_source, want.fieldmap_source)


def test_empty_mask_and_integer_mask():
    s = signal(np.ones((4, 4)), np.zeros((4, 4)), 0.0, 0.0, TE)
    fit = FatWaterModel(TE).fit(s, mask=np.zeros((4, 4), int))
    assert np.all(np.isnan(fit.pdff))
    fit = FatWaterModel(TE).fit(s, mask=np.eye(4, dtype=int))
    np.testing.assert_allclose(np.diag(fit.pdff), 0.0, atol=1e-6)


def test_non_finite_voxels_give_nan_and_leave_the_rest_alone():
    s = signal(np.full((6, 6), 800.0), np.full((6, 6), 200.0), 30.0, -40.0, TE)
    s[2, 3, 4] = np.nan
    fit = FatWaterModel(TE).fit(s)
    assert np.isnan(fit.pdff[2, 3]) and np.isnan(fit.fieldmap[2, 3])
    ok = np.ones((6, 6), bool)
    ok[2, 3] = False
    np.testing.assert_allclose(fit.pdff[ok], 0.2, atol=1e-6)


def test_fit_is_deterministic_and_leaves_the_model_unchanged():
    rng = np.random.default_rng(4)
    s = signal(np.full((10, 10, 2), 700.0), np.full((10, 10, 2), 70.0), 35.0, 60.0, TE)
    s = s + 5 * (rng.standard_normal(s.shape) + 1j * rng.standard_normal(s.shape))
    model = FatWaterModel(TE)
    before = repr(model), model.echo_times.copy()
    a = model.fit(s).model_params
    b = model.fit(s.astype(np.complex128)).model_params
    np.testing.assert_array_equal(a, b)
    assert (repr(model), model.echo_times.tolist()) == (before[0], before[1].tolist())


def test_magnitude_discrimination_is_unbiased_near_zero_and_one():
    # Liu 2007: |F|/(|W|+|F|) reads noise as fat near 0 % (and water near 100 %)
    rng = np.random.default_rng(5)
    n = 4000
    for ff in (0.0, 1.0):
        s = signal(np.full(n, 1000.0 * (1 - ff)), np.full(n, 1000.0 * ff), 35.0, 0.0, TE)
        s = s + 25.0 * (rng.standard_normal(s.shape) + 1j * rng.standard_normal(s.shape))
        fit = FatWaterModel(TE).fit(s)
        corrected = fit.pdff
        naive = proton_density_fat_fraction(fit.water_complex, fit.fat_complex,
                                             noise_bias_correction=False)
        sem = corrected.std() / np.sqrt(n)
        assert abs(corrected.mean() - ff) < 4 * sem
        assert abs(naive.mean() - ff) > 0.01                  # the bias it removes
    assert np.isnan(proton_density_fat_fraction(0.0, 0.0))     # no signal, no fraction


def test_errors_follow_the_cramer_rao_bound():
    # an efficient unbiased fit: errors divided by the per-voxel CRLB are standard normal
    rng = np.random.default_rng(6)
    n = 3000
    ff = rng.uniform(0, 0.3, n)
    r2 = rng.uniform(30, 50, n)
    psi = rng.uniform(-200, 200, n)
    sigma = 800 / 60.0
    s = signal(800 * (1 - ff), 800 * ff, r2, psi, TE)
    s = s + sigma * (rng.standard_normal(s.shape) + 1j * rng.standard_normal(s.shape))
    fit = FatWaterModel(TE).fit(s)
    sd = pdff_crlb(800 * (1 - ff), 800 * ff, r2, psi, TE, sigma)
    z = (fit.pdff - ff) / sd
    assert np.median(np.abs(z)) == pytest.approx(0.674, abs=0.04)
    assert abs(np.mean(z)) < 0.1


def test_single_voxel_and_complex128_input():
    s = signal(900.0, 100.0, 40.0, 10.0, TE)
    fit = FatWaterModel(TE).fit(s)
    assert fit.pdff.shape == () and float(fit.pdff) == pytest.approx(0.1, abs=1e-6)


def test_magnitude_and_phase_input_through_combine_complex():
    s = signal(np.full((5, 5), 600.0), np.full((5, 5), 300.0), 50.0, 80.0, TE)
    z = combine_complex(np.abs(s), np.angle(s))
    fit = FatWaterModel(TE).fit(z)
    np.testing.assert_allclose(fit.pdff, 1 / 3, atol=1e-5)


# -- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize("te, match", [
    ([3e-3, 1.5e-3, 4.5e-3], "echo_times must be strictly increasing"),
    ([1.5e-3, 1.5e-3, 3e-3], "echo_times must be strictly increasing"),
    ([1.5e-3, 3e-3], "at least 3 echoes"),
    ([[1.5e-3, 3e-3, 4.5e-3]], "echo_times must be a 1-D"),
    ([1.5, 3.0, 4.5, 6.0], "echo_times must be in seconds"),
    ([-1e-3, 1e-3, 2e-3], "echo_times must be non-negative"),
    ([1e-3, np.nan, 3e-3], "echo_times must be finite"),
])
def test_bad_echo_times(te, match):
    with pytest.raises(ValueError, match=match):
        FatWaterModel(te)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(field_strength=0.0), ValueError, "field_strength must be a positive"),
    (dict(field_strength="3T"), TypeError, "field_strength must be a number"),
    (dict(fat_spectrum=[1.3]), TypeError, "fat_spectrum must be a qmri_kernels.physics"),
    (dict(fieldmap_method="graph-cut"), ValueError, "fieldmap_method must be one of"),
    (dict(reliability=1.5), ValueError, "reliability must be in"),
    (dict(r2star_bounds=(100, 10)), ValueError, "r2star_bounds must be finite"),
    (dict(max_jump_hz=0), ValueError, "max_jump_hz must be positive"),
    (dict(max_iter=0), ValueError, "max_iter must be at least 1"),
])
def test_bad_model_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        FatWaterModel(TE, **kwargs)


def test_magnitude_only_signal_is_rejected():
    s = np.abs(signal(np.ones((3, 3)), np.zeros((3, 3)), 0.0, 0.0, TE))
    with pytest.raises(TypeError, match="signal must be complex.*magnitude-only"):
        FatWaterModel(TE).fit(s)


def test_signal_and_mask_shape_errors():
    model = FatWaterModel(TE)
    s = signal(np.ones((4, 5)), np.zeros((4, 5)), 0.0, 0.0, TE)
    with pytest.raises(ValueError, match=r"mask shape \(5, 4\) does not match .* \(4, 5\)"):
        model.fit(s, mask=np.ones((5, 4), bool))
    with pytest.raises(ValueError, match=r"n_echoes=6 .* got shape \(4, 5, 5\)"):
        model.fit(s[..., :5])
    with pytest.raises(ValueError, match="at most 3 spatial axes"):
        model.fit(np.ones((2, 2, 2, 2, 6), complex))
    with pytest.raises(TypeError, match="mask must be boolean or numeric"):
        model.fit(s, mask=np.full((4, 5), "x"))
