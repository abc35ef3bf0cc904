"""The edges: load_megre (ingest-if-needed + complex echoes), noise estimate, evaluate_fit."""

import dataclasses

import numpy as np
import pytest

from qmri_kernels.fatwater import FatWaterModel, background_noise_sigma, load_megre
from qmri_kernels.manifest import Manifest, SubjectEntry
from qmri_kernels.phantom.dicom_writer import Identity, write_study
from qmri_kernels.grids import axial_grid
from qmri_kernels.phantom.protocol import PROTOCOL
from qmri_kernels.validation.fatwater import evaluate_fit

from ._volumes import legs_volume

IDENTITY = Identity(
    patient_name="Fatwater^Testcase", patient_id="FW000001", birth_date="19700101", sex="M",
    age_years=55, accession_number="FWACC0001", institution_name="Nowhere Test Hospital",
    referring_physician="Nobody^Noone", operator="Someone^Else", study_date="20240101",
    study_time="120000")


def test_load_megre_ingests_once_then_reads(tmp_path):
    protocol = dataclasses.replace(PROTOCOL["megre"], n_slices=2)
    grid = axial_grid(matrix=(48, 48), fov_mm=420.0, slice_thickness=6.0, gap=3.0, n_slices=2)
    vol = legs_volume((48, 48, 2), snr=200.0, rng=3)
    images = 1000.0 * vol["signal"]
    write_study(tmp_path / "dicom", IDENTITY, [(protocol, grid, images)], uid_seed="fw-io")
    manifest = Manifest(
        path=tmp_path / "data_manifest.yaml", root=tmp_path,
        subjects=(SubjectEntry("01", tmp_path / "dicom", "RF", "left"),),
        clinical_table=tmp_path / "clinical.csv", scores=None,
        score_store=tmp_path / "scores.sqlite", derivatives=tmp_path / "derivatives",
        truth=None, synthetic=True)
    first = load_megre(manifest, "01")
    assert (tmp_path / "rawdata" / "sub-01" / "anat").is_dir()    # the raw BIDS dataset
    assert first.signal.dtype == np.complex64 and first.signal.shape == (48, 48, 2, 6)
    np.testing.assert_allclose(first.echo_times, protocol.echo_times)
    np.testing.assert_allclose(first.affine, grid.affine, atol=1e-4)
    assert first.field_strength == pytest.approx(3.0)
    # DICOM stores integers: agreement to the quantisation step
    body = vol["body"]
    np.testing.assert_allclose(first.signal[body], images[body], atol=2.0, rtol=2e-3)
    second = load_megre(manifest, "sub-01")                  # read back, no new ingest
    np.testing.assert_array_equal(second.signal, first.signal)
    fit = FatWaterModel(first.echo_times).fit(first.signal, body)
    assert np.nanmedian(np.abs(fit.pdff - vol["pdff"])[vol["labels"] == 4]) < 0.01
    with pytest.raises(KeyError, match="no subject"):
        load_megre(manifest, "02")


def test_background_noise_sigma():
    rng = np.random.default_rng(0)
    s = np.zeros((30, 30, 6), complex)
    s[10:20, 10:20] = 500.0
    s = s + 7.0 * (rng.standard_normal(s.shape) + 1j * rng.standard_normal(s.shape))
    bg = np.ones((30, 30), bool)
    bg[8:22, 8:22] = False
    assert background_noise_sigma(s, bg) == pytest.approx(7.0, rel=0.05)
    with pytest.raises(TypeError, match="signal must be complex"):
        background_noise_sigma(np.abs(s), bg)
    with pytest.raises(ValueError, match="background shape"):
        background_noise_sigma(s, bg[:-1])
    with pytest.raises(ValueError, match="need at least 100"):
        background_noise_sigma(s, np.zeros((30, 30), bool))


def test_evaluate_fit_on_an_analytic_case():
    labels = np.array([0, 1, 2, 11, 11, 11, 31, 31])
    truth = np.array([0.0, 0.9, 0.2, 0.05, 0.10, 0.20, 0.02, 0.04])
    fitted = truth + np.array([0.0, -0.5, 0.6, 0.01, -0.02, 0.03, 0.0, 0.01])
    r2 = np.full(8, 40.0)
    out = evaluate_fit(fitted, r2 + 2.0, truth, r2, labels)
    assert out["n_body"] == 7 and out["n_muscle"] == 5
    assert out["muscle_median_abs_error_pp"] == pytest.approx(1.0)
    assert out["muscle_bias_pp"] == pytest.approx(0.6)
    # two swaps in the body (fat and cortex), one of them cortex
    assert out["swaps_percent_of_body"] == pytest.approx(100 * 2 / 7)
    assert out["swaps_excluding_cortex_percent_of_body"] == pytest.approx(100 / 7)
    assert out["muscle_r2star_median_abs_error_per_s"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="must have one shape"):
        evaluate_fit(fitted[:-1], r2, truth, r2, labels)
    with pytest.raises(ValueError, match="no muscle"):
        evaluate_fit(fitted, r2, truth, r2, np.minimum(labels, 4))
