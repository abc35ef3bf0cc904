import numpy as np
import pytest

from qmri_kernels.phantom import axial_grid
from qmri_kernels.phantom.anatomy import random_anatomy
from qmri_kernels.labels import MUSCLES, SIDES, label_index


def _slice_labels(anatomy, z, matrix=256):
    grid = axial_grid(matrix=(matrix, matrix), n_slices=1, z_centre=z)
    return grid, anatomy.labels(grid.slice_world(0))


@pytest.mark.parametrize("seed, sex", [(0, "M"), (1, "F"), (7, "M"), (100001, "F")])
def test_every_muscle_present_on_both_sides_at_mid_thigh(seed, sex):
    _, lab = _slice_labels(random_anatomy(seed, sex), 0.0)
    for side in SIDES:
        for m in MUSCLES:
            assert np.sum(lab == label_index(m, side)) > 20, (seed, m, side)
    for tissue in (1, 2, 3, 4):
        assert np.any(lab == tissue)


def test_right_leg_is_at_positive_x():
    anatomy = random_anatomy(3)
    grid, lab = _slice_labels(anatomy, 0.0)
    world = grid.slice_world(0)
    right = np.isin(lab, [label_index(m, "right") for m in MUSCLES])
    left = np.isin(lab, [label_index(m, "left") for m in MUSCLES])
    assert world[right, 0].min() > 0 and world[left, 0].max() < 0


def test_same_seed_same_anatomy_other_seed_differs():
    a = _slice_labels(random_anatomy(5), 10.0)[1]
    b = _slice_labels(random_anatomy(5), 10.0)[1]
    c = _slice_labels(random_anatomy(6), 10.0)[1]
    assert np.array_equal(a, b)
    assert np.mean(a != c) > 0.05


def test_femur_steady_and_muscles_taper_along_z():
    anatomy = random_anatomy(11)
    areas, centres = {}, []
    for z in (-80.0, 0.0, 80.0):
        grid, lab = _slice_labels(anatomy, z)
        world = grid.slice_world(0)
        bone = np.isin(lab, [2, 3]) & (world[..., 0] > 0)
        centres.append(world[bone, :2].mean(axis=0))
        areas[z] = {m: np.sum(lab == label_index(m, "right")) for m in ("AL", "VM")}
    # the femoral shaft does not move
    assert np.max(np.ptp(np.array(centres), axis=0)) < 1.0
    # adductor longus larger proximally, vastus medialis larger distally
    assert areas[80.0]["AL"] > areas[-80.0]["AL"]
    assert areas[-80.0]["VM"] > areas[80.0]["VM"]


def test_legs_do_not_touch_at_proximal_end():
    for seed in range(20):
        anatomy = random_anatomy(seed, "F" if seed % 2 else "M")
        _, lab = _slice_labels(anatomy, 88.0, matrix=256)
        body = lab > 0
        # a column of background separates the two legs
        assert np.any(~body.any(axis=1)[100:156]), seed


def test_bad_sex_rejected():
    with pytest.raises(ValueError, match="sex"):
        random_anatomy(0, "X")
