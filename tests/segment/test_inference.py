import json
import shutil

import nibabel as nib
import numpy as np
import pytest

from qmri_kernels.phantom import PROTOCOL, make_subject, series_grid
from qmri_kernels.labels import MUSCLES, label_index
from qmri_kernels.segment import (DEFAULT_WEIGHTS, Segmenter, WeightsError, dice,
                                  load_segmenter, read_sidecar, segment_t2w)
from qmri_kernels.phantom.training_slices import TRAIN_SEED_START, VAL_SEED_START

HELD_OUT_SEED = 300_001   # neither training, validation nor cohort


@pytest.fixture(scope="module")
def held_out():
    """T2-weighted image, grid and truth labels of a phantom subject never trained on."""
    subject = make_subject(HELD_OUT_SEED, sex="F")
    grid = series_grid(PROTOCOL["t2w"])
    truth = subject.truth(grid)
    image = subject.simulate_t2w(grid, np.random.default_rng(HELD_OUT_SEED), truth=truth)
    return image, grid, truth["labels"]


def test_shipped_weights_and_sidecar():
    side = read_sidecar()
    assert DEFAULT_WEIGHTS.is_file() and DEFAULT_WEIGHTS.stat().st_size < 10e6
    assert side["n_parameters"] < 3e6
    t = side["training"]
    assert t["train_seeds"][0] >= TRAIN_SEED_START and t["val_seeds"][0] >= VAL_SEED_START
    assert t["deterministic"] and len(side["log"]) == t["epochs"]
    assert {"loss", "val_dice_muscle_mean"} <= set(side["log"][-1])


def test_dice_on_a_held_out_phantom_subject(held_out):
    image, grid, truth = held_out
    labels = segment_t2w(image, grid.affine)
    scores = {(m, s): dice(labels == label_index(m, s), truth == label_index(m, s))
              for m in MUSCLES for s in ("right", "left")}
    assert min(scores[("RF", s)] for s in ("right", "left")) >= 0.90
    assert min(scores[("VL", s)] for s in ("right", "left")) >= 0.90
    assert np.mean(list(scores.values())) >= 0.85


def test_inference_is_deterministic_and_orientation_free(held_out):
    image, grid, _ = held_out
    seg = load_segmenter()
    a = seg.segment(image, grid.affine, threads=1)
    b = seg.segment(image, grid.affine)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.int16 and a.shape == image.shape
    # the same data stored the other way round (index i towards the patient's right,
    # slices from superior to inferior): the same labels at the same world positions
    flip = np.diag([-1.0, 1.0, -1.0, 1.0])
    flip[[0, 2], 3] = [image.shape[0] - 1, image.shape[2] - 1]
    c = seg.segment(image[::-1, :, ::-1], grid.affine @ flip)
    np.testing.assert_array_equal(c[::-1, :, ::-1], a)
    # right muscles sit at world x > 0
    ijk = np.argwhere(a == label_index("RF", "right"))
    assert (ijk @ grid.affine[:3, :3].T + grid.affine[:3, 3])[:, 0].min() > 0


def test_users_own_weights_file_and_corruption(tmp_path):
    own = tmp_path / "mine.pt"
    shutil.copy(DEFAULT_WEIGHTS, own)
    shutil.copy(DEFAULT_WEIGHTS.with_suffix(".json"), tmp_path / "mine.json")
    assert Segmenter(own).sidecar["sha256"] == read_sidecar()["sha256"]
    side = json.loads((tmp_path / "mine.json").read_text())
    side["sha256"] = "0" * 64
    (tmp_path / "mine.json").write_text(json.dumps(side))
    with pytest.raises(WeightsError, match="SHA-256"):
        Segmenter(own)
    (tmp_path / "mine.json").unlink()
    with pytest.raises(WeightsError, match="sidecar .* does not exist"):
        Segmenter(own)
    with pytest.raises(WeightsError, match="does not exist"):
        Segmenter(tmp_path / "none.pt")


def test_bad_volume():
    seg = load_segmenter()
    with pytest.raises(ValueError, match="3-D"):
        seg.segment(np.ones((8, 8)), np.eye(4))
    with pytest.raises(ValueError, match="NaN"):
        seg.segment(np.full((16, 16, 2), np.nan), np.eye(4))


def test_nifti_round_trip(tmp_path, held_out):
    image, grid, _ = held_out
    path = tmp_path / "t2w.nii.gz"
    nib.save(nib.Nifti1Image(np.round(image).astype(np.uint16), grid.affine), path)
    img = nib.load(path)
    labels = segment_t2w(np.asarray(img.dataobj), img.affine)
    assert (labels == label_index("VL", "left")).sum() > 100


def test_mirror_test_time_augmentation_is_mirror_equivariant(held_out):
    """With mirroring TTA, segmenting the mirrored patient gives the mirrored labels with the
    sides swapped (up to floating-point ties)."""
    from qmri_kernels.segment.classes import classes_to_labels, labels_to_classes
    from qmri_kernels.segment.augment import SIDE_SWAP

    image, grid, _ = held_out
    seg = load_segmenter()
    a = seg.segment(image, grid.affine, postprocess=False)
    b = seg.segment(image[::-1].copy(), grid.affine, postprocess=False)
    swapped = classes_to_labels(SIDE_SWAP[labels_to_classes(a)])[::-1]
    assert np.mean(b != swapped) < 1e-4
    plain = seg.segment(image, grid.affine, postprocess=False, mirror=False)
    assert 0 < np.mean(plain != a) < 0.05      # TTA changes a few border voxels only
