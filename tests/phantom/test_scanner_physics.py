"""The phantom's scanner: Bloch simulation of the MESE, multi-peak fat, and what differs
from the fits (brute-force isochromat references, no code shared with the simulator)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from qmri_kernels import fatwater, physics
from qmri_kernels.fatsat import mese_fat_share
from qmri_kernels.phantom import PROTOCOL, DiseaseSpec, axial_grid, label_index, make_subject
from qmri_kernels.phantom.bloch import (BlochError, RFPulse, flip_angle_profile,
                                        mese_echoes, pulse_rotation)
from qmri_kernels.phantom.scanner_physics import (DEFAULT_SCANNER, FIT_MODEL_SCANNER,
                                                  ScannerError, ScannerPhysics,
                                                  mese_simulator,
                                                  scanner_vs_fit_assumptions)
from qmri_kernels.t2._slice_profile import flip_profile, rf_envelope
from qmri_kernels.t2.epg import cpmg_signal_slice_profile

ESP = 0.007
FIT_EXC = RFPulse(np.pi / 2, 2.0, "hann", n_samples=256)
FIT_REF = RFPulse(np.pi, 2.0, "hann", phase=np.pi / 2, n_samples=256)


def _samples(pulse, x, b1, off):
    """scipy rotation of the whole pulse at position x (gradient + offset about z)."""
    _, env = rf_envelope(pulse.time_bandwidth, pulse.window, pulse.n_samples)
    env = env / env.sum()
    gz = 2 * np.pi * (pulse.time_bandwidth * x / pulse.width + off * pulse.duration) / env.size
    r = Rotation.identity()
    for e in env:
        a = b1 * pulse.flip_angle * e
        r = Rotation.from_rotvec([a * np.cos(pulse.phase), a * np.sin(pulse.phase), gz]) * r
    return r


def _isochromat_train(t2, t1, n_echoes, b1, exc, ref, off, x, n_iso=64):
    """The real timeline of one sub-slice: pulses sample by sample with their slice-select
    gradient, an instantaneous rephasing lobe, free precession (crusher spread over 2π plus
    the offset over the time between pulses), T2 decay and T1 recovery; mean M_xy."""
    tau = ESP / 2
    phi = 2 * np.pi * np.arange(n_iso) / n_iso
    m = np.zeros((n_iso, 3))
    m[:, 2] = 1.0
    m = _samples(exc, x, b1, off).apply(m)
    m = Rotation.from_rotvec([0, 0, -np.pi * exc.time_bandwidth * x / exc.width]).apply(m)
    r_ref = _samples(ref, x, b1, off)
    e2, e1 = np.exp(-tau / t2), np.exp(-tau / t1)

    def free(m, t):
        c, s = np.cos(phi + 2 * np.pi * off * t), np.sin(phi + 2 * np.pi * off * t)
        mx, my = c * m[:, 0] - s * m[:, 1], s * m[:, 0] + c * m[:, 1]
        return np.stack([mx * e2, my * e2, m[:, 2] * e1 + 1 - e1], axis=1)

    out = []
    for k in range(n_echoes):
        m = free(m, tau - ref.duration / 2 - (exc.duration / 2 if k == 0 else 0.0))
        m = r_ref.apply(m)
        m = free(m, tau - ref.duration / 2)
        out.append(np.mean(m[:, 0] + 1j * m[:, 1]))
    return np.array(out)


def test_pulse_rotation_matches_scipy_composition():
    p = RFPulse(np.pi, 2.0, "hamming", width=1.5, phase=np.pi / 2, n_samples=64)
    z = np.array([0.0, 0.3, -0.7])
    exc = pulse_rotation(p, z, [0.8, 1.1], off_resonance_hz=-120.0)
    ref = pulse_rotation(p, z, [0.8, 1.1], off_resonance_hz=-120.0, refocusing=True)
    for i, b1 in enumerate((0.8, 1.1)):
        for j, x in enumerate(z):
            raw = _samples(p, x, b1, -120.0).as_matrix()
            total = 2 * np.pi * (p.time_bandwidth * x / p.width - 120.0 * p.duration)
            undo = Rotation.from_rotvec([0, 0, -total / 2]).as_matrix()
            np.testing.assert_allclose(exc[i, j], undo @ raw, atol=1e-12)
            np.testing.assert_allclose(ref[i, j], undo @ raw @ undo, atol=1e-12)
    # an excitation at the centre on resonance is a plain 90° rotation about x
    r = pulse_rotation(RFPulse(np.pi / 2, 3.0), [0.0])[0, 0]
    np.testing.assert_allclose(r @ [0, 0, 1], [0, -1, 0], atol=1e-9)


@pytest.mark.parametrize("b1, off", [(0.8, 0.0), (1.05, -300.0), (0.95, 150.0)])
def test_mese_echoes_match_isochromat_simulation(b1, off):
    exc = RFPulse(np.pi / 2, 3.0, "hamming", duration=2.4e-3, n_samples=48)
    ref = RFPulse(np.pi, 2.0, "hamming", duration=2.0e-3, width=1.5, phase=np.pi / 2,
                  n_samples=48)
    n_pos, extent, n = 12, 3.0, 5
    edges = np.linspace(-extent / 2, extent / 2, n_pos + 1)
    iso = sum(extent / n_pos * _isochromat_train(0.04, 1.4, n, b1, exc, ref, off, x)
              for x in 0.5 * (edges[1:] + edges[:-1]))
    got = mese_echoes([0.04], 1.4, ESP, n, [b1], exc, ref, off, n_positions=n_pos,
                      extent=extent)[0, 0]
    np.testing.assert_allclose(got, 1j * iso, rtol=0, atol=1e-10)


def test_scaled_pulse_is_not_scaled_profile():
    z = np.linspace(0.0, 0.9, 10)
    nominal = flip_profile(np.pi, z, 2.0, "hann", "bloch")       # 512 RF samples
    fine = RFPulse(np.pi, 2.0, "hann", n_samples=512)
    np.testing.assert_allclose(flip_angle_profile(fine, z, 1.0)[0], nominal, atol=1e-9)
    at08 = flip_angle_profile(FIT_REF, z, 0.8)[0]
    assert at08[0] == pytest.approx(0.8 * np.pi)
    # off centre the scaled 180° pulse flips more than the scaled profile says (about
    # 105° vs 89° a third of a slice out)
    assert np.all(at08[1:] > 0.8 * nominal[1:])
    assert np.degrees(at08[3] - 0.8 * nominal[3]) > 12


def test_bloch_mese_vs_scaled_profile_model_first_echo():
    """The size of the scaled-profile shortcut: the same pulses (the fit's), Bloch vs EPG."""
    b1 = np.array([0.7, 0.8, 0.9, 1.0, 1.1])
    bloch = mese_echoes([0.035], physics.T1_MUSCLE_3T, ESP, 8, b1, FIT_EXC, FIT_REF,
                        n_positions=64)[0]
    assert np.abs(bloch.imag).max() < 1e-9 * np.abs(bloch).max()   # even profile on resonance
    model = cpmg_signal_slice_profile(0.035, physics.T1_MUSCLE_3T, ESP, 8, b1,
                                      n_subslices=64, extent=3.0)
    diff = 100 * (bloch.real[:, 0] / model[:, 0] - 1)
    # documented: +30, +21, +10, -1, -14 % at B1 0.7 ... 1.1
    np.testing.assert_allclose(diff, [29.7, 20.7, 10.4, -1.1, -13.8], atol=1.0)
    # at B1 = 1 the echo trains agree within 2 % (the excitation's phase across the slice)
    assert np.abs(bloch.real[3] - model[3]).max() < 0.02 * model[3, 0]


def test_simulator_tables_interpolate_direct_simulation():
    sim = mese_simulator(DEFAULT_SCANNER, ESP, 8)
    rng = np.random.default_rng(3)
    t2, b1 = rng.uniform(0.025, 0.09, 5), rng.uniform(0.65, 1.15, 5)
    psi = rng.uniform(-240, 240, 5)
    got_w = sim.water(t2, b1, psi)
    got_f = sim.fat(0.14, b1, psi)
    sc = DEFAULT_SCANNER
    freqs = sc.mese_fat_spectrum.frequencies_hz(3.0)
    for v in range(5):
        direct = mese_echoes([t2[v]], physics.T1_MUSCLE_3T, ESP, 8, [b1[v]], sc.excitation,
                             sc.refocusing, psi[v])[0, 0]
        assert np.abs(got_w[v] - direct).max() < 2e-3 * np.abs(direct[0])
        weights = sc.fat_weights(psi[v])
        fat = sum(w * mese_echoes([0.14 * r], physics.T1_FAT_3T, ESP, 8, [b1[v]],
                                  sc.excitation, sc.refocusing, f + psi[v])[0, 0]
                  for w, r, f in zip(weights, sc.fat_t2_ratio, freqs))
        assert np.abs(got_f[v] - fat).max() < 2e-3 * np.abs(fat[0])


@pytest.fixture(scope="module")
def diseased():
    spec = DiseaseSpec({("RF", "left"): 0.15}, {("RF", "left"): 0.060}, patchiness=0.5)
    return make_subject(42, "M", spec)


@pytest.fixture(scope="module")
def grid():
    return axial_grid(matrix=(64, 64), slice_thickness=6, gap=7, n_slices=2)


def test_megre_uses_the_scanner_spectrum(diseased, grid):
    te = PROTOCOL["megre"].echo_times
    t = diseased.truth(grid)
    body = t["labels"] > 0
    for scanner in (DEFAULT_SCANNER, FIT_MODEL_SCANNER):
        s = diseased.simulate_megre(grid, te, rng=0, snr=np.inf, truth=t, scanner=scanner)
        ref = fatwater.signal(1 - t["pdff"], t["pdff"], t["r2star"], t["b0"], te,
                              fat_spectrum=scanner.megre_fat_spectrum)
        np.testing.assert_allclose(s[body] / s[body][:, :1], ref[body] / ref[body][:, :1],
                                   rtol=2e-4, atol=2e-4)
    assert DEFAULT_SCANNER.megre_fat_spectrum.ppm.size > physics.FAT_PPM_6PEAK.size


def test_fit_model_scanner_is_the_epg_fit_model(diseased, grid):
    p = PROTOCOL["mese"]
    t = diseased.truth(grid)
    s = diseased.simulate_mese(grid, p.echo_times[0], p.n_echoes, p.repetition_time, rng=0,
                               snr=np.inf, truth=t, scanner=FIT_MODEL_SCANNER)
    idx = np.flatnonzero(t["labels"] == label_index("VL", "right"))[:40]
    share = mese_fat_share(t["pdff"].flat[idx], t["b0"].flat[idx], p.repetition_time)
    ew = cpmg_signal_slice_profile(t["water_t2"].flat[idx], physics.T1_MUSCLE_3T, ESP, 8,
                                   t["b1"].flat[idx])
    ef = cpmg_signal_slice_profile(diseased.fat_t2, physics.T1_FAT_3T, ESP, 8,
                                   t["b1"].flat[idx])
    model = (1 - share)[:, None] * ew + share[:, None] * ef
    data = s.reshape(-1, 8)[idx]
    np.testing.assert_allclose(data / data[:, :1], model / model[:, :1], rtol=2e-3)
    truth_share = diseased.fat_share_mese(grid, p.repetition_time, t, scanner=FIT_MODEL_SCANNER)
    np.testing.assert_allclose(truth_share.flat[idx], share, rtol=1e-9)


def test_default_scanner_mese_differs_from_the_fit_model(diseased, grid):
    p = PROTOCOL["mese"]
    t = diseased.truth(grid)
    args = (grid, p.echo_times[0], p.n_echoes, p.repetition_time)
    s = diseased.simulate_mese(*args, rng=0, snr=np.inf, truth=t)
    f = diseased.simulate_mese(*args, rng=0, snr=np.inf, truth=t, scanner=FIT_MODEL_SCANNER)
    muscle = t["labels"] > 10
    ratio = (s[muscle] / s[muscle][:, :1]) / (f[muscle] / f[muscle][:, :1])
    assert np.median(np.abs(ratio - 1).max(axis=1)) > 0.03       # a different echo train
    # seeded: the same rng gives the same images, another rng other noise
    a = diseased.simulate_mese(*args, rng=5, truth=t)
    b = diseased.simulate_mese(*args, rng=5, truth=t)
    c = diseased.simulate_mese(*args, rng=6, truth=t)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    share = diseased.fat_share_mese(grid, p.repetition_time, t)
    assert share.min() >= 0 and share.max() <= 1
    pred = mese_fat_share(t["pdff"], t["b0"], p.repetition_time)
    assert np.abs(share - pred)[muscle].max() > 1e-3          # nine peaks, water saturation


def test_table_and_errors():
    table = scanner_vs_fit_assumptions()
    assert list(table.columns) == ["series", "aspect", "simulated_scanner", "fit_assumes",
                                   "fit"]
    assert {"MEGRE", "MESE"} <= set(table["series"])
    differs = table[table["simulated_scanner"] != table["fit_assumes"]]
    assert len(differs) >= 8
    assert "Bloch" in table.set_index("aspect").loc["slice profile at B1", "simulated_scanner"]
    with pytest.raises(BlochError, match="time_bandwidth"):
        RFPulse(np.pi, 0.0)
    with pytest.raises(BlochError, match="window"):
        RFPulse(np.pi, 2.0, window="gauss")
    with pytest.raises(BlochError, match="b1"):
        pulse_rotation(FIT_REF, [0.0], b1=-1.0)
    with pytest.raises(ScannerError, match="fat_t2_ratio"):
        ScannerPhysics(fat_t2_ratio=(1.0, 1.0))
    with pytest.raises(ScannerError, match="mese_model"):
        ScannerPhysics(mese_model="epg")
