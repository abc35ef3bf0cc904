"""Tests of the EPG CPMG forward model against analytic cases and a Bloch simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from _t2_bloch import bloch_isochromat_cpmg

from qmri_kernels.t2._epg_kernels import cpmg_reference
from qmri_kernels.t2._slice_profile import rf_envelope
from qmri_kernels.t2.epg import cpmg_signal, cpmg_signal_slice_profile, slice_profile

ESP = 0.007
N_ECHOES = 8


def test_perfect_refocusing_is_monoexponential():
    t2 = np.array([0.02, 0.035, 0.05, 0.1, 0.3])
    s = cpmg_signal(t2, 1.4, ESP, N_ECHOES, b1=1.0)
    te = ESP * np.arange(1, N_ECHOES + 1)
    np.testing.assert_allclose(s, np.exp(-te / t2[:, None]), rtol=0, atol=1e-10)
    assert s.dtype == np.float64


@pytest.mark.parametrize("b1", [0.5, 0.7, 0.85, 0.95, 1.1])
@pytest.mark.parametrize("t2, t1", [(0.035, 1.4), (0.06, 0.37), (0.15, np.inf)])
def test_matches_bloch_isochromat_simulation(b1, t2, t1):
    epg = cpmg_signal(t2, t1, ESP, N_ECHOES, b1=b1)
    bloch = bloch_isochromat_cpmg(t2, t1, ESP, N_ECHOES, b1 * np.pi)
    # The CPMG (x) channel is what the EPG computes: identical up to round-off.
    np.testing.assert_allclose(epg, bloch.real, rtol=1e-10, atol=1e-12)
    # The magnitude includes the T1-recovered quadrature channel the EPG neglects.
    np.testing.assert_allclose(epg, np.abs(bloch), rtol=1e-3)


def test_numba_kernel_matches_numpy_reference():
    rng = np.random.default_rng(3)
    for n_echoes in (1, 2, 5, 8, 17):
        t2 = rng.uniform(0.01, 0.3, 6)
        t1 = rng.uniform(0.2, 2.0, 6)
        b1 = rng.uniform(0.3, 1.3, 6)
        fast = cpmg_signal(t2, t1, 0.01, n_echoes, b1=b1, refocusing_angle=2.8)
        slow = np.array([cpmg_reference(a, b, 0.005, c * 2.8, n_echoes)
                         for a, b, c in zip(t2, t1, b1)])
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-14)


def test_broadcasting_and_shapes():
    t2 = np.full((3, 1), 0.04)
    b1 = np.linspace(0.7, 1.0, 4)
    s = cpmg_signal(t2, 1.4, ESP, N_ECHOES, b1=b1)
    assert s.shape == (3, 4, N_ECHOES)
    np.testing.assert_allclose(s[1, 2], cpmg_signal(0.04, 1.4, ESP, N_ECHOES, b1=b1[2]))
    assert cpmg_signal(0.04, 1.4, ESP, 1).shape == (1,)
    t1 = np.full((3, 4), 1.4)
    assert cpmg_signal_slice_profile(t2, t1, ESP, 5, b1=b1).shape == (3, 4, 5)


def test_monotonic_in_t2_and_symmetric_in_b1():
    t2 = np.linspace(0.02, 0.2, 10)
    for b1 in (0.7, 1.0):
        s = cpmg_signal(t2, 1.4, ESP, N_ECHOES, b1=b1)
        assert np.all(np.diff(s, axis=0) > 0)          # longer T2, more signal
    s = cpmg_signal(0.04, 1.4, ESP, N_ECHOES, b1=1.0)
    assert np.all(np.diff(s) < 0)                       # decays echo after echo
    # Refocusing by π - δ and π + δ gives the same echoes (rotation algebra).
    np.testing.assert_allclose(cpmg_signal(0.04, 1.4, ESP, N_ECHOES, b1=0.8),
                               cpmg_signal(0.04, 1.4, ESP, N_ECHOES, b1=1.2), atol=1e-13)
    # Weaker refocusing loses signal at the first echo.
    first = cpmg_signal(0.04, 1.4, ESP, 1, b1=np.linspace(0.5, 1.0, 6))[:, 0]
    assert np.all(np.diff(first) > 0)


def test_stimulated_echoes_lengthen_apparent_t2():
    te = ESP * np.arange(1, N_ECHOES + 1)
    for b1 in (0.7, 0.85):
        s = cpmg_signal(0.035, 1.4, ESP, N_ECHOES, b1=b1)
        slope = np.polyfit(te[1:], np.log(s[1:]), 1)[0]
        assert -1 / slope > 0.035


def test_bloch_slice_profile_matches_rotation_matrices():
    tbw, fa = 2.0, np.pi
    positions = np.array([0.0, 0.1, 0.35, 0.6, 0.9])
    _, env = rf_envelope(tbw, "hann")
    expected = []
    for x in positions:
        m = np.array([0.0, 0.0, 1.0])
        for b in fa * env / env.sum():
            m = Rotation.from_rotvec([b, 0.0, 2 * np.pi * tbw * x / env.size]).apply(m)
        expected.append(np.arccos(np.clip(m[2], -1, 1)))
    from qmri_kernels.t2._slice_profile import flip_profile
    got = flip_profile(fa, positions, tbw, "hann", "bloch")
    np.testing.assert_allclose(got, expected, atol=1e-9)
    # Small tips: Bloch and the Fourier (small-tip) profile agree.
    small_b = flip_profile(0.05, positions, tbw, "hamming", "bloch")
    small_f = flip_profile(0.05, positions, tbw, "hamming", "fourier")
    np.testing.assert_allclose(small_b, small_f, rtol=1e-3, atol=1e-6)


def test_slice_profile_reduces_to_hard_pulse_for_rectangular_profile():
    t2 = np.array([0.03, 0.06])
    for b1 in (0.75, 1.0):
        prof = cpmg_signal_slice_profile(t2, 1.4, ESP, N_ECHOES, b1=b1, method="ideal",
                                         n_subslices=16)
        hard = cpmg_signal(t2, 1.4, ESP, N_ECHOES, b1=b1)
        np.testing.assert_allclose(prof, np.sin(b1 * np.pi / 2) * hard, rtol=1e-12)


def test_slice_profile_is_sum_of_hard_pulse_sub_slices():
    kw = dict(n_subslices=12, time_bandwidth=3.0, refocusing_width=1.2, window="hamming")
    t2, b1 = 0.045, 0.9
    pos, w, exc, ref = slice_profile(**kw)
    expected = sum(wj * np.sin(b1 * ej) * cpmg_signal(t2, 1.4, ESP, N_ECHOES, b1=b1,
                                                       refocusing_angle=rj)
                   for wj, ej, rj in zip(w, exc, ref))
    got = cpmg_signal_slice_profile(t2, 1.4, ESP, N_ECHOES, b1=b1, **kw)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert np.allclose(pos, -pos[::-1]) and np.isclose(w.sum(), 2.0)


def test_slice_profile_below_hard_pulse_and_lengthens_apparent_t2():
    te = ESP * np.arange(1, N_ECHOES + 1)
    hard = cpmg_signal(0.035, 1.4, ESP, N_ECHOES, b1=1.0)
    _, w, exc, _ = slice_profile()
    excited = np.sum(w * np.sin(exc))        # transverse magnetisation after excitation
    # With T1 = T2 all states decay alike and pulses only redistribute them, so any
    # imperfect refocusing can only lose signal relative to the perfect hard pulse.
    same = cpmg_signal_slice_profile(0.035, 0.035, ESP, N_ECHOES, b1=1.0) / excited
    assert np.all(same < cpmg_signal(0.035, 0.035, ESP, N_ECHOES) - 1e-3)
    # With a realistic T1, the first echo is lower, later ones gain stimulated echoes.
    prof = cpmg_signal_slice_profile(0.035, 1.4, ESP, N_ECHOES, b1=1.0)
    assert prof[0] / excited < hard[0] - 0.05
    slope = np.polyfit(te[1:], np.log(prof[1:]), 1)[0]
    assert -1 / slope > 0.036
    # A wider refocusing slice brings the train closer to the ideal decay.
    wide = cpmg_signal_slice_profile(0.035, 1.4, ESP, N_ECHOES, refocusing_width=3.0)
    assert np.abs(wide / wide[0] - hard / hard[0]).max() < np.abs(
        prof / prof[0] - hard / hard[0]).max()


@pytest.mark.parametrize("kwargs, name", [
    (dict(t2=-0.03), "t2"),
    (dict(t2=0.0), "t2"),
    (dict(t2=np.nan), "t2"),
    (dict(t2=[0.03, np.nan]), "t2"),
    (dict(t1=-1.0), "t1"),
    (dict(t1=np.nan), "t1"),
    (dict(b1=np.nan), "b1"),
    (dict(b1=-0.2), "b1"),
    (dict(n_echoes=0), "n_echoes"),
    (dict(n_echoes=2.5), "n_echoes"),
    (dict(echo_spacing=-0.007), "echo_spacing"),
    (dict(echo_spacing=[0.007, 0.008]), "echo_spacing"),
    (dict(refocusing_angle=np.nan), "refocusing_angle"),
    (dict(t2=np.ones(3) * 0.03, b1=np.ones(4)), "t2"),
])
def test_bad_input_names_argument(kwargs, name):
    args = dict(t2=0.035, t1=1.4, echo_spacing=ESP, n_echoes=N_ECHOES, b1=1.0)
    args.update(kwargs)
    for func in (cpmg_signal, cpmg_signal_slice_profile):
        with pytest.raises(ValueError, match=name):
            func(**args)


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_subslices=0), "n_subslices"),
    (dict(time_bandwidth=0.0), "time_bandwidth"),
    (dict(refocusing_width=-1.0), "refocusing_width"),
    (dict(window="gauss"), "window"),
    (dict(method="slr"), "method"),
    (dict(extent=np.nan), "extent"),
])
def test_bad_profile_input_names_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        cpmg_signal_slice_profile(0.035, 1.4, ESP, N_ECHOES, **kwargs)


def test_serial_and_parallel_kernels_agree():
    # cpmg_signal switches to the serial twins below SERIAL_BELOW voxels: same numbers
    from qmri_kernels.t2 import _epg_kernels as K

    rng = np.random.default_rng(4)
    n = 40
    t2, t1 = rng.uniform(0.02, 0.2, n), np.full(n, 1.4)
    b1 = rng.uniform(0.7, 1.1, n)
    np.testing.assert_array_equal(K.cpmg_kernel(t2, t1, b1, ESP / 2, np.pi, N_ECHOES),
                                  K.cpmg_kernel_serial(t2, t1, b1, ESP / 2, np.pi, N_ECHOES))
    exc = np.linspace(np.pi / 2, 0.1, 5)
    ref = np.linspace(np.pi, 0.2, 5)
    w = np.full(5, 0.2)
    np.testing.assert_allclose(
        K.cpmg_profile_kernel(t2, t1, b1, ESP / 2, N_ECHOES, exc, ref, w),
        K.cpmg_profile_kernel_serial(t2, t1, b1, ESP / 2, N_ECHOES, exc, ref, w),
        rtol=0, atol=1e-15)
