import numpy as np
import pytest

from qmri_kernels import physics
from qmri_kernels.physics import DEFAULT_FAT_SPECTRUM, REN2008_FAT_SPECTRUM, FatSpectrum, triglyceride_spectrum


def test_default_spectrum_is_hamilton_six_peak():
    assert DEFAULT_FAT_SPECTRUM.ppm.size == 6
    assert DEFAULT_FAT_SPECTRUM.amplitudes.sum() == pytest.approx(1.0)
    f = DEFAULT_FAT_SPECTRUM.frequencies_hz(3.0)
    # methylene (1.3 ppm) sits 3.4 ppm below water: about -434 Hz at 3 T
    assert f[1] == pytest.approx(-3.4e-6 * 3.0 * 42.577478518e6)
    assert -440 < f[1] < -430


def test_triglyceride_model_proton_counts():
    ppm, amps = triglyceride_spectrum(17.3, 2.8, 0.75)
    assert ppm.size == 9 and amps.sum() == pytest.approx(1.0)
    # methyl: 9 protons of the total
    total = 9 / amps[0]
    assert total == pytest.approx(9 + (17.3 - 4) * 6 - 2.8 * 8 + 0.75 * 2 + 6 + (2.8 - 0.75) * 4 + 6 + 1.5 + 4 + 1 + 5.6)
    assert REN2008_FAT_SPECTRUM.ppm.size == 9
    with pytest.raises(ValueError, match="negative"):
        triglyceride_spectrum(4.0, 3.0, 0.0)


def test_spectrum_is_read_only_and_validated():
    with pytest.raises(ValueError):
        FatSpectrum([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        FatSpectrum([1.0], [-1.0])
    with pytest.raises(ValueError):
        DEFAULT_FAT_SPECTRUM.ppm[0] = 0.0


def test_relaxation_constants_are_in_si():
    assert 1.0 < physics.T1_MUSCLE_3T < 2.0
    assert 0.02 < physics.T2_MUSCLE_3T < 0.05
    assert 0.1 < physics.T2_FAT_3T < 0.2
    assert np.isclose(physics.GAMMA_BAR_HZ_PER_T, 42.577478518e6)
