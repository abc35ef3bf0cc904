"""A subject exported with the scanner's maps but no raw echoes gets its fat fraction from
the scanner's FF map, and the result says so."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
import yaml

from qmri_kernels import derivatives as D
from qmri_kernels.dicom import DicomWarning
from qmri_kernels.manifest import load_manifest
from qmri_kernels.phantom.protocol import PROTOCOL


@pytest.fixture(scope="module")
def scanner_only(tiny_cohort, tmp_path_factory):
    """Subject ``31``: sub-13's DICOM without the IDEAL-IQ echoes (magnitude and phase)."""
    src = tiny_cohort / "sourcedata" / "sub-13" / "dicom"
    dst = tmp_path_factory.mktemp("scanner-only") / "dicom"
    echoes = {f"SE{PROTOCOL['megre'].series_number + off:04d}" for off in (0, 100)}
    shutil.copytree(src, dst, ignore=lambda d, names: [n for n in names if n in echoes])
    return _one_subject_manifest(tiny_cohort, "scanner_only", "31", dst), dst


def _one_subject_manifest(cohort, name: str, sid: str, dicom):
    """A manifest of the tiny cohort holding one subject ``sid`` read from ``dicom``,
    with derivatives and raw dataset of its own (``name``)."""
    doc = {"version": 1, "synthetic": True, "root": str(cohort),
           "clinical_table": "sourcedata/clinical.csv",
           "scores": "sourcedata/scores_pathology.csv",
           "score_store": f"derivatives/{name}_scores.sqlite",
           "derivatives": f"derivatives/{name}", "rawdata": f"rawdata_{name}",
           "truth": "truth",
           "subjects": [{"id": sid, "dicom_root": str(dicom), "biopsy_muscle": "VL",
                         "biopsy_side": "right"}]}
    path = cohort / f"manifest_{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_manifest(path)


def test_without_echoes_the_fat_fraction_is_the_scanners(scanner_only):
    from qmri_kernels.pipeline import fat_water_maps

    manifest, dicom = scanner_only
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DicomWarning)
        fw = fat_water_maps(manifest, "31")
    scanner, affine, side = D.read_map(manifest.derivatives, "31", "scanner_pdff")
    np.testing.assert_array_equal(fw["pdff"], scanner)
    np.testing.assert_array_equal(fw.affine("pdff"), affine)
    assert fw.paths["pdff"].name == "sub-31_desc-scanner_PDFFmap.nii.gz"
    assert "fieldmap" not in fw.maps and {"water", "fat", "r2star"} <= set(fw.maps)
    assert "scanner" in fw.note and "not this book's fit" in fw.note
    assert fw.sidecars["pdff"]["FatFractionSource"].startswith("scanner")
    assert not D.map_exists(manifest.derivatives, "31", "pdff")     # nothing was fitted
    # the scanner's values: GE percent x 10 from the DICOM, as fractions
    import pydicom
    ff_dir = next(dicom.rglob(f"SE{100 * PROTOCOL['megre'].series_number + 3:04d}"))
    ds = pydicom.dcmread(sorted(ff_dir.iterdir())[0])
    first_slice = ds.pixel_array.T / 1000.0
    np.testing.assert_allclose(fw["pdff"][..., 0], first_slice, atol=1e-6)
    assert 0.0 <= np.nanmin(fw["pdff"]) and np.nanmax(fw["pdff"]) <= 1.0


def test_scanner_and_fit_compared_muscle_by_muscle_without_truth(write_manifest):
    """Both the echoes and the scanner's FF: the per-muscle comparison needs no truth and
    finds the two reconstructions close but not identical."""
    from qmri_kernels.pipeline.scanner_ff import scanner_ff_agreement, scanner_ff_table
    subject = {"id": "13", "dicom_root": "sourcedata/sub-13/dicom", "biopsy_muscle": "VL",
               "biopsy_side": "right"}
    manifest = load_manifest(write_manifest("scanner_cmp", [subject]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DicomWarning)
        table = scanner_ff_table(manifest)
    assert set(table["subject"]) == {"13"} and len(table) >= 10
    assert table["biopsied"].sum() == 1
    np.testing.assert_allclose(table["difference_pp"],
                               table["scanner_ff_percent"] - table["fit_ff_percent"])
    summary = scanner_ff_agreement(table)
    assert summary.loc["all muscles", "n"] == len(table)
    assert abs(summary.loc["all muscles", "bias_pp"]) < 2.0
    assert 0 < summary.loc["all muscles", "sd_pp"] < 3.0


def test_a_subject_with_only_the_scanners_maps_is_ingested_once(tiny_cohort, tmp_path):
    """An export of the scanner's maps alone writes no images to the raw dataset; the next
    call finds the ingest up to date all the same."""
    from qmri_kernels.pipeline import ensure_ingested

    src = tiny_cohort / "sourcedata" / "sub-13" / "dicom"
    dst = tmp_path / "dicom"
    maps = {f"SE{100 * PROTOCOL['megre'].series_number + k:04d}" for k in range(1, 5)}
    shutil.copytree(src, dst, ignore=lambda d, names: [
        n for n in names if n.startswith("SE") and n not in maps])
    assert any(p.is_file() for p in dst.rglob("*"))
    manifest = _one_subject_manifest(tiny_cohort, "maps_only", "32", dst)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DicomWarning)
        first = ensure_ingested(manifest, "32")
        second = ensure_ingested(manifest, "32")
    assert first.computed and not second.computed
    assert first.paths == {} and second.paths == {}
    assert D.map_exists(manifest.derivatives, "32", "scanner_pdff")


def test_the_sentence_says_which_way_and_whether_it_grows():
    import pandas as pd

    from qmri_kernels.pipeline.scanner_ff import scanner_ff_sentence

    fit = np.array([2.0, 4.0, 6.0, 8.0, 10.0, 12.0])
    lower = pd.DataFrame({"difference_pp": -0.1 * fit, "fit_ff_percent": fit})
    text = scanner_ff_sentence(lower)
    assert "reads lower" in text and "0.7 percentage points" in text
    assert "in 6 of 6 muscle ROIs" in text and "grows with fat fraction" in text
    flat = pd.DataFrame({"difference_pp": [0.5, -0.2, 0.4, 0.1, -0.3, 0.6],
                         "fit_ff_percent": fit})
    assert "with fat fraction" not in scanner_ff_sentence(flat)
    empty = pd.DataFrame({"difference_pp": [np.nan], "fit_ff_percent": [3.0]})
    assert scanner_ff_sentence(empty).startswith("No muscle ROI")
