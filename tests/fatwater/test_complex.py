"""combine_complex: the magnitude/phase and real/imaginary edge helper."""

import numpy as np
import pytest

from qmri_kernels.fatwater import combine_complex


def test_polar_round_trip_and_dtype():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((4, 5, 6)) + 1j * rng.standard_normal((4, 5, 6))
    mag, ph = np.abs(z), np.angle(z)
    out = combine_complex(mag, ph)
    assert out.dtype == np.complex64 and out.shape == z.shape
    np.testing.assert_allclose(out, z, rtol=1e-6, atol=1e-6)
    # inputs are not modified
    np.testing.assert_array_equal(mag, np.abs(z))


def test_cartesian_and_integer_inputs():
    out = combine_complex(real=np.array([[3, 0]]), imag=np.array([[4, -2]]))
    np.testing.assert_array_equal(out, np.array([[3 + 4j, -2j]], dtype=np.complex64))


def test_analytic_phase():
    out = combine_complex(np.full(3, 2.0), np.array([0.0, np.pi / 2, -np.pi]))
    np.testing.assert_allclose(out, [2, 2j, -2], atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(), "pass magnitude and phase, or real and imag"),
    (dict(magnitude=np.ones(2), phase=np.zeros(2), real=np.ones(2), imag=np.ones(2)),
     "not both"),
    (dict(magnitude=np.ones(2)), "phase is missing"),
    (dict(phase=np.ones(2)), "magnitude is missing"),
    (dict(real=np.ones(2)), "imag is missing"),
    (dict(magnitude=np.ones(2), phase=np.zeros(3)), r"magnitude shape \(2,\) does not match"),
    (dict(real=np.ones((2, 2)), imag=np.ones(2)), "real shape"),
    (dict(magnitude=-np.ones(2), phase=np.zeros(2)), "magnitude must be non-negative"),
    (dict(magnitude=np.ones(2), phase=np.array([0.0, 180.0])), "phase must be in radians"),
    (dict(magnitude=np.array([1.0, np.nan]), phase=np.zeros(2)), "magnitude contains NaN"),
])
def test_bad_input_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        combine_complex(**kwargs)


def test_complex_input_is_a_type_error():
    with pytest.raises(TypeError, match="magnitude must be real"):
        combine_complex(np.ones(2) + 1j, np.zeros(2))
    with pytest.raises(TypeError, match="imag must be numeric"):
        combine_complex(real=np.ones(2), imag=np.array(["a", "b"]))
