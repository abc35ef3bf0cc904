import numpy as np
import torch

from qmri_kernels.labels import label_index
from qmri_kernels.segment import CLASS_LABELS
from qmri_kernels.segment.augment import (SIDE_SWAP, Augmentation, augment_intensity,
                                          geometry_grids, sample_batch)


def test_side_swap_is_an_involution_pairing_twins():
    assert np.array_equal(SIDE_SWAP[SIDE_SWAP], np.arange(len(CLASS_LABELS)))
    r = CLASS_LABELS.index(label_index("VL", "right"))
    assert CLASS_LABELS[SIDE_SWAP[r]] == label_index("VL", "left")
    assert SIDE_SWAP[0] == 0 and SIDE_SWAP[1] == 1


def _toy():
    # canonical axis 0 towards patient left: right leg at low i, left leg at high i
    img = torch.zeros(1, 64, 32)
    cls = torch.zeros(1, 64, 32, dtype=torch.uint8)
    r = CLASS_LABELS.index(label_index("RF", "right"))
    img[0, 8:20, 10:20] = 1.0
    cls[0, 8:20, 10:20] = r
    return img, cls, r


def test_mirroring_moves_the_image_and_swaps_the_side():
    img, cls, r = _toy()
    aug = Augmentation(max_rotation_deg=0, scale_range=(1, 1), max_shift_mm=0,
                       mirror_probability=1.0)
    gi, gl, mirrored = geometry_grids(np.random.default_rng(0), 1, (64, 32), (2.0, 2.0),
                                      (32, 16), 4.0, aug)
    x, y = sample_batch(img, cls, gi, gl, mirrored)
    assert mirrored.all()
    left = SIDE_SWAP[r]
    # the muscle now lies on the patient's left (high i) and is labelled as the left twin
    ii = np.argwhere(y[0].numpy() == left)[:, 0]
    assert ii.size and ii.min() > 32 and not (y[0] == r).any()
    xi = np.argwhere(x[0, 0].numpy() > 0.5)[:, 0]
    assert xi.min() > 16                                     # network grid is 2x coarser
    # image and labels stay aligned: the net pixels over the muscle are the label's
    assert abs(xi.mean() * 2 + 0.5 - ii.mean()) < 1.5


def test_identity_geometry_without_augmentation():
    img, cls, r = _toy()
    gi, gl, mirrored = geometry_grids(np.random.default_rng(0), 1, (64, 32), (2.0, 2.0),
                                      (32, 16), 4.0, None)
    _, y = sample_batch(img, cls, gi, gl, mirrored)
    # the loss grid has the image's own pixels here: labels come back unchanged
    np.testing.assert_array_equal(y[0].numpy(), cls[0].numpy())


def test_intensity_augmentation_is_seeded_and_positive():
    x = torch.rand(2, 1, 16, 16)
    a = augment_intensity(x, np.random.default_rng(5), Augmentation())
    b = augment_intensity(x, np.random.default_rng(5), Augmentation())
    assert torch.equal(a, b) and (a >= 0).all() and not torch.equal(a, x)
