"""The mask-QA widget in JupyterLab: a brush stroke with the mouse, saved to the right voxels.

JupyterLab serves a temporary folder holding a copy of the "Mask QA" chapter and a manifest
of one subject of the repository's synthetic cohort, with its own derivatives folder, in
which the pipeline's stages have made the subject's T2-weighted image, network labels and
PDFF and water-T2 maps before JupyterLab starts (so that the chapter recomputes nothing).
The test opens the chapter as a notebook, runs its widget cell, drags the mouse across the
canvas, clicks *save*, and checks the saved label file voxel by voxel against what the
widget's documented canvas → voxel mapping and the brush give
(:mod:`qmri_kernels.widgets.mask_qa`).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import ndimage

from qmri_kernels import derivatives as D
from qmri_kernels import pipeline
from qmri_kernels.labels import label_index
from qmri_kernels.manifest import load_manifest

CHAPTER = "notebooks/06_mask_qa.md"
READER = "demo"                      # the chapter's reader id
BRUSH = 1                            # radius set in the widget before the stroke (voxels)
BEYOND_BORDER = 5                    # the stroke ends this many voxels outside the muscle
SAVE_TIMEOUT_S = 60
pytestmark = pytest.mark.browser


# ------------------------------------------------------------------------------- setup
def _cohort(tmp_path: Path, repo_root: Path) -> tuple[Path, object]:
    """A one-subject manifest of the repository's cohort, with its own derivatives.

    The pipeline's stages run here, before JupyterLab starts, so that the chapter's cells
    find the T2-weighted image, the network's labels and the PDFF and water-T2 maps of the
    subject up to date and recompute nothing.
    """
    repo = load_manifest(repo_root / "data_manifest.yaml")
    ex = repo.example_subject
    root = Path(repo.root)
    if not ex.dicom_root.is_dir():
        pytest.skip(f"the cohort's DICOM of {ex.bids_id} is missing (generate the cohort)")
    doc = {
        "version": 1, "synthetic": False, "root": str(root),
        "clinical_table": str(repo.clinical_table.relative_to(root)),
        "score_store": str(tmp_path / "scores.sqlite"),
        "derivatives": str(tmp_path / "derivatives"),
        "example_subject": ex.id,
        "subjects": [{"id": ex.id, "dicom_root": str(ex.dicom_root.relative_to(root)),
                      "biopsy_muscle": ex.biopsy_muscle, "biopsy_side": ex.biopsy_side}],
    }
    path = tmp_path / "data_manifest.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    manifest = load_manifest(path)
    for stage in (pipeline.segmentation, pipeline.fat_water_maps, pipeline.t2_maps):
        stage(manifest, ex.id)
    return path, manifest


def _set_brush(page, radius: int) -> None:
    """Type the brush radius into the brush slider's readout, as a reader can."""
    slider = page.locator(".qmri-mask-qa .widget-slider", has_text="brush")
    readout = slider.locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+a")
    page.keyboard.type(str(radius))
    page.keyboard.press("Enter")
    page.wait_for_function("([el, want]) => el.textContent.trim() === want",
                           arg=[readout.element_handle(), str(radius)])


def _expected_change(auto: np.ndarray, k: int, row: int, cols: range, radius: int,
                     label: int) -> tuple[np.ndarray, np.ndarray]:
    """Voxels a horizontal stroke along display row ``row`` paints, and those it changes,
    in slice ``k`` (two bool volumes).

    Cohort affine diag(−dx, −dy, dz): canvas column = i, row = j (module notes of
    qmri_kernels.widgets.mask_qa). A drag visits every voxel between its mouse events when
    the brush radius is ≤ 2 (the path is sampled every max(1, radius / 2) voxels), so the
    stroke paints the union of discs di² + dj² ≤ r² around every voxel of the line; voxels
    that already hold the label do not change.
    """
    painted = np.zeros(auto.shape[:2], bool)
    ii, jj = np.meshgrid(np.arange(auto.shape[0]), np.arange(auto.shape[1]), indexing="ij")
    for i in cols:
        painted |= (ii - i) ** 2 + (jj - row) ** 2 <= radius ** 2
    out = np.zeros(auto.shape, bool)
    out[..., k] = painted
    return out, out & (auto != label)


# -------------------------------------------------------------------------------- test
def test_brush_stroke_in_jupyterlab_is_saved_at_the_painted_voxels(
        tmp_path, repo_root, jupyter_lab, lab_page):
    manifest_path, manifest = _cohort(tmp_path, repo_root)
    shutil.copy2(repo_root / "jupytext.toml", tmp_path)
    shutil.copy2(repo_root / CHAPTER, tmp_path)
    ex = manifest.example_subject
    auto, affine, _ = D.read_map(manifest.derivatives, ex.id, "labels_auto")
    a = affine[:3, :3]
    assert a[0, 0] < 0 and a[1, 1] < 0 and abs(a[0, 1]) + abs(a[1, 0]) < 1e-6, (
        "the test's voxel mapping assumes the cohort's axial affine diag(−dx, −dy, dz)")
    label = label_index(ex.biopsy_muscle, ex.biopsy_side)
    k = int(np.argmax((auto == label).sum(axis=(0, 1))))   # the widget's first slice
    # a horizontal stroke from deep inside the biopsied muscle outwards across its border
    inside = auto[..., k] == label
    depth = ndimage.distance_transform_edt(inside)
    i0, j0 = (int(v) for v in np.unravel_index(depth.argmax(), depth.shape))
    outside = np.flatnonzero(~inside[i0:, j0])
    assert outside.size, "the muscle reaches the edge of the image along the stroke's row"
    i_end = min(i0 + int(outside[0]) + BEYOND_BORDER, auto.shape[0] - 1)
    cols = range(i0, i_end + 1)
    painted, expected = _expected_change(auto, k, j0, cols, BRUSH, label)
    assert 0 < expected.sum() < painted.sum(), "the stroke should cross the muscle's border"

    server = jupyter_lab(tmp_path, env={"QMRI_MANIFEST": str(manifest_path)})
    lab = lab_page(server)
    lab.open(Path(CHAPTER).name)
    lab.wait_for_kernel_idle()
    assert lab.notebook_summary()["is_notebook"]
    lab.run_cell_containing("load_manifest()")
    lab.run_cell_containing("MaskQAWidget(session")
    assert lab.errors_in_outputs() == []
    page = lab.page
    canvas = page.locator("canvas.qmri-mask-canvas")
    canvas.wait_for(state="visible", timeout=60_000)
    canvas.scroll_into_view_if_needed()
    _set_brush(page, BRUSH)

    width = page.evaluate("(el) => el.width", canvas.element_handle())
    box = canvas.bounding_box()
    scale = width / auto.shape[0]                      # canvas pixels per voxel
    to_page = box["width"] / width                     # CSS pixels per canvas pixel

    def at(i: int, j: int) -> tuple[float, float]:     # centre of voxel (i, j) on the page
        return (box["x"] + (i + 0.5) * scale * to_page,
                box["y"] + (j + 0.5) * scale * to_page)

    page.mouse.move(*at(i0, j0))
    page.mouse.down()
    page.mouse.move(*at(i_end, j0), steps=2 * len(cols))
    page.mouse.up()
    page.locator(".qmri-mask-qa", has_text="voxels changed").wait_for(timeout=30_000)
    page.locator("button.qmri-mask-save").click()

    saved = D.map_path(manifest.derivatives, ex.id, D.label_spec(READER))
    deadline = time.monotonic() + SAVE_TIMEOUT_S
    while not saved.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert saved.is_file(), f"{saved.name} was not written after clicking save"
    page.locator(".qmri-mask-qa", has_text=f"saved {saved.name}").wait_for(timeout=30_000)
    labels, saved_affine, sidecar = D.read_map(manifest.derivatives, ex.id,
                                               D.label_spec(READER))
    np.testing.assert_allclose(saved_affine, affine)
    changed = labels != auto
    missing = np.argwhere(expected & ~changed)
    extra = np.argwhere(changed & ~expected)
    assert not len(missing) and not len(extra), (
        f"painted voxels not saved: {missing[:5].tolist()}; changed voxels outside the "
        f"stroke: {extra[:5].tolist()}")
    assert np.all(labels[changed] == label)
    assert sidecar["Reader"] == READER
    assert sum(e["voxels_changed"] for e in sidecar["EditLog"]) == int(expected.sum())
    # the network's labels are untouched
    assert np.array_equal(D.read_map(manifest.derivatives, ex.id, "labels_auto")[0], auto)
    assert not lab.console_errors, lab.console_errors
    assert not page.external_requests, page.external_requests
