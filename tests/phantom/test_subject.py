import numpy as np
import pytest

from qmri_kernels import fatwater
from qmri_kernels.fatsat import mese_fat_share
from qmri_kernels.phantom import PROTOCOL, DiseaseSpec, axial_grid, label_index, make_subject
from qmri_kernels.t2.epg import cpmg_signal_slice_profile
from qmri_kernels.phantom.scanner_physics import FIT_MODEL_SCANNER


@pytest.fixture(scope="module")
def diseased():
    spec = DiseaseSpec({("RF", "left"): 0.15}, {("RF", "left"): 0.060}, patchiness=0.5)
    return make_subject(42, "M", spec)


@pytest.fixture(scope="module")
def grid():
    return axial_grid(matrix=(128, 128), slice_thickness=6, gap=3, n_slices=5)


def test_fields_span_the_specified_ranges(diseased, grid):
    t = diseased.truth(grid)
    body = t["labels"] > 0
    b0, b1 = t["b0"][body], t["b1"][body]
    assert 300 < np.ptp(b0) < 520          # about ±200 Hz over the body
    assert b1.min() >= 0.65 and b1.max() <= 1.15 and np.ptp(b1) > 0.3
    assert np.all(t["b0"][~body] == 0)


def test_diseased_muscle_mean_matches_spec_and_is_patchy(diseased):
    fine = axial_grid(matrix=(256, 256), slice_thickness=2, gap=6, n_slices=21)
    t = diseased.truth(fine)
    sel = t["labels"] == label_index("RF", "left")
    assert abs(t["pdff"][sel].mean() - 0.15) < 0.01
    assert abs(t["water_t2"][sel].mean() - 0.060) < 0.002
    assert t["pdff"][sel].std() > 0.03      # fatty infiltration varies inside the muscle
    twin = t["labels"] == label_index("RF", "right")
    assert t["water_t2"][twin].mean() == pytest.approx(0.035)


def test_megre_without_noise_is_the_forward_model(diseased, grid):
    te = PROTOCOL["megre"].echo_times
    s = diseased.simulate_megre(grid, te, rng=0, snr=np.inf, scanner=FIT_MODEL_SCANNER)
    t = diseased.truth(grid)
    body = t["labels"] > 0
    # the ratio of echoes removes coil and receive phase: compare with signal() directly
    ref = fatwater.signal(1 - t["pdff"], t["pdff"], t["r2star"], t["b0"], te)
    ratio = s[body] / s[body][:, :1]
    np.testing.assert_allclose(ratio, ref[body] / ref[body][:, :1], rtol=2e-4, atol=2e-4)


def test_mese_without_noise_follows_epg_and_fat_share(diseased, grid):
    p = PROTOCOL["mese"]
    s = diseased.simulate_mese(grid, p.echo_times[0], p.n_echoes, p.repetition_time, rng=0, snr=np.inf,
                              scanner=FIT_MODEL_SCANNER)
    t = diseased.truth(grid)
    sel = t["labels"] == label_index("VL", "right")
    idx = np.flatnonzero(sel)[:50]
    share = mese_fat_share(t["pdff"].flat[idx], t["b0"].flat[idx], p.repetition_time)
    from qmri_kernels import physics
    ew = cpmg_signal_slice_profile(t["water_t2"].flat[idx], physics.T1_MUSCLE_3T, p.echo_times[0], 8, t["b1"].flat[idx])
    ef = cpmg_signal_slice_profile(diseased.fat_t2, physics.T1_FAT_3T, p.echo_times[0], 8, t["b1"].flat[idx])
    model = (1 - share)[:, None] * ew + share[:, None] * ef
    data = s.reshape(-1, 8)[idx]
    np.testing.assert_allclose(data / data[:, :1], model / model[:, :1], rtol=2e-3)


def test_noise_is_seeded_and_magnitudes_rician(diseased, grid):
    a = diseased.simulate_t2w(grid, rng=1)
    b = diseased.simulate_t2w(grid, rng=1)
    c = diseased.simulate_t2w(grid, rng=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    background = diseased.truth(grid)["labels"] == 0
    bg = a[background]
    # Rayleigh background: mean/std = sqrt(pi/(4-pi)) ≈ 1.91
    assert bg.min() >= 0 and abs(bg.mean() / bg.std() - 1.913) < 0.05


def test_t2w_is_the_ideal_water_image(diseased, grid):
    # The protocol's T2w is the water image of an FSE IDEAL: fat dark, edema bright, so
    # that an edematous muscle cannot be mistaken for the fat around it.
    t = diseased.truth(grid)
    img = diseased.simulate_t2w(grid, rng=3, snr=1e6, truth=t)
    scf = np.median(img[t["labels"] == 1])
    muscle = t["labels"] > 10
    # healthy, even at a low water T2 (subject 01's biopsied muscle: 30 ms)
    healthy = muscle & (t["water_t2"] < 0.036) & (t["pdff"] < 0.05)
    edema = muscle & (t["water_t2"] > 0.060)
    assert edema.any() and healthy.any()
    assert scf < 0.75 * np.median(img[healthy]) * np.exp(-0.120 / 0.030 + 0.120 / 0.035)
    assert np.median(img[edema]) > np.median(img[healthy]) > scf
    # with the fat left in (no separation) fat is the brightest tissue
    full = diseased.simulate_t2w(grid, rng=3, snr=1e6, truth=t, fat_leak=1.0)
    assert np.median(full[t["labels"] == 1]) > np.median(full[healthy])
    with pytest.raises(ValueError, match="fat_leak"):
        diseased.simulate_t2w(grid, rng=3, truth=t, fat_leak=1.5)
