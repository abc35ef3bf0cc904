import numpy as np
import pytest

from qmri_kernels.masks import disk_footprint, erode_labels


def test_square_loses_one_pixel_rim():
    lab = np.zeros((10, 10, 1), np.int16)
    lab[2:8, 2:8] = 5
    out = erode_labels(lab, 1.0, (1.0, 1.0))
    expected = np.zeros_like(lab)
    expected[3:7, 3:7] = 5
    np.testing.assert_array_equal(out, expected)
    assert lab[2, 2, 0] == 5  # input untouched


def test_radius_in_mm_with_anisotropic_pixels():
    # 2 mm along axis 0, 1 mm along axis 1: a 2 mm radius removes 1 row and 2 columns
    lab = np.zeros((10, 12, 1), np.int16)
    lab[1:9, 1:11] = 3
    out = erode_labels(lab, 2.0, (2.0, 1.0))
    assert np.array_equal(np.argwhere(out[..., 0] == 3).min(0), [2, 3])
    assert np.array_equal(np.argwhere(out[..., 0] == 3).max(0), [7, 8])


def test_disk_footprint():
    fp = disk_footprint(1.5, (1.0, 1.0))[..., 0]
    assert fp.shape == (3, 3) and fp.all()         # diagonal at sqrt(2) <= 1.5
    fp = disk_footprint(1.0, (1.0, 1.0))[..., 0]
    assert fp.sum() == 5 and not fp[0, 0]          # a cross
    assert disk_footprint(0.5, (1.0, 1.0)).size == 1


def test_touching_labels_both_erode_and_slices_are_independent():
    lab = np.zeros((8, 8, 2), np.int16)
    lab[1:7, 1:4, 0] = 11
    lab[1:7, 4:7, 0] = 12
    lab[2:5, 2:5, 1] = 11      # a label only on slice 1 survives its own erosion
    out = erode_labels(lab, 1.0, (1.0, 1.0))
    np.testing.assert_array_equal(np.unique(out[..., 0][2:6, 2]), [11])
    assert not out[:, 3, 0].any() and not out[:, 4, 0].any()   # interface voxels removed
    assert out[3, 3, 1] == 11 and out[..., 1].sum() == 11


def test_only_requested_labels_erode():
    lab = np.zeros((6, 6, 1), np.int16)
    lab[1:5, 1:3] = 1
    lab[1:5, 3:5] = 2
    out = erode_labels(lab, 1.0, (1.0, 1.0), labels_to_erode=[2])
    np.testing.assert_array_equal(out == 1, lab == 1)
    assert (out == 2).sum() < (lab == 2).sum()


def test_zero_radius_is_identity():
    lab = np.arange(27).reshape(3, 3, 3)
    np.testing.assert_array_equal(erode_labels(lab, 0.0, (1.0, 1.0)), lab)


@pytest.mark.parametrize("kwargs, match", [
    ({"labels": np.zeros((4, 4)), "radius_mm": 1.0}, "3-D"),
    ({"labels": np.zeros((4, 4, 1)), "radius_mm": -1.0}, "non-negative"),
    ({"labels": np.zeros((4, 4, 1)), "radius_mm": np.nan}, "finite"),
])
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        erode_labels(spacing_mm=(1.0, 1.0), **kwargs)
    with pytest.raises(ValueError, match="spacing_mm"):
        disk_footprint(1.0, (0.0, 1.0))
