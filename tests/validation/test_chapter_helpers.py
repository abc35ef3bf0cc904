"""Helpers the chapters call (qmri_kernels.validation.chapters, .fatwater_pipeline,
.t2_pipeline): they work with and without ground truth."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from qmri_kernels.fatwater import pdff_crlb
from qmri_kernels.validation import TruthUnavailable
from qmri_kernels.validation import chapters
from qmri_kernels.validation import fatwater_pipeline as fwp
from qmri_kernels.validation import t2_pipeline as t2p


def _manifest(truth: Path | None, n: int = 2):
    subjects = tuple(SimpleNamespace(id=f"{i:02d}") for i in range(1, n + 1))
    return SimpleNamespace(truth=truth, subjects=subjects, path="m.yaml")


def _text(note) -> str:
    return getattr(note, "data", note)


def test_cohort_note_says_which_cohort(tmp_path):
    with_truth = _manifest(tmp_path)
    without = _manifest(None)
    assert "synthetic cohort (2 subjects)" in _text(chapters.cohort_note(with_truth))
    assert "no ground truth" in _text(chapters.cohort_note(without))
    assert "not the simulated one" in _text(chapters.cohort_note(without, simulator=True))
    assert "not the simulated" not in _text(chapters.cohort_note(with_truth, simulator=True))


def test_score_tuning_needs_truth_and_dashes_what_is_missing(tmp_path):
    with pytest.raises(TruthUnavailable):
        chapters.score_tuning_table(_manifest(None))
    pd.DataFrame({"score": ["fat", "cd4"], "reader_noise_sd": [0.2, 0.4],
                  "kappa_target": [0.9, 0.6], "kappa_simulated": [0.91, 0.62],
                  "mean_simulated": [1.8, 1.3], "mean_target": [1.7, np.nan]}
                 ).to_csv(tmp_path / "score_tuning.csv", index=False)
    table = chapters.score_tuning_table(_manifest(tmp_path))
    assert table.loc["cd4", "mean reported by the paper"] == chapters.DASH
    assert table.loc["fat", "mean reported by the paper"] == 1.7


def test_header_excerpt_falls_back_to_the_first_dicom_file(tmp_path):
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    fields = dict(Manufacturer="GE", ManufacturerModelName="X", MagneticFieldStrength=3.0,
                  SeriesDescription="Other name", ImageType=["ORIGINAL", "PRIMARY"],
                  ScanningSequence="GR", EchoTime=1.5, EchoNumbers=1, RepetitionTime=11.2,
                  FlipAngle=3.0, SliceThickness=6.0, SpacingBetweenSlices=9.0,
                  ImagePositionPatient=[0.0, 0.0, 0.0],
                  ImageOrientationPatient=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
                  PixelSpacing=[1.6, 1.6], Rows=8, Columns=8, RescaleSlope=1.0,
                  RescaleIntercept=0.0, PatientName="Doe^Jane", PatientID="X1",
                  PatientBirthDate="19700101", AccessionNumber="1", InstitutionName="H",
                  ReferringPhysicianName="Dr", StudyDate="20200101")
    for keyword, value in fields.items():
        setattr(ds, keyword, value)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "notes.txt").write_text("not DICOM")
    ds.save_as(tmp_path / "a" / "img.dcm", enforce_file_format=True)
    table = chapters.header_excerpt(tmp_path, "Ax IDEAL-IQ")
    assert table.loc["EchoTime", "value"] == "1.5"
    assert table.loc["PatientName", "value"] == "(present; withheld)"
    with pytest.raises(FileNotFoundError):
        chapters.header_excerpt(tmp_path / "none", "Ax IDEAL-IQ")


def test_noise_floor_from_magnitudes_matches_the_complex_bound():
    te = 1.5e-3 * np.arange(1, 7)
    rng = np.random.default_rng(3)
    w, f = rng.uniform(200, 900, (4, 3, 2)), rng.uniform(10, 300, (4, 3, 2))
    r2, psi = rng.uniform(20, 60, w.shape), rng.uniform(-150, 150, w.shape)
    phase = np.exp(1j * rng.uniform(-np.pi, np.pi, w.shape))   # common phase of W and F
    mask = np.ones(w.shape, bool)
    mask[0, 0, 0] = False
    floor = fwp.pdff_noise_floor(w, f, r2, psi, te, 10.0, mask, field_strength=3.0)
    expected = pdff_crlb(w * phase, f * phase, r2, psi, te, 10.0)[mask]
    np.testing.assert_allclose(floor.crlb, expected, rtol=1e-9)
    assert floor.z is None and floor.summary["voxels"] == mask.sum()
    pdff = f / (w + f)
    with_truth = fwp.pdff_noise_floor(w, f, r2, psi, te, 10.0, mask, field_strength=3.0,
                                      pdff=pdff + 0.01, true_pdff=pdff)
    np.testing.assert_allclose(with_truth.z, 0.01 / expected)
    with pytest.raises(ValueError, match="one shape"):
        fwp.pdff_noise_floor(w, f, r2, psi[..., :1], te, 10.0, mask, field_strength=3.0)


def test_swap_reference_is_the_truth_or_the_pipeline():
    pipeline_pdff = np.array([0.1, np.nan, 0.9])
    ref, counted, name = fwp.swap_reference(pipeline_pdff)
    assert counted.tolist() == [True, False, True] and "pipeline" in name
    truth = {"labels": np.array([11, 2, 1]), "pdff": np.array([0.1, 0.5, 0.95])}
    ref, counted, name = fwp.swap_reference(pipeline_pdff, truth)
    assert counted.tolist() == [True, False, True]      # label 2 is the femoral cortex
    np.testing.assert_array_equal(ref, truth["pdff"])


def test_spectral_mismatch_biases_only_the_nine_peak_data():
    te = 1.5e-3 * np.arange(1, 7)
    shape = (12, 12, 1)
    labels = np.full(shape, 11, np.int16)
    labels[:3] = 1
    truth = {"labels": labels, "pd": np.ones(shape), "r2star": np.full(shape, 35.0),
             "b0": np.full(shape, 40.0),
             "pdff": np.where(labels == 1, 0.9, 0.08)}
    table = fwp.spectral_mismatch(truth, te, labels > 0, field_strength=3.0, sigma=1.0)
    assert abs(table.loc["muscle_bias_pp", "six-peak data"]) < 0.3
    assert abs(table.loc["muscle_bias_pp", "nine-peak data"]) > 0.5


def test_t2_summaries_of_plain_arrays():
    shape = (8, 8, 3)
    t2 = np.full(shape, 0.035)
    t2[2:4, 2:6] = 0.070
    b1 = np.linspace(0.7, 1.1, t2.size).reshape(shape)
    share = np.zeros(shape)
    share[4, 4, 1] = 0.2
    mask = np.ones(shape, bool)
    table = t2p.water_t2_table({"a": t2, "b": np.where(mask, np.nan, t2)}, mask)
    assert table.loc["a", "median_ms"] == pytest.approx(35.0)
    assert table.loc["a", "voxels"] == t2.size
    assert table.loc["b", "voxels"] == 0
    voxels = t2p.pick_voxels(t2, b1, share, mask)
    assert t2[voxels["long water T2"]] == 0.070
    assert voxels["fatty"] == (4, 4, 1)
    inner_b1 = b1[1:-1, 1:-1]
    assert b1[voxels["low B1"]] <= np.percentile(inner_b1, 10)
    assert all(0 < v[0] < 7 and 0 < v[1] < 7 for v in voxels.values())     # no edge voxel
    assert t2p.pick_voxels(t2, b1, share, np.zeros(shape, bool)) == {}
    truth = {"labels": np.full(shape, 11), "water_t2": t2}
    errors = t2p.errors_against_truth({"exact": t2, "long": t2 + 0.002}, truth)
    assert errors.loc["exact", "median_abs_err_ms"] == 0
    assert errors.loc["long", "bias_ms"] == pytest.approx(2.0)


def test_fat_voxels_drop_edges():
    pdff = np.zeros((7, 7, 1))
    pdff[1:6, 1:6] = 0.95
    fat = t2p.fat_voxels(pdff, np.ones(pdff.shape, bool))
    assert fat.sum() == 9 and fat[3, 3, 0]
