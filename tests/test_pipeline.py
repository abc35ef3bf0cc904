"""Tests of qmri_kernels.pipeline on a tiny synthetic cohort (2 subjects, 48 × 48 pixels).

The stages must write their BIDS derivatives, read them back instead of recomputing,
recompute on ``force``, leave nothing behind when they fail, and the maps must agree with
the phantom's ground truth within what a 8.75 mm pixel allows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from qmri_kernels import derivatives as D
from qmri_kernels import pipeline
from qmri_kernels.manifest import load_manifest
from qmri_kernels.masks import ROI_COLUMNS
from qmri_kernels.phantom.synthetic_cohort import generate_cohort
from qmri_kernels.labels import label_index
from qmri_kernels.phantom.truth import load_truth
from qmri_kernels.segment import DEFAULT_WEIGHTS

needs_weights = pytest.mark.skipif(not Path(DEFAULT_WEIGHTS).is_file(),
                                   reason="the segmentation network's weights are not shipped "
                                          "in this checkout")


def _manifest(root: Path, derivatives: str = "derivatives/qmri") -> Path:
    doc = {"version": 1, "synthetic": True, "root": str(root),
           "clinical_table": "sourcedata/clinical.csv",
           "scores": "sourcedata/scores_pathology.csv",
           "score_store": "derivatives/scores.sqlite", "derivatives": derivatives,
           # each manifest its own raw dataset: tests below change ingested files
           "rawdata": "rawdata/" + derivatives.replace("/", "_"),
           "truth": "truth",
           # the fits told the simulated scanner's pulses and fat spectrum: these tests
           # check the machinery; tests/t2/test_robustness.py measures wrong assumptions
           "acquisition": {"fat_spectrum": "ren2008-9peak", "mese_slice_profile": {
               "excitation_window": "hamming", "excitation_time_bandwidth": 3.0,
               "refocusing_window": "hamming", "refocusing_time_bandwidth": 2.0,
               "refocusing_width": 1.5, "excitation_angle_deg": 90, "extent": 3.0}},
           "subjects": [{"id": "01", "dicom_root": "sourcedata/sub-01/dicom",
                         "biopsy_muscle": "RF", "biopsy_side": "left"},
                        {"id": "13", "dicom_root": "sourcedata/sub-13/dicom",
                         "biopsy_muscle": "VL", "biopsy_side": "right"}]}
    path = root / f"manifest_{derivatives.replace('/', '_')}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cohort")
    generate_cohort(root, matrix=(48, 48), patients=[1, 13])
    return root


@pytest.fixture(scope="module")
def manifest(cohort):
    return load_manifest(_manifest(cohort))


def _mtimes(result) -> dict[str, int]:
    return {n: p.stat().st_mtime_ns for n, p in result.paths.items()}


# ------------------------------------------------------------------------- body mask

def test_otsu_splits_two_populations():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(1, 0.2, 500), rng.normal(6, 0.5, 300)])
    t = pipeline.otsu_threshold(values)
    assert values[:500].max() <= t < values[500:].min()
    with pytest.raises(ValueError, match="two distinct"):
        pipeline.otsu_threshold(np.ones(10))


def test_body_mask_matches_the_phantom(manifest):
    from qmri_kernels.dicom import load_series

    pipeline.ensure_ingested(manifest, "13")
    for role in ("megre", "mese"):
        series = load_series(manifest.rawdata, "13", role)
        truth = load_truth(manifest, "13", role)["labels"]
        mask = pipeline.body_mask(series.data)
        body = truth > 0
        dice = 2 * np.sum(mask & body) / (mask.sum() + body.sum())
        assert dice > 0.98, role
        assert mask[truth > 10].all(), role            # no muscle voxel left out
    with pytest.raises(ValueError, match="shape"):
        pipeline.body_mask(np.ones((4, 4)))
    with pytest.raises(ValueError, match="no positive"):
        pipeline.body_mask(np.zeros((4, 4, 2)))


# ---------------------------------------------------------------- fat-water stage

def test_fat_water_maps_written_cached_forced(manifest):
    first = pipeline.fat_water_maps(manifest, "01")
    assert set(first.maps) == set(pipeline.FAT_WATER_MAPS)
    for name, path in first.paths.items():
        assert path == D.map_path(manifest.derivatives, "01", name) and path.is_file()
        assert D.map_exists(manifest.derivatives, "01", name)
    side = first.sidecars["fieldmap"]
    assert side["Units"] == "Hz"
    assert first.paths["fieldmap"].name == "sub-01_desc-dixon_B0map.nii.gz"
    assert all(s.startswith("bids:raw:sub-01/anat/sub-01_echo-") for s in side["Sources"])
    assert len(side["Sources"]) == 12 and side["MagneticFieldStrength"] == 3.0
    assert (manifest.derivatives / "dataset_description.json").is_file()

    before = _mtimes(first)
    again = pipeline.fat_water_maps(manifest, "01")
    assert not again.computed and _mtimes(again) == before
    for name in first.maps:
        np.testing.assert_array_equal(again[name], first[name])
        np.testing.assert_array_equal(again.affine(name), first.affine(name))

    forced = pipeline.fat_water_maps(manifest, "01", force=True)
    assert forced.computed
    assert all(forced.paths[n].stat().st_mtime_ns >= before[n] for n in before)
    np.testing.assert_array_equal(forced["pdff"], first["pdff"])   # deterministic fit


def test_maps_made_by_other_code_are_made_again(manifest, monkeypatch):
    from qmri_kernels.pipeline import stages

    first = pipeline.fat_water_maps(manifest, "01")
    assert first.sidecars["pdff"]["StageSettings"]["CodeDigest"] == stages._code_digest()
    assert not pipeline.fat_water_maps(manifest, "01").computed
    monkeypatch.setattr(stages, "_code_digest", lambda: "0123456789abcdef")
    again = pipeline.fat_water_maps(manifest, "01")
    assert again.computed
    assert again.sidecars["pdff"]["StageSettings"]["CodeDigest"] == "0123456789abcdef"


def test_fitted_pdff_matches_truth_in_the_muscles(manifest):
    for sid in ("01", "13"):
        fw = pipeline.fat_water_maps(manifest, sid)
        truth = load_truth(manifest, sid, "megre")
        np.testing.assert_allclose(fw.affine("pdff"), truth["affine"], atol=1e-3)
        muscle = truth["labels"] > 10
        err = fw["pdff"][muscle] - truth["pdff"][muscle]
        assert np.isfinite(err).all()
        assert np.median(np.abs(err)) < 0.02                    # 2 pp, voxel-wise
        for side in ("left", "right"):
            idx = label_index("RF", side)
            roi = truth["labels"] == idx
            assert abs(fw["pdff"][roi].mean() - truth["pdff"][roi].mean()) < 0.01


def test_failed_stage_leaves_no_partial_file(cohort, monkeypatch):
    m = load_manifest(_manifest(cohort, "derivatives/failing"))
    pipeline.ensure_ingested(m, "13")
    calls = []
    real = D._nifti_bytes

    def fail_on_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(D, "_nifti_bytes", fail_on_third)
    with pytest.raises(OSError, match="disk full"):
        pipeline.fat_water_maps(m, "13")
    for name in pipeline.FAT_WATER_MAPS:
        assert not D.map_path(m.derivatives, "13", name).exists()
        assert not D.map_path(m.derivatives, "13", name).with_suffix("").with_suffix(
            ".json").exists()
    assert not list(Path(m.derivatives).rglob("*.tmp"))
    monkeypatch.setattr(D, "_nifti_bytes", real)
    assert pipeline.fat_water_maps(m, "13").computed          # and it recovers


def test_ingest_leaves_a_raw_dataset_and_clears_old_files_from_the_derivatives(manifest):
    sub = Path(manifest.derivatives) / "sub-01"
    old = [sub / "anat" / "sub-01_echo-1_MESE.json", sub / "anat" / "sub-01_T2map.json",
           sub / "fmap" / "sub-01_fieldmap.nii.gz"]
    for path in old:                                  # as an earlier version wrote them
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    files = pipeline.ensure_ingested(manifest, "01").paths
    assert not any(p.exists() for p in old)
    assert all(p.parent == Path(manifest.rawdata) / "sub-01" / "anat" for p in files.values())
    assert (Path(manifest.rawdata) / "participants.tsv").is_file()
    assert D.dataset_links(manifest.derivatives) == {"raw": Path(manifest.rawdata).resolve()}


def test_unknown_subject_is_named(manifest):
    with pytest.raises(KeyError, match="no subject '99'"):
        pipeline.fat_water_maps(manifest, "99")


def test_missing_header_fields_are_named(cohort):
    m = load_manifest(_manifest(cohort, "derivatives/headless"))
    ingested = pipeline.ensure_ingested(m, "13")
    assert ingested.computed and not pipeline.ensure_ingested(m, "13").computed
    for path in ingested.paths.values():
        if path.name.endswith("MEGRE.json"):
            side = json.loads(path.read_text())
            del side["MagneticFieldStrength"]
            path.write_text(json.dumps(side))
    with pytest.raises(ValueError, match="MagneticFieldStrength"):
        pipeline.fat_water_maps(m, "13")
    assert not D.map_exists(m.derivatives, "13", "pdff")


def test_reader_labels_are_carried_onto_the_map_grids(manifest):
    with pytest.raises(FileNotFoundError, match="sub-13_desc-R1_dseg.nii.gz"):
        pipeline.transferred_labels(manifest, "13", reader="R1")
    t2w = load_truth(manifest, "13", "t2w")
    D.write_map(manifest.derivatives, "13", "labels_R1", t2w["labels"], t2w["affine"])
    moved = pipeline.transferred_labels(manifest, "13", reader="R1")
    assert set(moved.maps) == {"labels_R1_megre", "labels_R1_mese"}
    for role in ("megre", "mese"):
        truth = load_truth(manifest, "13", role)["labels"]
        lab = moved[f"labels_R1_{role}"]
        covered = list(moved.sidecars[f"labels_R1_{role}"]["CoveredSlices"])
        assert len(covered) >= truth.shape[2] - 2
        a, b = lab[..., covered] > 10, truth[..., covered] > 10
        assert 2 * np.sum(a & b) / (a.sum() + b.sum()) > 0.95, role


# ----------------------------------------------- segmentation, transfer, T2, ROI table

@needs_weights
def test_labels_t2_and_roi_table(manifest):
    seg = pipeline.segmentation(manifest, "13")
    labels = seg["labels_auto"]
    assert labels.dtype == np.int16 and (labels > 10).any()
    assert seg.sidecars["labels_auto"]["Segmentation"]["WeightsSHA256"]

    moved = pipeline.transferred_labels(manifest, "13")
    for role in ("megre", "mese"):
        name = f"labels_auto_{role}"
        truth = load_truth(manifest, "13", role)
        np.testing.assert_allclose(moved.affine(name), truth["affine"], atol=1e-3)
        side = moved.sidecars[name]
        assert side["SpatialReference"].startswith("bids:raw:sub-13/anat/sub-13_echo-1")
        assert set(side["CoveredSlices"]) | set(side["ExcludedSlices"]) == \
            set(range(truth["labels"].shape[2]))
    # other settings recompute, the same settings do not
    eroded = pipeline.transferred_labels(manifest, "13", erode_mm=10.0)
    assert eroded.computed and (eroded["labels_auto_mese"] > 0).sum() < \
        (moved["labels_auto_mese"] > 0).sum()
    assert pipeline.transferred_labels(manifest, "13").computed
    assert not pipeline.transferred_labels(manifest, "13").computed

    t2 = pipeline.t2_maps(manifest, "13")
    assert set(t2.maps) == set(pipeline.T2_MAPS)
    assert t2.sidecars["water_t2"]["Units"] == "s"
    assert t2.paths["b1"].name == "sub-13_TB1map.nii.gz"
    sources = t2.sidecars["water_t2"]["Sources"]
    assert "bids::sub-13/anat/sub-13_desc-dixon_PDFFmap.nii.gz" in sources
    truth = load_truth(manifest, "13", "mese")
    muscle = truth["labels"] > 10
    err_ms = 1e3 * (t2["water_t2"][muscle] - truth["water_t2"][muscle])
    assert np.nanmedian(np.abs(err_ms)) < 3.0
    assert abs(np.nanmedian(err_ms)) < 1.5
    mono_bias = np.nanmedian(1e3 * (t2["t2"][muscle] - truth["water_t2"][muscle]))
    assert mono_bias > 5.0                     # stimulated echoes + fat lengthen it

    table = pipeline.roi_table(manifest)
    path = pipeline.roi_table_path(manifest)
    assert list(table.columns) == list(ROI_COLUMNS)
    assert set(table["subject"]) == {"01", "13"} and set(table["reader"]) == {"auto"}
    assert set(table["map"]) == {"ff_percent", "r2star_per_s", "b0_hz", "water_t2_ms",
                                 "t2_ms", "epg_ff_percent", "b1_ratio"}
    biopsy = table.query("subject == '13' and biopsied")
    assert set(biopsy["muscle"]) == {"VL"} and set(biopsy["side"]) == {"right"}
    stamp = path.stat().st_mtime_ns
    assert pipeline.roi_table(manifest).equals(table)
    assert path.stat().st_mtime_ns == stamp                    # reused, not rewritten
    # an upstream stage recomputed to the same files leaves everything downstream cached
    assert pipeline.t2_maps(manifest, "13", force=True).computed
    assert not pipeline.t2_maps(manifest, "13").computed
    pipeline.roi_table(manifest)
    assert path.stat().st_mtime_ns == stamp
    eroded = pipeline.roi_table(manifest, erode_mm=10.0)        # other settings: recomputed
    assert eroded["n_voxels"].sum() < table["n_voxels"].sum()
    settings = json.loads(path.with_suffix(".json").read_text())["Settings"]
    assert settings["Readers"] == ["auto"] and settings["ErodeMM"] == 10.0
    assert settings["Subjects"] == ["01", "13"]


@needs_weights
def test_a_changed_input_recomputes_downstream_and_only_that(manifest):
    """A reader's corrected mask is an input: its transfer and the ROI table recompute,
    the fits stay cached."""
    auto = pipeline.segmentation(manifest, "13")
    for sid in ("01", "13"):
        lab, aff = pipeline.segmentation(manifest, sid).maps["labels_auto"]
        D.write_map(manifest.derivatives, sid, "labels_R1", lab, aff)
    assert pipeline.saved_readers(manifest) == ["R1"]
    table = pipeline.roi_table(manifest)
    assert set(table["reader"]) == {"auto", "R1"}
    r1 = table.query("reader == 'R1'").drop(columns="reader").reset_index(drop=True)
    a = table.query("reader == 'auto'").drop(columns="reader").reset_index(drop=True)
    pd.testing.assert_frame_equal(r1, a)                  # same labels, same numbers
    assert not pipeline.transferred_labels(manifest, "13", reader="R1").computed

    lab, aff = auto.maps["labels_auto"]
    corrected = np.where(lab == label_index("VL", "right"), 0, lab).astype(np.int16)
    D.write_map(manifest.derivatives, "13", "labels_R1", corrected, aff)
    moved = pipeline.transferred_labels(manifest, "13", reader="R1")
    assert moved.computed and not (moved["labels_R1_mese"] == label_index("VL", "right")).any()
    assert not pipeline.t2_maps(manifest, "13").computed
    again = pipeline.roi_table(manifest)
    vl = again.query("reader == 'R1' and subject == '13' and muscle == 'VL' and "
                     "side == 'right'")
    assert (vl["n_voxels"] == 0).all()


@needs_weights
def test_a_stage_set_replaced_half_way_counts_as_absent(manifest):
    """The run id in each image header and sidecar ties a stage's outputs together: a set
    whose files come from two runs (a kill between two renames) is recomputed."""
    first = pipeline.fat_water_maps(manifest, "01")
    pdff = first.paths["pdff"]
    saved = pdff.read_bytes()
    pipeline.fat_water_maps(manifest, "01", force=True)        # a second, complete run
    pdff.write_bytes(saved)                                  # one image of the old run
    assert pipeline.fat_water_maps(manifest, "01").computed
    assert not pipeline.fat_water_maps(manifest, "01").computed


# --------------------------------------------------------------------- command line

def test_command_line(cohort, manifest, capsys):
    path = str(_manifest(cohort))
    assert pipeline.main(["--manifest", path, "--subjects", "01",
                          "--stages", "ingest", "fatwater"]) == 0
    out = capsys.readouterr().out
    assert "sub-01   fatwater" in out and "cached" in out and "total" in out
    assert pipeline.main(["--manifest", path, "--subjects", "99"]) == 2
    assert "no subject '99'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        pipeline.main(["--manifest", path, "--stages", "dixon"])
    with pytest.raises(ValueError, match="unknown stages"):
        pipeline.run_subject(manifest, "01", ["fatwater", "dixon"])
    description = json.loads((manifest.derivatives / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative"


# ------------------------------------------------------- manifest overrides, own masks

def _manifest_with(cohort: Path, name: str, **subject_13) -> object:
    path = _manifest(cohort, f"derivatives/{name}")
    doc = yaml.safe_load(path.read_text())
    doc["subjects"][1].update(subject_13)
    path = path.with_name(f"{name}.yaml")
    path.write_text(yaml.safe_dump(doc))
    return load_manifest(path)


def test_a_series_override_naming_no_series_is_named_and_writes_nothing(cohort):
    m = _manifest_with(cohort, "override", series={"megre": 42})
    with pytest.raises(pipeline.StageInputError) as info:
        pipeline.ensure_ingested(m, "13")
    assert str(m.path) in str(info.value) and "sub-13.series" in str(info.value)
    assert "no series number 42" in str(info.value)
    assert not (Path(m.derivatives) / "sub-13").exists()
    assert not (Path(m.rawdata) / "sub-13").exists()


def test_a_series_override_sets_the_role(cohort):
    m = _manifest_with(cohort, "ignore", series={"ignore": 7})     # the MESE, set aside
    files = pipeline.ensure_ingested(m, "13").paths
    assert any(n.endswith("_MEGRE.nii.gz") for n in files)
    assert not any("MESE" in n for n in files)
    m2 = _manifest_with(cohort, "ignore", series={"mese": 7})      # changed override
    assert pipeline.ensure_ingested(m2, "13").computed
    assert any("MESE" in n for n in pipeline.ensure_ingested(m2, "13").paths)


@needs_weights
def test_a_readers_own_mask_enters_like_the_networks(cohort, tmp_path):
    import nibabel as nib

    m0 = load_manifest(_manifest(cohort, "derivatives/own"))
    pipeline.ensure_ingested(m0, "13")
    truth = load_truth(m0, "13", "megre")               # a mask drawn on the Dixon grid,
    own = np.where(truth["labels"] == label_index("VL", "right"), 5, 0)  # other values
    own = np.where(truth["labels"] == label_index("RF", "left"), 9, own).astype(np.int16)
    nib.save(nib.Nifti1Image(own, truth["affine"]), tmp_path / "vl.nii.gz")
    m = _manifest_with(cohort, "own", masks={"R7": {"path": str(tmp_path / "vl.nii.gz"),
                                                    "labels": {"5": "VL_right"}}})
    lab = pipeline.reader_labels(m, "13", "R7")
    t2w = lab["labels_R7"]
    assert set(np.unique(t2w)) <= {0, label_index("VL", "right")}      # 9 is not mapped
    assert (t2w > 0).sum() > 100
    assert lab.sidecars["labels_R7"]["DrawnOnGrid"] == "megre"
    moved = pipeline.transferred_labels(m, "13", reader="R7")
    assert (moved["labels_R7_mese"] == label_index("VL", "right")).any()
    assert "R7" not in pipeline.saved_readers(m)            # sub-01 has no R7 mask
    assert "R7" in pipeline.saved_readers(m, ["13"])
    # on no series' grid: named, nothing written
    nib.save(nib.Nifti1Image(own[:-1], truth["affine"]), tmp_path / "bad.nii.gz")
    bad = _manifest_with(cohort, "own", masks={"R8": {"path": str(tmp_path / "bad.nii.gz"),
                                                      "labels": {"5": "VL_right"}}})
    with pytest.raises(pipeline.StageInputError, match="masks.R8.*grid of none"):
        pipeline.reader_labels(bad, "13", "R8")
    assert not D.map_exists(bad.derivatives, "13", "labels_R8")
