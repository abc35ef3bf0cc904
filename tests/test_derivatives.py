"""Tests of qmri_kernels.derivatives: BIDS names, atomic deterministic writing, reading."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from qmri_kernels import __version__
from qmri_kernels import derivatives as D
from qmri_kernels.masks import MAP_UNITS
from qmri_kernels.labels import LABELS

REPO = Path(__file__).resolve().parents[1]
AFFINE = np.array([[-1.64, 0, 0, 209.0], [0, -1.64, 0, 230.5], [0, 0, 9.0, -76.5],
                   [0, 0, 0, 1.0]])


def _volume(seed: int = 0, shape=(5, 4, 3)) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 1.0, shape)


# ------------------------------------------------------------------------------- names

def test_design_names_and_units():
    expected = {
        "water_t2": ("anat", "sub-01_desc-water_T2map", "s"),
        "t2": ("anat", "sub-01_desc-monoexp_T2map", "s"),
        "r2star": ("anat", "sub-01_R2starmap", "1/s"),
        "fieldmap": ("anat", "sub-01_desc-dixon_B0map", "Hz"),
        "b1": ("fmap", "sub-01_TB1map", "arbitrary"),
        "pdff": ("anat", "sub-01_desc-dixon_PDFFmap", "1"),
        "epg_fat_fraction": ("anat", "sub-01_desc-epg_FFmap", "1"),
        "labels_auto": ("anat", "sub-01_desc-auto_dseg", "label"),
        "labels_auto_megre": ("anat", "sub-01_space-MEGRE_desc-auto_dseg", "label"),
        "labels_auto_mese": ("anat", "sub-01_space-MESE_desc-auto_dseg", "label"),
    }
    for name, (datatype, stem, unit) in expected.items():
        path = D.map_path("/d", "01", name)
        assert path == Path("/d/sub-01") / datatype / f"{stem}.nii.gz", name
        assert D.MAPS[name].units == unit
    assert D.map_path("/d", "sub-13", "labels_R2_mese").name == \
        "sub-13_space-MESE_desc-R2_dseg.nii.gz"
    assert D.map_spec("labels_R1").grid == "t2w"


def test_table_is_consistent():
    stems = [spec.stem("01") for spec in D.MAPS.values()]
    assert len(set(stems)) == len(stems)               # no two maps share a file
    entity = re.compile(r"^sub-01(_space-[A-Za-z0-9]+)?(_desc-[A-Za-z0-9]+)?_[A-Za-z0-9]+$")
    for spec in D.MAPS.values():
        assert entity.match(spec.stem("01")), spec.stem("01")
        assert spec.grid in ("megre", "mese", "t2w")
        assert spec.datatype in ("anat", "fmap")
        for key, value in spec.entities:
            if key == "desc":
                assert value in D.DESCRIPTIONS, value
    # every custom suffix in use is declared, every declared one is used
    used = {s.suffix for s in D.MAPS.values()}
    bids = {"T2map", "R2starmap", "fieldmap", "TB1map", "S0map", "dseg"}
    assert used - bids == set(D.CUSTOM_SUFFIXES)
    # maps that enter ROI tables carry the library names the masks package knows
    for name in ("pdff", "r2star", "fieldmap", "water_t2", "t2", "epg_fat_fraction", "b1"):
        assert name in MAP_UNITS and name in D.MAPS


def test_bad_names_are_named():
    with pytest.raises(D.DerivativesError, match="unknown map name 'pdf'"):
        D.map_path("/d", "01", "pdf")
    with pytest.raises(D.DerivativesError, match="subject 'sub_01'"):
        D.map_path("/d", "sub_01", "pdff")
    with pytest.raises(D.DerivativesError, match="reader 'R-1'"):
        D.label_spec("R-1")
    with pytest.raises(D.DerivativesError, match="grid"):
        D.label_spec("R1", "t2w")


def test_repository_bidsignore_lists_the_custom_suffixes():
    lines = (REPO / ".bidsignore").read_text().splitlines()
    assert [ln for ln in lines if ln and not ln.startswith("#")] == \
        list(D.BIDSIGNORE_PATTERNS)
    for suffix in D.CUSTOM_SUFFIXES:
        assert f"*_{suffix}.nii.gz" in lines


def test_bids_uri(tmp_path):
    p = tmp_path / "sub-01" / "anat" / "sub-01_T2w.nii.gz"
    assert D.bids_uri(tmp_path, p) == "bids::sub-01/anat/sub-01_T2w.nii.gz"
    assert D.bids_uri(tmp_path / "sub-01", tmp_path / "x.nii.gz") == \
        (tmp_path / "x.nii.gz").resolve().as_posix()
    # a file of the linked raw dataset
    deriv, raw = tmp_path / "derivatives" / "qmri", tmp_path / "rawdata"
    D.write_dataset_files(deriv, raw=raw)
    assert D.bids_uri(deriv, raw / "sub-01" / "anat" / "sub-01_T2w.nii.gz") == \
        "bids:raw:sub-01/anat/sub-01_T2w.nii.gz"


# ----------------------------------------------------------------------- write / read

def test_round_trip_map(tmp_path):
    data = _volume()
    data[0, 0, 0] = np.nan
    path = D.write_map(tmp_path, "sub-01", "water_t2", data, AFFINE,
                       sidecar={"Sources": ["bids::sub-01/anat/sub-01_echo-1_MESE.nii.gz"],
                                "FitSettings": {"FatT2": np.float64(0.133),
                                                "Range": np.array([0.01, 0.25])}})
    assert path == D.map_path(tmp_path, "01", "water_t2") and path.is_file()
    out, affine, sidecar = D.read_map(tmp_path, "01", "water_t2")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, data.astype(np.float32))
    np.testing.assert_allclose(affine, AFFINE, atol=1e-4)
    assert sidecar["Units"] == "s"
    assert sidecar["GeneratedBy"] == [{"Name": "qmri_kernels", "Version": __version__}]
    assert sidecar["FitSettings"] == {"FatT2": 0.133, "Range": [0.01, 0.25]}
    assert sidecar["Sources"][0].startswith("bids::")
    img = nib.load(path)
    assert img.header.get_sform(coded=True)[1] == 1 and img.header.get_qform(coded=True)[1] == 1
    assert D.map_exists(tmp_path, "01", "water_t2")
    assert not D.map_exists(tmp_path, "01", "t2")
    assert D.read_sidecar(tmp_path, "01", "water_t2") == sidecar


def test_round_trip_labels_with_table(tmp_path):
    labels = np.random.default_rng(1).choice([0, 1, 11, 31, 41], size=(6, 5, 4))
    path = D.write_map(tmp_path, "01", "labels_auto_megre", labels, AFFINE)
    out, _, sidecar = D.read_map(tmp_path, "01", "labels_auto_megre")
    assert out.dtype == np.int16
    np.testing.assert_array_equal(out, labels)
    assert sidecar["Units"] == "label"
    assert nib.load(path).header.get_intent()[0] == "label"
    tsv = path.with_name(path.name.replace(".nii.gz", ".tsv")).read_text().splitlines()
    assert tsv[0].split("\t") == ["index", "name", "abbreviation", "color"]
    assert len(tsv) == len(LABELS) + 1


def test_output_is_deterministic(tmp_path):
    data = _volume(3)
    a = D.write_map(tmp_path / "a", "01", "pdff", data, AFFINE).read_bytes()
    b = D.write_map(tmp_path / "b", "01", "pdff", data, AFFINE).read_bytes()
    assert a == b
    assert a[4:8] == b"\x00\x00\x00\x00"              # gzip MTIME field is zero


def test_dataset_files(tmp_path):
    # an existing description is kept, the ingest's old entry (the ingest now writes the
    # raw dataset) dropped and our GeneratedBy added once
    (tmp_path / "dataset_description.json").write_text(json.dumps({
        "Name": "ingest", "BIDSVersion": "1.9.0", "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "qmri_kernels.dicom.ingest", "Version": "0.1.0"},
                        {"Name": "other tool"}]}))
    for _ in range(2):
        D.write_map(tmp_path, "01", "r2star", _volume(), AFFINE)
    desc = json.loads((tmp_path / "dataset_description.json").read_text())
    assert desc["Name"] == "ingest" and desc["DatasetType"] == "derivative"
    assert [g["Name"] for g in desc["GeneratedBy"]] == ["other tool", "qmri_kernels.pipeline"]
    assert "DatasetLinks" not in desc
    assert (tmp_path / ".bidsignore").read_text().splitlines() == list(D.BIDSIGNORE_PATTERNS)
    rows = (tmp_path / "descriptions.tsv").read_text().splitlines()
    assert rows[0] == "desc_id\tdescription" and len(rows) == len(D.DESCRIPTIONS) + 1
    assert all(r.startswith("desc-") for r in rows[1:])       # BIDS: the whole entity
    assert (tmp_path / "README").is_file()
    # linking the raw dataset: a relative link, kept when later calls do not name it
    raw = tmp_path.parent / f"{tmp_path.name}-raw"
    D.write_dataset_files(tmp_path, raw=raw)
    D.write_dataset_files(tmp_path)
    desc = json.loads((tmp_path / "dataset_description.json").read_text())
    assert desc["DatasetLinks"] == {D.RAW_LINK: f"../{raw.name}"}
    assert desc["SourceDatasets"] == [{"URL": "bids:raw:"}]
    assert D.dataset_links(tmp_path) == {"raw": raw.resolve()}


def test_every_desc_label_of_the_map_table_is_described():
    used = {v for spec in D.MAPS.values() for k, v in spec.entities if k == "desc"}
    assert used - set(D.DESCRIPTIONS) == set()


def test_sidecars_say_skull_stripped_masked_nan_and_label_reference(tmp_path):
    fit = {"FitSettings": {"Mask": "body mask"}, "Sources": ["bids:raw:sub-01/anat/x.nii.gz"]}
    D.write_maps(tmp_path, "01", {"t2": (_volume(), AFFINE, fit),
                                  "b1": (_volume(), AFFINE, fit),
                                  "labels_auto": (np.zeros((4, 5, 3), int), AFFINE, fit)})
    t2 = D.read_sidecar(tmp_path, "01", "t2")
    assert t2["SkullStripped"] is False and D.MASK_NOTE in t2["Description"]
    assert "mono-exponential" in t2["Description"].lower() and "fat" in t2["Description"]
    assert D.read_sidecar(tmp_path, "01", "b1")["SkullStripped"] is False   # fmap too
    labels = D.read_sidecar(tmp_path, "01", "labels_auto")
    assert "SkullStripped" not in labels and D.MASK_NOTE not in labels["Description"]
    assert labels["SpatialReference"] == "bids:raw:sub-01/anat/x.nii.gz"
    D.write_map(tmp_path, "02", "t2", _volume(), AFFINE)
    assert D.MASK_NOTE not in D.read_sidecar(tmp_path, "02", "t2")["Description"]


def test_written_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        D.write_maps(tmp_path, "01", {"pdff": (_volume(), AFFINE),
                                      "labels_auto": (np.zeros((4, 5, 3), int), AFFINE)})
        D.write_text_atomic(tmp_path / "x" / "table.csv", "a\n")
        os.umask(0o002)
        D.write_text_atomic(tmp_path / "group.csv", "a\n")
    finally:
        os.umask(old)
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "group.csv"]
    assert len(files) >= 8
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {oct(0o644)}
    assert {oct(p.stat().st_mode & 0o777) for p in tmp_path.rglob("*") if p.is_dir()} == \
        {oct(0o755)}
    assert (tmp_path / "group.csv").stat().st_mode & 0o777 == 0o664


def test_write_maps_is_all_or_nothing(tmp_path):
    good = (_volume(), AFFINE)
    bad = (np.zeros((3, 3)), AFFINE)                  # 2-D: rejected after the first map
    with pytest.raises(D.DerivativesError, match="'r2star'.*3-D"):
        D.write_maps(tmp_path, "01", {"pdff": good, "r2star": bad})
    assert not any(p.is_file() for p in tmp_path.rglob("*"))   # nor temporary files


def test_failed_write_leaves_old_file_intact(tmp_path, monkeypatch):
    old = _volume(5)
    D.write_map(tmp_path, "01", "t2", old, AFFINE)

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(D, "_nifti_bytes", fail)
    with pytest.raises(OSError, match="disk full"):
        D.write_map(tmp_path, "01", "t2", _volume(6), AFFINE)
    np.testing.assert_array_equal(D.read_map(tmp_path, "01", "t2")[0], old.astype(np.float32))
    assert not [p for p in tmp_path.rglob("*.tmp")]


@pytest.mark.parametrize("data, affine, sidecar, match", [
    (np.zeros((3, 3, 3, 2)), AFFINE, None, "3-D"),
    (np.zeros((3, 3, 3)), np.eye(3), None, r"\(4, 4\)"),
    (np.full((3, 3, 3), np.inf), AFFINE, None, "inf"),
    (np.zeros((3, 3, 3), complex), AFFINE, None, "real"),
    (np.zeros((3, 3, 3)), AFFINE, {"Units": "ms"}, "contradicts"),
    (np.zeros((3, 3, 3)), AFFINE, {"Bad": object()}, "JSON"),
])
def test_bad_maps_are_rejected(tmp_path, data, affine, sidecar, match):
    with pytest.raises(D.DerivativesError, match=match):
        D.write_map(tmp_path, "01", "water_t2", data, affine, sidecar=sidecar)


@pytest.mark.parametrize("labels, match", [
    (np.full((3, 3, 3), 0.5), "integers"),
    (np.full((3, 3, 3), -1), "0..32767"),
])
def test_bad_labels_are_rejected(tmp_path, labels, match):
    with pytest.raises(D.DerivativesError, match=match):
        D.write_map(tmp_path, "01", "labels_R1", labels, AFFINE)


def test_reading_a_missing_map_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="sub-01_desc-water_T2map.nii.gz"):
        D.read_map(tmp_path, "01", "water_t2")
