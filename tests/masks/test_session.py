"""Tests of qmri_kernels.masks.MaskSession on a tiny hand-made cohort.

The cohort is two subjects with a 24 × 20 × 4 T2-weighted series (8 mm slabs, 10 mm gaps),
network labels, and PDFF / water T2 maps on MEGRE- and MESE-like grids, written with the
library's own writers into ``tmp_path``. Edits are compared with loop-over-voxels references.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
import pytest
import yaml

from qmri_kernels import derivatives as D
from qmri_kernels.dicom.bids import bids_path, write_json, write_nifti
from qmri_kernels.grids import Grid
from qmri_kernels.labels import label_index, muscle_labels
from qmri_kernels.manifest import load_manifest
from qmri_kernels.masks import MaskSession, MaskSessionError, erode_labels, transfer_labels
from qmri_kernels.pipeline import ROI_ERODE_MM
from qmri_kernels.masks.session import EDIT_LOG_KEYS, _transfer_one

SHAPE = (24, 20, 4)
RF_L, VL_L, RF_R, VL_R = (label_index("RF", "left"), label_index("VL", "left"),
                          label_index("RF", "right"), label_index("VL", "right"))


def _affine(dz: float, nz: int, dx: float = 4.0) -> np.ndarray:
    aff = np.diag([-dx, -dx, dz, 1.0])
    aff[:3, 3] = [dx * 11.5, dx * 9.5, -dz * (nz - 1) / 2]
    return aff


T2W = Grid(SHAPE, _affine(18.0, 4), 8.0)
MEGRE = Grid((24, 20, 9), _affine(9.0, 9), 6.0)
MESE = Grid((24, 20, 6), _affine(13.0, 6), 6.0)


def auto_labels() -> np.ndarray:
    """Network labels: left RF (a ring with a hole on slice 1), left VL beside it, right RF
    and VL, subcutaneous fat (1) along one edge."""
    lab = np.zeros(SHAPE, np.int16)
    i, j = np.meshgrid(np.arange(24), np.arange(20), indexing="ij")
    for k in range(4):
        r = 4.5 - 0.5 * abs(k - 1.5)
        lab[(i - 16) ** 2 + (j - 7) ** 2 <= r * r, k] = RF_L
        lab[((i - 17) ** 2 + (j - 13) ** 2 <= 9) & (lab[..., k] == 0), k] = VL_L
        lab[(i - 6) ** 2 + (j - 7) ** 2 <= r * r, k] = RF_R
        lab[((i - 6) ** 2 + (j - 13) ** 2 <= 9) & (lab[..., k] == 0), k] = VL_R
    lab[(i - 16) ** 2 + (j - 7) ** 2 <= 2, 1] = 0          # an enclosed hole in RF_L
    lab[:, 19, :] = 1
    return lab


def write_cohort(root: Path, *, auto_for=("01",), maps_for=("01",)) -> object:
    """Manifest + ingested T2w (+ labels_auto, maps) in ``root``; returns the Manifest."""
    doc = {"version": 1, "synthetic": False, "root": str(root),
           "clinical_table": "clinical.csv", "score_store": "scores.sqlite",
           "derivatives": "derivatives/qmri",
           "subjects": [{"id": "01", "dicom_root": "dicom/sub-01", "biopsy_muscle": "RF",
                         "biopsy_side": "left"},
                        {"id": "02", "dicom_root": "dicom/sub-02", "biopsy_muscle": "VL",
                         "biopsy_side": "right"}]}
    path = root / "manifest.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    manifest = load_manifest(path, check_paths=False)
    deriv = manifest.derivatives
    rng = np.random.default_rng(7)
    for sid in ("01", "02"):
        img = bids_path(manifest.rawdata, sid, "t2w")
        img.parent.mkdir(parents=True, exist_ok=True)
        write_nifti(img, rng.uniform(100, 900, SHAPE).astype(np.float32), T2W.affine, 1.0, 0.0)
        write_json(bids_path(manifest.rawdata, sid, "t2w", ext=".json"),
                   {"SliceThickness": 8.0, "EchoTime": 0.12})
    for sid in auto_for:
        D.write_maps(deriv, sid, {"labels_auto": (auto_labels(), T2W.affine)})
    for sid in maps_for:
        pdff = rng.uniform(0.0, 0.3, MEGRE.shape)
        pdff[0, 0, 0] = np.nan
        t2 = rng.uniform(0.03, 0.06, MESE.shape)
        D.write_maps(deriv, sid, {"pdff": (pdff, MEGRE.affine),
                                  "water_t2": (t2, MESE.affine)})
    return manifest


@pytest.fixture
def manifest(tmp_path):
    return write_cohort(tmp_path)


@pytest.fixture
def session(manifest):
    return MaskSession.open(manifest, "01", "R1")


# ----------------------------------------------------------------- slow references

def paint_ref(labels, k, center, radius, label):
    out = np.array(labels, copy=True)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            if (i - center[0]) ** 2 + (j - center[1]) ** 2 <= radius ** 2:
                out[i, j, k] = label
    return out


def fill_ref(labels, k, seed, label):
    """Breadth-first flood fill of the 4-connected background around ``seed``; None if it
    reaches the slice border."""
    out = np.array(labels, copy=True)
    nx, ny = out.shape[:2]
    seen, queue = {tuple(seed)}, deque([tuple(seed)])
    while queue:
        i, j = queue.popleft()
        if i in (0, nx - 1) or j in (0, ny - 1):
            return None
        for a, b in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)):
            if (a, b) not in seen and out[a, b, k] == 0:
                seen.add((a, b))
                queue.append((a, b))
    for i, j in seen:
        out[i, j, k] = label
    return out


def dice_ref(a, b):
    out = {}
    for lab in muscle_labels():
        x, y = a == lab.index, b == lab.index
        if x.sum() + y.sum():
            out[lab.abbreviation] = 2 * (x & y).sum() / (x.sum() + y.sum())
    return out


# ---------------------------------------------------------------------------- open

def test_open_starts_from_the_network(session, manifest):
    np.testing.assert_array_equal(session.labels, auto_labels())
    np.testing.assert_array_equal(session.auto_labels, auto_labels())
    np.testing.assert_allclose(session.affine, T2W.affine)
    assert session.image.shape == SHAPE and session.image.dtype == np.float32
    assert (session.subject, session.reader) == ("01", "R1")
    assert session.started_from == "labels_auto"
    assert session.biopsy_label == RF_L
    assert session.path == D.map_path(manifest.derivatives, "01", "labels_R1")
    assert not session.has_unsaved_changes and not session.can_undo
    assert session.edit_log == []


def test_arrays_handed_out_cannot_change_the_session(session):
    for arr in (session.labels, session.auto_labels, session.image, session.affine,
                session.slice_labels(1)):
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[0, 0] = 5
        with pytest.raises(ValueError):
            arr.flags.writeable = True
    lab = session.labels
    copy = np.array(lab)
    session.paint(1, center=(3, 3), radius=1, label=RF_L)
    np.testing.assert_array_equal(lab, copy)             # a snapshot, not a live view


def test_missing_network_labels_come_from_the_segmentation_stage(tmp_path, monkeypatch):
    from qmri_kernels.pipeline import stages

    manifest = write_cohort(tmp_path, auto_for=())
    calls = []

    class Result:
        maps = {"labels_auto": (auto_labels(), T2W.affine)}

    def fake(m, subject, **kw):
        calls.append(subject)
        return Result()

    monkeypatch.setattr(stages, "segmentation", fake)
    s = MaskSession.open(manifest, "sub-02", "R2")
    assert calls == ["02"]
    np.testing.assert_array_equal(s.labels, auto_labels())
    assert s.biopsy_label == VL_R


# --------------------------------------------------------------------------- edits

@pytest.mark.parametrize("k, center, radius", [
    (0, (10, 10), 3), (1, (0, 0), 2), (3, (23, 19), 4), (2, (5, 17), 2.5), (1, (12, 1), 1),
    (2, (8, 9), 0.5), (0, (11, 3), 30)])
def test_paint_and_erase_match_the_reference(session, k, center, radius):
    before = session.labels
    ref = paint_ref(before, k, center, radius, VL_L)
    n = session.paint(k, center=center, radius=radius, label=VL_L)
    np.testing.assert_array_equal(session.labels, ref)
    assert n == int((ref != before).sum())
    ref2 = paint_ref(ref, k, center, radius - 0.5 if radius > 1 else radius, 0)
    m = session.erase(k, center=center, radius=radius - 0.5 if radius > 1 else radius)
    np.testing.assert_array_equal(session.labels, ref2)
    assert m == int((ref2 != ref).sum())


def test_fill_fills_the_enclosed_hole_only(session):
    before = session.labels
    ref = fill_ref(before, 1, (16, 7), RF_L)
    assert ref is not None
    n = session.fill(1, seed=(16, 7), label=RF_L)
    np.testing.assert_array_equal(session.labels, ref)
    assert n == 9 == int((ref != before).sum())
    # a hole drawn by hand in another slice, filled with another label
    ring = paint_ref(session.labels, 2, (12, 10), 3, VL_L)
    ring = paint_ref(ring, 2, (12, 10), 1.5, 0)
    session.paint(2, center=(12, 10), radius=3, label=VL_L)
    session.erase(2, center=(12, 10), radius=1.5)
    np.testing.assert_array_equal(session.labels, ring)
    ref = fill_ref(ring, 2, (12, 11), RF_R)
    assert session.fill(2, seed=(12, 11), label=RF_R) == int((ref != ring).sum()) == 9
    np.testing.assert_array_equal(session.labels, ref)


def test_fill_refuses_what_is_not_an_enclosed_hole(session):
    before = session.labels
    assert fill_ref(before, 0, (2, 2), RF_L) is None
    with pytest.raises(MaskSessionError, match="not an enclosed hole"):
        session.fill(0, seed=(2, 2), label=RF_L)
    with pytest.raises(MaskSessionError, match="not background"):
        session.fill(0, seed=(16, 7), label=VL_L)
    with pytest.raises(MaskSessionError, match="background"):
        session.fill(1, seed=(16, 7), label=0)
    np.testing.assert_array_equal(session.labels, before)
    assert not session.can_undo


def test_undo_redo_walk_back_and_forth(session):
    rng = np.random.default_rng(3)
    states = [session.labels]
    counts = []
    for _ in range(12):
        k = int(rng.integers(0, 4))
        c = (int(rng.integers(0, 24)), int(rng.integers(0, 20)))
        r = float(rng.uniform(0.5, 5))
        if rng.uniform() < 0.3:
            ref = paint_ref(states[-1], k, c, r, 0)
            n = session.erase(k, center=c, radius=r)
        else:
            lab = int(rng.choice([RF_L, VL_L, RF_R, 1]))
            ref = paint_ref(states[-1], k, c, r, lab)
            n = session.paint(k, center=c, radius=r, label=lab)
        np.testing.assert_array_equal(session.labels, ref)
        if n:
            states.append(ref)
            counts.append(n)
    assert len(session.edit_log) == len(states) - 1
    for state, n in zip(states[-2::-1], counts[::-1]):
        assert session.undo() == n
        np.testing.assert_array_equal(session.labels, state)
    assert session.undo() == 0 and not session.can_undo
    for state, n in zip(states[1:], counts):
        assert session.redo() == n
        np.testing.assert_array_equal(session.labels, state)
    assert session.redo() == 0


def test_a_new_edit_clears_redo_and_no_op_edits_are_not_recorded(session):
    start = session.labels
    n = session.paint(0, center=(10, 10), radius=2, label=RF_L)
    assert n == 13
    assert session.paint(0, center=(10, 10), radius=2, label=RF_L) == 0   # nothing changes
    assert len(session.edit_log) == 1
    assert session.undo() == 13
    np.testing.assert_array_equal(session.labels, start)
    assert session.can_redo
    session.paint(3, center=(2, 2), radius=1, label=VL_L)
    assert not session.can_redo and session.redo() == 0


def test_history_keeps_changed_voxels_only(session):
    with session.stroke():
        a = session.paint(0, center=(10, 10), radius=2, label=RF_L)
        b = session.paint(0, center=(12, 10), radius=2, label=RF_L)
    assert session.history_nbytes == (a + b) * (8 + 2)   # int64 index + int16 old value
    assert session.history_nbytes < session.labels.nbytes
    assert len(session.edit_log) == 2
    assert session.undo() == a + b                        # one stroke, one undo
    np.testing.assert_array_equal(session.labels, auto_labels())


def test_bad_input_is_refused_and_changes_nothing(session):
    before = session.labels
    bad_calls = [
        (lambda: session.paint(-1, center=(1, 1), radius=1, label=RF_L), "slice_index"),
        (lambda: session.paint(4, center=(1, 1), radius=1, label=RF_L), "slice_index"),
        (lambda: session.paint(1.5, center=(1, 1), radius=1, label=RF_L), "slice_index"),
        (lambda: session.paint("0", center=(1, 1), radius=1, label=RF_L), "slice_index"),
        (lambda: session.paint(0, center=(-1, 1), radius=1, label=RF_L), "center"),
        (lambda: session.paint(0, center=(24, 1), radius=1, label=RF_L), "center"),
        (lambda: session.paint(0, center=(1, 20), radius=1, label=RF_L), "center"),
        (lambda: session.paint(0, center=(1,), radius=1, label=RF_L), "center"),
        (lambda: session.paint(0, center=None, radius=1, label=RF_L), "center"),
        (lambda: session.paint(0, center=(1, 1), radius=0, label=RF_L), "radius"),
        (lambda: session.paint(0, center=(1, 1), radius=-2, label=RF_L), "radius"),
        (lambda: session.paint(0, center=(1, 1), radius=float("nan"), label=RF_L), "radius"),
        (lambda: session.paint(0, center=(1, 1), radius="3", label=RF_L), "radius"),
        (lambda: session.paint(0, center=(1, 1), radius=2, label=5), "label"),
        (lambda: session.paint(0, center=(1, 1), radius=2, label=99), "label"),
        (lambda: session.paint(0, center=(1, 1), radius=2, label=-1), "label"),
        (lambda: session.paint(0, center=(1, 1), radius=2, label=31.5), "label"),
        (lambda: session.erase(9, center=(1, 1), radius=2), "slice_index"),
        (lambda: session.erase(0, center=(1, 1), radius=0), "radius"),
        (lambda: session.fill(0, seed=(30, 1), label=RF_L), "seed"),
        (lambda: session.fill(0, seed=(5, 5), label=50), "label"),
    ]
    for call, word in bad_calls:
        with pytest.raises(MaskSessionError, match=word):
            call()
        np.testing.assert_array_equal(session.labels, before)
    assert issubclass(MaskSessionError, ValueError)
    assert not session.can_undo and session.edit_log == []


def test_bad_reader_and_subject_are_refused(manifest):
    for reader in ("auto", "AUTO", "R-1", "", 1, None):
        with pytest.raises(MaskSessionError, match="reader"):
            MaskSession.open(manifest, "01", reader)
    with pytest.raises(MaskSessionError, match="subject '07'"):
        MaskSession.open(manifest, "07", "R1")


def test_a_reader_whose_mask_file_the_manifest_names_is_refused(tmp_path):
    write_cohort(tmp_path)
    doc = yaml.safe_load((tmp_path / "manifest.yaml").read_text())
    (tmp_path / "R9.nii.gz").write_bytes(b"")
    doc["subjects"][0]["masks"] = {"R9": {"path": "R9.nii.gz", "labels": {"1": "RF_left"}}}
    (tmp_path / "manifest.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    manifest = load_manifest(tmp_path / "manifest.yaml", check_paths=False)
    with pytest.raises(MaskSessionError, match="mask file named in the manifest"):
        MaskSession.open(manifest, "01", "R9")
    assert MaskSession.open(manifest, "01", "R1").reader == "R1"


def test_saved_labels_on_another_grid_are_refused(manifest):
    deriv = manifest.derivatives
    shifted = T2W.affine.copy()
    shifted[2, 3] += 5.0
    D.write_map(deriv, "01", "labels_R1", auto_labels(), shifted)
    with pytest.raises(MaskSessionError, match="different affines"):
        MaskSession.open(manifest, "01", "R1")
    D.write_map(deriv, "01", "labels_R1", auto_labels()[:, :, :3], T2W.affine)
    with pytest.raises(MaskSessionError, match="shape"):
        MaskSession.open(manifest, "01", "R1")
    D.write_map(deriv, "01", "labels_auto", auto_labels()[:20], T2W.affine)
    with pytest.raises(MaskSessionError, match="labels_auto|auto_dseg"):
        MaskSession.open(manifest, "01", "R2")
    bad = auto_labels()
    bad[0, 0, 0] = 7                                       # not in the label table
    D.write_map(deriv, "01", "labels_R3", bad, T2W.affine)
    D.write_map(deriv, "01", "labels_auto", auto_labels(), T2W.affine)
    with pytest.raises(MaskSessionError, match="not in the label table"):
        MaskSession.open(manifest, "01", "R3")


# --------------------------------------------------------------------------- saving

def test_save_and_reopen_round_trip(session, manifest):
    deriv = manifest.derivatives
    session.paint(1, center=(16, 7), radius=1, label=RF_L)
    session.erase(2, center=(17, 13), radius=2)
    session.paint(3, center=(3, 3), radius=1.5, label=VL_L)
    assert session.has_unsaved_changes
    path = session.save()
    assert path == D.map_path(deriv, "01", "labels_R1") and path.is_file()
    assert path.name == "sub-01_desc-R1_dseg.nii.gz"
    assert path.with_name("sub-01_desc-R1_dseg.tsv").is_file()
    assert not session.has_unsaved_changes
    data, affine, sidecar = D.read_map(deriv, "01", "labels_R1")
    np.testing.assert_array_equal(data, session.labels)
    np.testing.assert_allclose(affine, T2W.affine)
    assert sidecar["Units"] == "label" and sidecar["Reader"] == "R1"
    assert sidecar["StartedFrom"] == "labels_auto"
    assert "bids:raw:sub-01/anat/sub-01_T2w.nii.gz" in sidecar["Sources"]

    log = sidecar["EditLog"]
    assert [e["operation"] for e in log] == ["paint", "erase", "paint"]
    assert all(set(e) == set(EDIT_LOG_KEYS) for e in log)
    assert log[0]["slice"] == 1 and log[0]["center"] == [16, 7] and log[0]["radius"] == 1
    assert log[1]["label"] == 0 and log[2]["radius"] == 1.5
    assert all(e["reader"] == "R1" and e["time"].endswith("+00:00") for e in log)
    assert [e["voxels_changed"] for e in log] == [e["voxels_changed"]
                                                  for e in session.edit_log]
    expected = dice_ref(session.labels, auto_labels())
    assert sidecar["DiceToAuto"].keys() == expected.keys()
    for key, value in expected.items():
        assert sidecar["DiceToAuto"][key] == pytest.approx(value)
    assert sidecar["DiceToAuto"]["VL_R"] == 1.0 and sidecar["DiceToAuto"]["VL_L"] < 1.0
    assert "SCF" not in sidecar["DiceToAuto"]          # muscles only

    again = MaskSession.open(manifest, "01", "R1")
    assert again.started_from == "labels_R1"
    np.testing.assert_array_equal(again.labels, session.labels)
    np.testing.assert_array_equal(again.auto_labels, auto_labels())
    again.paint(0, center=(20, 2), radius=1, label=RF_R)
    again.save()
    log2 = D.read_sidecar(deriv, "01", "labels_R1")["EditLog"]
    assert log2[:3] == log and len(log2) == len(again.edit_log) == 4
    assert log2[3]["operation"] == "paint" and log2[3]["center"] == [20, 2]


def test_saving_leaves_other_readers_and_the_network_alone(manifest):
    deriv = manifest.derivatives
    r2 = MaskSession.open(manifest, "01", "R2")
    r2.paint(0, center=(4, 4), radius=2, label=RF_R)
    r2.save()
    files = {}
    for name in ("labels_R2", "labels_auto"):
        p = D.map_path(deriv, "01", name)
        for f in (p, p.with_name(p.name.replace(".nii.gz", ".json")),
                  p.with_name(p.name.replace(".nii.gz", ".tsv"))):
            files[f] = f.read_bytes()
    r1 = MaskSession.open(manifest, "01", "R1")
    assert r1.started_from == "labels_auto"               # R2's work is not R1's start
    np.testing.assert_array_equal(r1.labels, auto_labels())
    r1.erase(1, center=(16, 7), radius=3)
    r1.save()
    for f, content in files.items():
        assert f.read_bytes() == content, f.name
    r2_again = MaskSession.open(manifest, "01", "R2")
    assert r2_again.labels[4, 4, 0] == RF_R and r2_again.labels[16, 5, 1] == RF_L


def test_dice_matches_the_definition(session):
    assert session.dice() == {k: 1.0 for k in dice_ref(auto_labels(), auto_labels())}
    session.paint(1, center=(16, 9), radius=3, label=VL_L)
    for key, value in dice_ref(session.labels, auto_labels()).items():
        assert session.dice()[key] == pytest.approx(value)


# ------------------------------------------------------------------------------ stats

def _expected_stats(labels, label, pdff, t2, erode_mm=ROI_ERODE_MM):
    """The pipeline's route (roi_table): every label carried over, then eroded."""
    out = {}
    for name, grid, data, factor in (("ff_percent", MEGRE, pdff, 100.0),
                                     ("water_t2_ms", MESE, t2, 1000.0)):
        moved = transfer_labels(labels, T2W, grid).labels
        if erode_mm:
            moved = erode_labels(moved, erode_mm, tuple(grid.zooms[:2]))
        v = data[(moved == label) & np.isfinite(data)]
        out[name] = v.mean() * factor if v.size else np.nan
    return out


def test_stats_measure_the_biopsied_muscle_as_the_pipeline(session, manifest):
    pdff, aff_p, _ = D.read_map(manifest.derivatives, "01", "pdff")
    t2, aff_t, _ = D.read_map(manifest.derivatives, "01", "water_t2")
    got = session.stats()                                   # maps read from disk
    exp = _expected_stats(session.labels, RF_L, pdff, t2)
    assert got["muscle"] == "RF" and got["side"] == "left" and got["label"] == RF_L
    assert got["ff_percent"] == pytest.approx(exp["ff_percent"], rel=1e-5)
    assert got["water_t2_ms"] == pytest.approx(exp["water_t2_ms"], rel=1e-5)
    assert got["n_voxels_pdff"] > 0 and got["n_voxels_water_t2"] > 0
    session.paint(2, center=(16, 7), radius=5, label=RF_L)
    session.erase(0, center=(16, 9), radius=2)
    maps = {"pdff": (pdff, aff_p), "water_t2": (t2, aff_t)}
    for erode in (0.0, 4.0, 8.0):
        got = session.stats(maps, erode_mm=erode)
        exp = _expected_stats(session.labels, RF_L, pdff, t2, erode)
        assert got["ff_percent"] == pytest.approx(exp["ff_percent"], rel=1e-5)
        assert got["water_t2_ms"] == pytest.approx(exp["water_t2_ms"], rel=1e-5)
    class StageResult:                       # what the pipeline's stages return
        maps = {"pdff": (pdff, aff_p), "water": (pdff, aff_p), "water_t2": (t2, aff_t)}

    assert session.stats(StageResult()) == session.stats(maps)   # "water": no unit, skipped
    auto = session.stats(maps, labels="auto")
    exp = _expected_stats(auto_labels(), RF_L, pdff, t2)
    assert auto["ff_percent"] == pytest.approx(exp["ff_percent"], rel=1e-5)
    session.erase(0, center=(16, 7), radius=30)
    for k in range(1, 4):
        session.erase(k, center=(16, 7), radius=30)
    empty = session.stats(maps)
    assert np.isnan(empty["ff_percent"]) and empty["n_voxels_pdff"] == 0
    with pytest.raises(MaskSessionError, match="unit"):
        session.stats({"nonsense": (pdff, aff_p)})
    with pytest.raises(MaskSessionError, match="erode_mm"):
        session.stats(maps, erode_mm=-1)
    with pytest.raises(MaskSessionError, match="affine"):
        session.stats({"pdff": pdff})


def test_stats_follow_the_pipelines_erosion(session, monkeypatch):
    from qmri_kernels.pipeline import stages

    assert session.stats() == session.stats(erode_mm=ROI_ERODE_MM)
    monkeypatch.setattr(stages, "ROI_ERODE_MM", 4.0)        # one 4 mm pixel of this cohort
    eroded = session.stats()
    assert eroded == session.stats(erode_mm=4.0)
    assert eroded["n_voxels_pdff"] < session.stats(erode_mm=0.0)["n_voxels_pdff"]


def test_stats_without_maps_on_disk_are_nan(tmp_path):
    manifest = write_cohort(tmp_path, maps_for=())
    s = MaskSession.open(manifest, "01", "R1")
    got = s.stats()
    assert np.isnan(got["ff_percent"]) and np.isnan(got["water_t2_ms"])


def test_cropped_single_label_transfer_equals_the_full_transfer():
    rng = np.random.default_rng(11)
    lab = auto_labels()
    lab[rng.uniform(size=SHAPE) < 0.05] = VL_L          # speckle: many small components
    rotated = MEGRE.affine.copy()
    c, s = np.cos(0.3), np.sin(0.3)
    rotated[:2, :2] = rotated[:2, :2] @ np.array([[c, -s], [s, c]])
    for target in (MEGRE.affine, MESE.affine, rotated):
        shape = MEGRE.shape if target is not MESE.affine else MESE.shape
        for erode in (0.0, 4.0):
            for value in (RF_L, VL_L, RF_R, 1):
                full = transfer_labels(np.where(lab == value, value, 0), T2W,
                                       Grid(shape, target, 6.0), erode_mm=erode)
                crop = _transfer_one(lab == value, T2W, shape, target, erode)
                np.testing.assert_array_equal(crop, full.labels == value)
