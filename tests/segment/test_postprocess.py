import numpy as np
import pytest

from qmri_kernels.segment import fill_holes, keep_largest_component, postprocess


def test_largest_component_keeps_the_big_piece_per_slice():
    lab = np.zeros((10, 10, 2), np.int16)
    lab[1:5, 1:5, 0] = 11          # 16 voxels
    lab[7:9, 7:9, 0] = 11          # island, 4 voxels
    lab[7, 1, 0] = 31              # a single voxel is the only component of 31: kept
    lab[7:9, 7:9, 1] = 11          # on slice 1 this is the only piece: kept
    out = keep_largest_component(lab)
    assert (out[..., 0] == 11).sum() == 16 and not out[7:9, 7:9, 0].any()
    assert out[7, 1, 0] == 31 and (out[..., 1] == 11).sum() == 4
    assert (lab[..., 0] == 11).sum() == 20  # input untouched
    # in 3-D the slice-1 piece touches the slice-0 island and together they are 8 < 16
    out3 = keep_largest_component(lab, per_slice=False)
    assert (out3 == 11).sum() == 16


def test_non_muscle_labels_are_left_alone_by_default():
    lab = np.zeros((8, 8), np.int16)
    lab[0:2, 0:2] = 1               # subcutaneous fat, one piece per leg
    lab[5:7, 5:7] = 1
    np.testing.assert_array_equal(keep_largest_component(lab), lab)
    assert (keep_largest_component(lab, labels_to_process=[1]) == 1).sum() == 4


def test_fill_holes_fills_background_only():
    lab = np.full((7, 7), 11, np.int16)
    lab[1, 1] = 0                    # background hole -> filled
    lab[3:5, 3:5] = 2                # another structure inside (femur) -> kept
    lab[0, 6] = 0                    # touches the border: not a hole
    out = fill_holes(lab)
    assert out[1, 1] == 11 and (out[3:5, 3:5] == 2).all() and out[0, 6] == 0


def test_mixed_hole_is_not_filled():
    lab = np.full((7, 7), 11, np.int16)
    lab[2:5, 2:5] = 0
    lab[3, 3] = 31                   # a hole holding another muscle: anatomy or not, keep
    out = fill_holes(lab)
    assert out[3, 3] == 31 and (out[2:5, 2:5] != 11).all()


def test_postprocess_turns_an_island_inside_a_muscle_into_that_muscle():
    lab = np.zeros((12, 12, 1), np.int16)
    lab[1:11, 1:11] = 11
    lab[5, 5] = 12                   # stray voxel of VL_R inside RF_R
    lab[1:3, 8:10] = 0
    lab[9:11, 1:3] = 12              # VL_R's real (larger) piece elsewhere
    lab[9:11, 1:3] = 12
    out = postprocess(lab)
    assert out[5, 5, 0] == 11 and (out == 12).sum() == 4


def test_bad_input():
    with pytest.raises(ValueError, match="integer"):
        keep_largest_component(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="2-D or 3-D"):
        fill_holes(np.zeros((4,), int))
