import nibabel as nib
import numpy as np
import pytest

from qmri_kernels.grids import axial_grid
from qmri_kernels.segment import network_input, normalise_volume
from qmri_kernels.segment.preprocess import NETWORK_INPUT, logits_to_image_grid


def test_normalise_volume():
    vol = np.arange(1000, dtype=float).reshape(10, 10, 10)
    out = normalise_volume(vol)
    assert out.dtype == np.float32
    assert np.percentile(out, 99) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="NaN"):
        normalise_volume(np.full((2, 2, 2), np.nan))
    with pytest.raises(ValueError, match="positive"):
        normalise_volume(np.zeros((2, 2, 2)))


def _blob_volume(grid, centre_mm):
    ijk = np.stack(np.meshgrid(*(np.arange(s) for s in grid.shape), indexing="ij"), -1)
    w = ijk.astype(float) @ grid.affine[:3, :3].T + grid.affine[:3, 3]
    return np.exp(-np.sum((w[..., :2] - centre_mm) ** 2, -1) / (2 * 15.0 ** 2)) + 0.01


def test_input_geometry_is_physical_and_orientation_free():
    """The same patient stored as 256x256 LPS or 200x200 RAS gives the same network input."""
    g1 = axial_grid((256, 256), 420.0, 8.0, 10.0, 3)
    g2 = axial_grid((200, 200), 420.0, 8.0, 10.0, 3)
    centre = np.array([80.0, -30.0])      # right thigh (x > 0), posterior
    v1 = _blob_volume(g1, centre)
    v2 = _blob_volume(g2, centre)
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[:2, 3] = [199, 199]
    ras_affine = g2.affine @ flip           # index i now runs towards the patient's right
    x1, _ = network_input(v1, g1.affine)
    x2, _ = network_input(v2[::-1, ::-1], ras_affine)
    shape = tuple(NETWORK_INPUT["net_shape"])
    assert x1.shape == (3, 3) + shape
    peak1 = np.unravel_index(int(x1[0, 0].argmax()), shape)
    peak2 = np.unravel_index(int(x2[0, 0].argmax()), shape)
    assert abs(peak1[0] - peak2[0]) <= 1 and abs(peak1[1] - peak2[1]) <= 1
    # the blob's centre lies where its world position says, on the network's pixel grid
    p = NETWORK_INPUT["net_spacing_mm"]
    expected = ((shape[0] - 1) / 2 - centre[0] / p, (shape[1] - 1) / 2 - centre[1] / p)
    assert abs(peak1[0] - expected[0]) <= 1.5 and abs(peak1[1] - expected[1]) <= 1.5
    # canonical axis 0 runs towards the patient's left: the right thigh is at low indices
    assert peak1[0] < shape[0] / 2 and peak1[1] > shape[1] / 2   # posterior (y < 0) at high j
    # coordinate channel 0 is negative on the patient's right
    assert x1[0, 1, peak1[0], peak1[1]] < 0


def test_logits_come_back_onto_the_image_grid():
    g = axial_grid((96, 64), 420.0, 8.0, 10.0, 2)
    img = nib.Nifti1Image(np.ones(g.shape, np.float32), g.affine)
    x, ctx = network_input(np.asarray(img.dataobj) + np.random.default_rng(0).random(g.shape),
                           img.affine)
    logits = x[:, :1].repeat(1, 4, 1, 1)
    back = logits_to_image_grid(logits, ctx)
    assert back.shape == (2, 4, 96, 64)


def test_bad_input():
    with pytest.raises(ValueError, match="3-D"):
        network_input(np.ones((4, 4)), np.eye(4))
    with pytest.raises(ValueError, match=r"affine must be \(4, 4\)"):
        network_input(np.ones((4, 4, 2)), np.eye(3))
