"""Tests of qmri_kernels.widgets.mask_qa, driven without a browser.

Mouse and key events are sent the way the ipycanvas front end sends them (the canvas's
``_handle_frontend_event`` with canvas-pixel coordinates), and the session's labels are
checked against loop-over-voxels references.
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("ipycanvas")

from qmri_kernels import derivatives as D  # noqa: E402
from qmri_kernels.dicom.bids import bids_path, write_json, write_nifti  # noqa: E402
from qmri_kernels.labels import label_by_index, label_index  # noqa: E402
from qmri_kernels.manifest import load_manifest  # noqa: E402
from qmri_kernels.masks import MaskSession  # noqa: E402
from qmri_kernels.widgets.mask_qa import MaskQAWidget, _Orientation  # noqa: E402

SHAPE = (24, 20, 4)
RF_L, VL_L, RF_R = label_index("RF", "left"), label_index("VL", "left"), label_index("RF", "right")
SCALE = 4


def _affine(dz: float, nz: int) -> np.ndarray:
    aff = np.diag([-4.0, -4.0, dz, 1.0])
    aff[:3, 3] = [46.0, 38.0, -dz * (nz - 1) / 2]
    return aff


def _labels() -> np.ndarray:
    lab = np.zeros(SHAPE, np.int16)
    i, j = np.meshgrid(np.arange(24), np.arange(20), indexing="ij")
    lab[(i - 16) ** 2 + (j - 7) ** 2 <= 16] = RF_L
    lab[(i - 6) ** 2 + (j - 7) ** 2 <= 16] = RF_R
    lab[(i - 16) ** 2 + (j - 7) ** 2 <= 2, 1] = 0        # a hole in slice 1
    return lab


def _cohort(root: Path, with_maps: bool = True):
    doc = {"version": 1, "root": str(root), "clinical_table": "clinical.csv",
           "score_store": "scores.sqlite", "derivatives": "derivatives/qmri",
           "subjects": [{"id": "01", "dicom_root": "dicom", "biopsy_muscle": "RF",
                         "biopsy_side": "left"}]}
    (root / "m.yaml").write_text(yaml.safe_dump(doc))
    manifest = load_manifest(root / "m.yaml", check_paths=False)
    deriv = manifest.derivatives
    rng = np.random.default_rng(5)
    img = bids_path(manifest.rawdata, "01", "t2w")
    img.parent.mkdir(parents=True)
    write_nifti(img, rng.uniform(100, 900, SHAPE).astype(np.float32), _affine(18.0, 4), 1.0,
                0.0)
    write_json(bids_path(manifest.rawdata, "01", "t2w", ext=".json"), {"SliceThickness": 8.0})
    D.write_maps(deriv, "01", {"labels_auto": (_labels(), _affine(18.0, 4))})
    if with_maps:
        D.write_maps(deriv, "01", {
            "pdff": (rng.uniform(0, 0.2, (24, 20, 9)), _affine(9.0, 9)),
            "water_t2": (rng.uniform(0.03, 0.05, (24, 20, 6)), _affine(13.0, 6))})
    return manifest


@pytest.fixture
def manifest(tmp_path):
    return _cohort(tmp_path)


@pytest.fixture
def widget(manifest):
    return MaskQAWidget(MaskSession.open(manifest, "01", "R1"), scale=SCALE)


def send(w, event, x=0.0, y=0.0, **extra):
    """What the ipycanvas front end sends to the kernel."""
    w.canvas._handle_frontend_event(None, {"event": event, "x": x, "y": y, **extra}, [])


def key(w, k, shift=False, ctrl=False, meta=False):
    w.canvas._handle_frontend_event(None, {"event": "key_down", "key": k, "shift_key": shift,
                                           "ctrl_key": ctrl, "meta_key": meta}, [])


def disc(labels, k, c, r, value):
    out = np.array(labels, copy=True)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            if (i - c[0]) ** 2 + (j - c[1]) ** 2 <= r * r:
                out[i, j, k] = value
    return out


# ----------------------------------------------------------------------- orientation

@pytest.mark.parametrize("affine", [
    np.diag([-2.0, -2.0, 5.0, 1.0]),                        # the cohort: i → L, j → P
    np.diag([2.0, 2.0, 5.0, 1.0]),                          # i → R, j → A
    np.array([[0, -2.0, 0, 0], [2.0, 0, 0, 0], [0, 0, 5, 0], [0, 0, 0, 1]]),  # swapped
    np.array([[0, 2.0, 0, 0], [-2.0, 0, 0, 0], [0, 0, 5, 0], [0, 0, 0, 1]]),
])
def test_display_is_radiological_and_inverts_exactly(affine):
    shape = (7, 5)
    o = _Orientation(affine, shape)
    world = np.empty((o.n_rows, o.n_cols, 2))
    for row in range(o.n_rows):
        for col in range(o.n_cols):
            i, j = o.voxel(row, col)
            assert o.display(i, j) == (row, col)
            world[row, col] = (affine[:2, :2] @ [i, j]) + affine[:2, 3]
    assert np.all(np.diff(world[..., 0], axis=1) < 0)     # rightwards: towards patient left
    assert np.all(np.diff(world[..., 1], axis=0) < 0)     # downwards: towards posterior
    plane = np.arange(35).reshape(shape)
    disp = o.to_display(plane)
    for row in range(o.n_rows):
        for col in range(o.n_cols):
            assert disp[row, col] == plane[o.voxel(row, col)]


def test_canvas_pixels_map_to_voxels(widget):
    assert (widget.canvas.width, widget.canvas.height) == (24 * SCALE, 20 * SCALE)
    for i in range(24):
        for j in range(20):
            x, y = widget.voxel_to_canvas(i, j)
            assert (x, y) == ((i + 0.5) * SCALE, (j + 0.5) * SCALE)   # cohort: column i, row j
            assert widget.canvas_to_voxel(x, y) == (i, j)
            assert widget.canvas_to_voxel(i * SCALE, j * SCALE) == (i, j)
            assert widget.canvas_to_voxel((i + 1) * SCALE - 1e-6, (j + 1) * SCALE - 1e-6) \
                == (i, j)
    assert widget.canvas_to_voxel(-0.1, 3) is None
    assert widget.canvas_to_voxel(24 * SCALE, 3) is None


def test_rendered_slice_shows_the_labels_where_the_voxels_are(widget):
    k = widget.slice_slider.value
    rgba = widget.render_slice()
    assert rgba.shape == (20, 24, 4) and rgba.dtype == np.uint8
    grey = widget._grey[:, :, k]
    lab = widget.session.labels[:, :, k]
    a = widget.opacity_slider.value
    for (i, j) in [(16, 7), (6, 7), (0, 0), (23, 19)]:
        row, col = widget._orient.display(i, j)
        if lab[i, j]:
            colour = np.array([int(label_by_index(lab[i, j]).color[p:p + 2], 16)
                               for p in (1, 3, 5)])
            expected = grey[i, j] * (1 - a) + colour * a
        else:
            expected = np.full(3, grey[i, j])
        np.testing.assert_allclose(rgba[row, col, :3], expected, atol=1.0)


# --------------------------------------------------------------------------- editing

def test_click_paints_a_disc_through_the_session(widget):
    s = widget.session
    widget.slice_slider.value = 2
    widget.brush_slider.value = 2
    widget.muscle_picker.value = VL_L
    before = s.labels
    x, y = widget.voxel_to_canvas(10, 12)
    send(widget, "mouse_down", x, y)
    send(widget, "mouse_up", x, y)
    np.testing.assert_array_equal(s.labels, disc(before, 2, (10, 12), 2, VL_L))
    assert set(widget.timings) == {"edit", "draw", "stats", "total"}
    assert "13 voxels changed" in widget.message.value


def test_a_drag_is_one_stroke_and_one_undo(widget):
    s = widget.session
    widget.slice_slider.value = 0
    widget.brush_slider.value = 1
    widget.muscle_picker.value = VL_L
    before = s.labels
    send(widget, "mouse_down", *widget.voxel_to_canvas(2, 15))
    send(widget, "mouse_move", *widget.voxel_to_canvas(9, 15))
    send(widget, "mouse_move", *widget.voxel_to_canvas(9, 18))
    send(widget, "mouse_up", *widget.voxel_to_canvas(9, 18))
    send(widget, "mouse_move", *widget.voxel_to_canvas(20, 2))       # button up: nothing
    expected = before
    for i in range(2, 10):
        expected = disc(expected, 0, (i, 15), 1, VL_L)
    for j in range(15, 19):
        expected = disc(expected, 0, (9, j), 1, VL_L)
    np.testing.assert_array_equal(s.labels, expected)
    widget.undo_button.click()
    np.testing.assert_array_equal(s.labels, before)
    widget.redo_button.click()
    np.testing.assert_array_equal(s.labels, expected)


def test_erase_and_fill_tools(widget):
    s = widget.session
    widget.slice_slider.value = 1
    widget.tool.value = "fill"
    widget.muscle_picker.value = RF_L
    before = s.labels
    send(widget, "mouse_down", *widget.voxel_to_canvas(16, 7))
    send(widget, "mouse_up", *widget.voxel_to_canvas(16, 7))
    filled = np.array(before)
    filled[(np.add.outer((np.arange(24) - 16) ** 2, (np.arange(20) - 7) ** 2) <= 2), 1] = RF_L
    np.testing.assert_array_equal(s.labels, filled)
    send(widget, "mouse_down", *widget.voxel_to_canvas(1, 1))          # outside: refused
    np.testing.assert_array_equal(s.labels, filled)
    assert "not an enclosed hole" in widget.message.value
    widget.tool.value = "erase"
    widget.brush_slider.value = 3
    send(widget, "mouse_down", *widget.voxel_to_canvas(6, 7))
    send(widget, "mouse_out", *widget.voxel_to_canvas(6, 7))          # leaving ends it
    np.testing.assert_array_equal(s.labels, disc(filled, 1, (6, 7), 3, 0))
    assert not widget._dragging


def test_keyboard_shortcuts(widget):
    s = widget.session
    key(widget, "e")
    assert widget.tool.value == "erase"
    key(widget, "f")
    assert widget.tool.value == "fill"
    key(widget, "p")
    assert widget.tool.value == "paint"
    r = widget.brush_slider.value
    key(widget, "]")
    key(widget, "]")
    key(widget, "[")
    assert widget.brush_slider.value == r + 1
    widget.slice_slider.value = 2
    key(widget, "ArrowDown")
    assert widget.slice_slider.value == 1
    key(widget, "PageUp")
    key(widget, "ArrowUp")
    key(widget, "ArrowUp")
    assert widget.slice_slider.value == 3                          # stops at the last slice
    before = s.labels
    send(widget, "mouse_down", *widget.voxel_to_canvas(3, 16))
    send(widget, "mouse_up", *widget.voxel_to_canvas(3, 16))
    after = s.labels
    assert not np.array_equal(after, before)
    key(widget, "z")
    np.testing.assert_array_equal(s.labels, before)
    key(widget, "z", shift=True, ctrl=True)
    np.testing.assert_array_equal(s.labels, after)
    key(widget, "z", ctrl=True)
    key(widget, "y")
    np.testing.assert_array_equal(s.labels, after)
    key(widget, "s", ctrl=True)
    assert s.path.is_file() and "saved" in widget.message.value
    key(widget, "e", ctrl=True)                                        # not ours: ignored
    assert widget.tool.value == "paint"


def test_save_button_and_panel(widget, manifest):
    s = widget.session
    stats = s.stats()
    assert f"{stats['ff_percent']:.1f} %" in widget.stats_panel.value
    assert f"{stats['water_t2_ms']:.1f} ms" in widget.stats_panel.value
    assert "Dice with the network: 1.000" in widget.stats_panel.value
    widget.muscle_picker.value = RF_L
    widget.brush_slider.value = 3
    send(widget, "mouse_down", *widget.voxel_to_canvas(16, 12))
    send(widget, "mouse_up", *widget.voxel_to_canvas(16, 12))
    new = s.stats()
    assert new["n_voxels_pdff"] != stats["n_voxels_pdff"]
    assert f"{new['ff_percent']:.1f} %" in widget.stats_panel.value
    assert "unsaved changes" in widget.stats_panel.value
    widget.save_button.click()
    assert "saved sub-01_desc-R1_dseg.nii.gz" in widget.message.value
    data, _, _ = D.read_map(manifest.derivatives, "01", "labels_R1")
    np.testing.assert_array_equal(data, s.labels)
    assert "unsaved" not in widget.stats_panel.value
    assert "qmri-mask-canvas" in widget.canvas._dom_classes
    assert "qmri-mask-save" in widget.save_button._dom_classes


def test_static_snapshot_and_mime_bundle(widget):
    png = widget.snapshot_png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    bundle = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"


def test_widget_without_maps_says_so(tmp_path):
    manifest = _cohort(tmp_path, with_maps=False)
    w = MaskQAWidget(MaskSession.open(manifest, "01", "R2"), scale=2)
    assert "not computed" in w.stats_panel.value
    send(w, "mouse_down", *w.voxel_to_canvas(3, 3))
    send(w, "mouse_up", *w.voxel_to_canvas(3, 3))
    assert w.session.can_undo
    assert w.snapshot_png()[:4] == b"\x89PNG"


def test_patches_drawn_during_a_drag_add_up_to_the_slice(widget, monkeypatch):
    """Strokes redraw only the brush's patch; the canvas must end up as a full redraw."""
    h, w_ = widget.canvas.height, widget.canvas.width
    screen = np.zeros((h, w_, 4), np.uint8)

    def put_image_data(image, x=0, y=0):
        screen[y:y + image.shape[0], x:x + image.shape[1]] = image

    monkeypatch.setattr(widget.canvas, "put_image_data", put_image_data)
    widget._redraw()
    widget.brush_slider.value = 3
    widget.muscle_picker.value = VL_L
    send(widget, "mouse_down", *widget.voxel_to_canvas(0, 0))         # clipped at the corner
    for i, j in [(5, 3), (12, 9), (23, 19)]:
        send(widget, "mouse_move", *widget.voxel_to_canvas(i, j))
    widget.tool.value = "erase"
    send(widget, "mouse_up", *widget.voxel_to_canvas(23, 19))
    send(widget, "mouse_down", *widget.voxel_to_canvas(16, 7))
    send(widget, "mouse_up", *widget.voxel_to_canvas(10, 7))
    full = np.repeat(np.repeat(widget.render_slice(), SCALE, 0), SCALE, 1)
    np.testing.assert_array_equal(screen, full)
