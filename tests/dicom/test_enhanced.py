"""Enhanced MR (multi-frame) files: split into frames, ingested like their single-frame twins."""

from __future__ import annotations

import json
import warnings

import nibabel as nib
import numpy as np
import pydicom
import pytest

from qmri_kernels.dicom import (DicomError, DicomWarning, find_strings, ingest, load_series,
                                plan)
from qmri_kernels.dicom.enhanced import frame_datasets

from ._enhanced import write_enhanced
from ._study import IDENTITY_STRINGS

MEGRE, MEGRE_PHASE, MESE, T2W = 5, 105, 7, 3
#: Sidecar keys that differ between the twins by construction.
_DIFFERENT = {"ImageType", "SeriesNumber", "Provenance"}


@pytest.fixture(scope="module")
def twin(study_template, tmp_path_factory):
    """The single-frame study ingested once: file name → (affine, data, dtype, sidecar)."""
    out = tmp_path_factory.mktemp("twin")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paths = ingest(study_template.dicom, out, "sub-07")
    return _outputs(paths)


def _outputs(paths):
    found = {}
    for path in paths:
        if path.name.endswith(".nii.gz"):
            img = nib.load(path)
            sidecar = json.loads(path.with_name(path.name[:-7] + ".json").read_text())
            found[path.name] = (img.affine, np.asarray(img.dataobj),
                                img.header.get_data_dtype(), img.header.get_slope_inter(),
                                sidecar)
    return found


def _enhanced_study(study, folder, **options):
    write_enhanced(study.series_files(MEGRE) + study.series_files(MEGRE_PHASE),
                   folder / "megre" / "MF0001", **options)
    write_enhanced(study.series_files(MESE), folder / "mese" / "MF0001", **options)
    write_enhanced(study.series_files(T2W), folder / "t2w" / "MF0001", **options)
    return folder


@pytest.mark.parametrize("options", [dict(shared=True, order="shuffled"),
                                     dict(shared=False, order="reversed")],
                         ids=["shared-groups-shuffled", "per-frame-groups-reversed"])
def test_enhanced_series_ingest_like_their_single_frame_twins(study_template, twin, tmp_path,
                                                               options):
    folder = _enhanced_study(study_template, tmp_path / "enhanced", **options)
    assert len(list(folder.rglob("MF0001"))) == 3  # three files, 24 + 24 + 32 + 3 frames
    paths = ingest(folder, tmp_path / "out", "sub-07")
    ours = _outputs(paths)
    assert sorted(ours) == sorted(twin)
    for name, (affine, data, dtype, scale, sidecar) in ours.items():
        t_affine, t_data, t_dtype, t_scale, t_sidecar = twin[name]
        np.testing.assert_allclose(affine, t_affine, atol=1e-9, err_msg=name)
        assert dtype == t_dtype and scale == t_scale, name
        np.testing.assert_array_equal(data, t_data, err_msg=name)
        for key in set(sidecar) | set(t_sidecar):
            if key not in _DIFFERENT:
                assert sidecar.get(key) == t_sidecar.get(key), (name, key)
        assert sidecar["Provenance"]["SourceImages"] == t_sidecar["Provenance"]["SourceImages"]
    assert find_strings(tmp_path / "out", IDENTITY_STRINGS) == []  # de-identified as well


def test_multi_echo_file_with_two_parts_splits_by_echo_and_part(study_template, tmp_path):
    path = write_enhanced(study_template.series_files(MEGRE)
                          + study_template.series_files(MEGRE_PHASE), tmp_path / "in" / "mf")
    planned = plan(tmp_path / "in")
    assert [(p.series.number, p.series.part, p.classification.role) for p in planned] == \
        [(MEGRE, "mag", "megre"), (MEGRE, "phase", "megre")]
    assert all(len(p.series.headers) == 4 * 6 for p in planned)
    assert planned[0].series.headers[0].name.startswith("mf frame ")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ingest(tmp_path / "in", tmp_path / "out", "07")
    megre = load_series(tmp_path / "out", "07", "megre", "complex")
    protocol = study_template.protocols["megre"]
    np.testing.assert_allclose(megre.echo_times, protocol.echo_times, rtol=1e-9)
    np.testing.assert_allclose(megre.affine, study_template.grids["megre"].affine, atol=1e-6)
    truth = study_template.images["megre"]
    inside = np.abs(truth) > 300
    dphi = np.angle(megre.data * np.conj(truth))
    assert np.max(np.abs(dphi[inside])) < 2e-4
    assert pydicom.dcmread(path, stop_before_pixels=True).NumberOfFrames == 48


def test_frame_datasets_prefer_the_frame_and_map_enhanced_names(study_template, tmp_path):
    path = write_enhanced(study_template.series_files(MESE)[:3], tmp_path / "mf")
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    ds.ImagePositionPatient = [0, 0, 0]  # a stale top-level value must lose to the frame's
    frames = frame_datasets(ds)
    assert len(frames) == 3
    assert [float(f.EchoTime) for f in frames] == [7.0, 14.0, 21.0]
    assert frames[1].ScanningSequence == "SE"
    assert frames[2].ComplexImageComponent == "MAGNITUDE"
    src = pydicom.dcmread(study_template.series_files(MESE)[2])
    assert [float(v) for v in frames[2].ImagePositionPatient] == \
        [float(v) for v in src.ImagePositionPatient]
    frames[0].SliceThickness = 99  # frames own their elements
    assert float(frames[1].SliceThickness) == float(src.SliceThickness)


def _broken(study_template, tmp_path, edit):
    path = write_enhanced(study_template.series_files(T2W), tmp_path / "in" / "mf")
    ds = pydicom.dcmread(path)
    edit(ds)
    ds.save_as(path, enforce_file_format=True)
    return tmp_path / "in"


def _fails(folder, out, *fragments):
    with pytest.raises(DicomError) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ingest(folder, out, "sub-07")
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)
    assert not (out / "sub-07").exists()
    assert not out.exists() or not any(out.iterdir())


def test_frame_count_disagreeing_with_the_groups_names_the_file(study_template, tmp_path):
    folder = _broken(study_template, tmp_path, lambda ds: setattr(ds, "NumberOfFrames", 4))
    _fails(folder, tmp_path / "out", "mf: malformed multi-frame functional groups",
           "NumberOfFrames is 4")


def test_frame_without_position_names_the_frame(study_template, tmp_path):
    def drop(ds):
        del ds.PerFrameFunctionalGroupsSequence[1].PlanePositionSequence
    folder = _broken(study_template, tmp_path, drop)
    _fails(folder, tmp_path / "out", "mf frame 2", "no ImagePositionPatient")


def test_two_frames_at_one_slice_are_named(study_template, tmp_path):
    def duplicate(ds):
        groups = ds.PerFrameFunctionalGroupsSequence
        groups[2].PlanePositionSequence[0].ImagePositionPatient = \
            groups[0].PlanePositionSequence[0].ImagePositionPatient
    folder = _broken(study_template, tmp_path, duplicate)
    _fails(folder, tmp_path / "out", "two images of the same slice", "mf frame 1", "mf frame 3")


def test_truncated_multiframe_pixel_data_names_the_file(study_template, tmp_path):
    path = write_enhanced(study_template.series_files(T2W), tmp_path / "in" / "mf")
    path.write_bytes(path.read_bytes()[:-100])
    _fails(tmp_path / "in", tmp_path / "out", "mf", "truncated")


def test_multiframe_without_functional_groups_is_left_alone(study_template, tmp_path):
    """Frames that nothing places in space: reported, never guessed (nor split by index)."""
    sources = [pydicom.dcmread(f) for f in study_template.series_files(T2W)]
    ds = sources[0]
    ds.NumberOfFrames = 3
    ds.PixelData = b"".join(s.PixelData for s in sources)
    (tmp_path / "in").mkdir()
    ds.save_as(tmp_path / "in" / "mf", enforce_file_format=True)
    with pytest.warns(DicomWarning, match="unclassified.*without per-frame functional groups"):
        with pytest.raises(DicomError, match="no series of a known role"):
            ingest(tmp_path / "in", tmp_path / "out", "sub-07")
    with pytest.raises(DicomError, match="mf: 3 frames without per-frame functional groups"):
        ingest(tmp_path / "in", tmp_path / "out", "sub-07", roles={T2W: "t2w"})
    assert not (tmp_path / "out" / "sub-07").exists()
