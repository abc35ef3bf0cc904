import nibabel as nib
import numpy as np
import pytest

from qmri_kernels.masks import GridMismatchError, check_same_grid, grid_from_image


def test_same_grid_passes_within_tolerance():
    aff = np.diag([-1.6, -1.6, 9.0, 1.0])
    check_same_grid((4, 4, 3), aff, (4, 4, 3, 6), aff + 1e-5, name_b="echoes")


def test_mismatch_messages_name_both():
    aff = np.diag([-1.6, -1.6, 9.0, 1.0])
    with pytest.raises(GridMismatchError, match=r"mask has shape \(4, 4, 3\) but T2 map has "
                                                 r"shape \(4, 4, 2\)"):
        check_same_grid((4, 4, 3), aff, (4, 4, 2), aff, name_a="mask", name_b="T2 map")
    other = aff.copy()
    other[2, 2] = 13.0
    with pytest.raises(GridMismatchError, match="different affines"):
        check_same_grid((4, 4, 3), aff, (4, 4, 3), other)
    with pytest.raises(ValueError, match="affine of map must be"):
        check_same_grid((4, 4, 3), aff, (4, 4, 3), np.eye(3))


def test_grid_from_image():
    aff = np.diag([-1.6, -1.6, 18.0, 1.0])
    img = nib.Nifti1Image(np.zeros((4, 5, 3), np.float32), aff)
    g = grid_from_image(img)
    assert g.shape == (4, 5, 3) and g.slice_thickness == 18.0
    assert grid_from_image(img, slice_thickness=8.0).slice_thickness == 8.0
    with pytest.raises(ValueError, match="slice_thickness"):
        grid_from_image(img, slice_thickness=0)
