import nibabel as nib
import numpy as np
import pytest

from qmri_kernels.masks import erode_labels, transfer_labels
from qmri_kernels.grids import Grid, axial_grid


def _world(grid):
    ijk = np.stack(np.meshgrid(*(np.arange(s) for s in grid.shape), indexing="ij"), -1)
    return ijk.astype(float) @ grid.affine[:3, :3].T + grid.affine[:3, 3]


def _sphere(grid, centre=(12.0, -8.0, 3.0), radius=50.0):
    return (np.linalg.norm(_world(grid) - np.array(centre), axis=-1) <= radius).astype(np.int16)


def _dice(a, b):
    return 2 * np.sum(a & b) / max(np.sum(a) + np.sum(b), 1)


# T2-weighted-like source (8 mm slabs, 10 mm gaps) and PDFF-like target (6 mm, 3 mm gap),
# on a coarse in-plane matrix to keep the test fast; slices lie at different positions.
SRC = axial_grid((96, 96), 192.0, slice_thickness=8.0, gap=10.0, n_slices=7, z_centre=-3.0)
DST = axial_grid((64, 64), 192.0, slice_thickness=6.0, gap=3.0, n_slices=16, z_centre=0.0)


def test_sphere_on_two_grids_matches_the_analytic_sphere():
    out = transfer_labels(_sphere(SRC), SRC, DST)
    truth = _sphere(DST).astype(bool)
    got = out.labels == 1
    assert _dice(got[out.covered], truth[out.covered]) > 0.96
    # every covered slice through the sphere's middle agrees closely, gap slices included
    table = out.slice_table()
    mid = table[(table.z_mm > -30) & (table.z_mm < 36)]
    assert set(mid.status) == {"in slab", "in gap"}
    for k in mid.slice:
        assert _dice(got[..., k], truth[..., k]) > 0.95


def test_shape_interpolation_beats_nearest_slab_in_the_gaps():
    lab = _sphere(SRC)
    truth = _sphere(DST).astype(bool)
    shape = transfer_labels(lab, SRC, DST, method="shape")
    near = transfer_labels(lab, SRC, DST, method="nearest")
    gaps = shape.slice_table().query("status == 'in gap'").slice.to_numpy()
    err_shape = sum(np.sum((shape.labels[..., k] == 1) ^ truth[..., k]) for k in gaps)
    err_near = sum(np.sum((near.labels[..., k] == 1) ^ truth[..., k]) for k in gaps)
    assert err_shape < 0.8 * err_near


def test_slices_outside_the_source_extent_are_excluded_not_extrapolated():
    lab = np.ones(SRC.shape, dtype=np.int16)       # the label fills the whole source stack
    out = transfer_labels(lab, SRC, DST)
    z_src, z_dst = SRC.slice_z(), DST.slice_z()
    lo, hi = z_src.min() - 4.0, z_src.max() + 4.0   # outer faces of the outer 8 mm slabs
    expected = tuple(int(k) for k in np.flatnonzero((z_dst < lo) | (z_dst > hi)))
    assert expected and out.excluded_slices == expected
    assert not out.labels[..., list(expected)].any()
    assert out.labels[..., list(out.covered_slices)].all()
    assert set(out.slice_table().query("status == 'excluded'").slice) == set(expected)
    assert str(list(expected)) in out.summary()


def test_a_target_slice_on_a_source_slab_centre_copies_that_slab():
    rng = np.random.default_rng(3)
    lab = rng.integers(0, 5, size=SRC.shape).astype(np.int16)
    # target: the same in-plane grid, one slice at the centre of source slab 4
    aff = SRC.affine.copy()
    aff[2, 3] = SRC.slice_z()[4]
    dst = Grid((96, 96, 1), aff, 6.0)
    for method in ("nearest", "shape"):
        out = transfer_labels(lab, SRC, dst, method=method)
        np.testing.assert_array_equal(out.labels[..., 0], lab[..., 4])


def test_world_coordinates_not_slice_index():
    """A target stored in another orientation (RAS in-plane, slices inferior-first reversed)
    receives the same labels at the same world positions."""
    lab = _sphere(SRC, radius=45) + 2 * (_world(SRC)[..., 0] > 30) * _sphere(SRC, radius=45)
    ref = transfer_labels(lab, SRC, DST)
    flip = np.diag([-1.0, -1.0, -1.0, 1.0])
    n = np.array(DST.shape) - 1
    flip[:3, 3] = n
    other = Grid(DST.shape, DST.affine @ flip, DST.slice_thickness)  # index i -> n - i
    out = transfer_labels(lab, SRC, other)
    np.testing.assert_array_equal(out.labels, ref.labels[::-1, ::-1, ::-1])
    np.testing.assert_array_equal(out.covered, ref.covered[::-1, ::-1, ::-1])


def test_multi_label_partition_has_no_gaps_or_overlaps():
    x = _world(SRC)[..., 0]
    body = _sphere(SRC, radius=60).astype(bool)
    lab = np.where(body, np.where(x > 5, 11, 31), 0).astype(np.int16)
    out = transfer_labels(lab, SRC, DST)
    truth_body = _sphere(DST, radius=60).astype(bool) & out.covered
    inside = out.labels[truth_body]
    # deep inside the sphere every voxel carries one of the two labels
    deep = (_sphere(DST, radius=50).astype(bool) & out.covered)
    assert np.isin(out.labels[deep], (11, 31)).all()
    assert set(np.unique(inside)) <= {0, 11, 31}


def test_erode_option_equals_eroding_after_transfer():
    lab = _sphere(SRC)
    plain = transfer_labels(lab, SRC, DST)
    eroded = transfer_labels(lab, SRC, DST, erode_mm=3.0)
    np.testing.assert_array_equal(eroded.labels, erode_labels(plain.labels, 3.0, DST.zooms[:2]))
    assert eroded.labels.sum() < plain.labels.sum()


def test_accepts_nifti_images_as_grids():
    img = nib.Nifti1Image(np.zeros(DST.shape, np.float32), DST.affine)
    lab = _sphere(SRC)
    np.testing.assert_array_equal(
        transfer_labels(lab, SRC, img).labels,
        transfer_labels(lab, SRC, Grid(DST.shape, DST.affine, 9.0)).labels)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((96, 96, 6), np.int16), r"labels have shape \(96, 96, 6\) but the source"),
    (-np.ones(SRC.shape, np.int16), "non-negative"),
    (np.full(SRC.shape, 1.5), "integer"),
    (np.zeros(SRC.shape, complex), "integers"),
])
def test_bad_labels_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        transfer_labels(bad, SRC, DST)


def test_bad_arguments_raise():
    lab = np.zeros(SRC.shape, np.int16)
    with pytest.raises(ValueError, match="method must be one of"):
        transfer_labels(lab, SRC, DST, method="linear")
    with pytest.raises(ValueError, match="erode_mm"):
        transfer_labels(lab, SRC, DST, erode_mm=-1)
    with pytest.raises(TypeError, match="target must be"):
        transfer_labels(lab, SRC, "grid.nii")
    sheared = SRC.affine.copy()
    sheared[0, 2] = 5.0
    with pytest.raises(ValueError, match="not a stack of parallel slices"):
        transfer_labels(lab, Grid(SRC.shape, sheared, 8.0), DST)


def test_float_labels_from_a_nifti_reader_are_accepted():
    lab = _sphere(SRC)
    a = transfer_labels(lab.astype(np.float64), SRC, DST)
    np.testing.assert_array_equal(a.labels, transfer_labels(lab, SRC, DST).labels)
