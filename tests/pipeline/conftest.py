"""Fixtures of the runner tests: a tiny synthetic cohort (2 subjects, 48 × 48 pixels, as in
tests/test_pipeline.py), manifests that put each run's derivatives in their own root, a
serial reference run, and a comparison of two derivative roots voxel by voxel."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml

from qmri_kernels.phantom.synthetic_cohort import generate_cohort

SUBJECTS = [{"id": "01", "dicom_root": "sourcedata/sub-01/dicom", "biopsy_muscle": "RF",
             "biopsy_side": "left"},
            {"id": "13", "dicom_root": "sourcedata/sub-13/dicom", "biopsy_muscle": "VL",
             "biopsy_side": "right"}]


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runner-cohort")
    generate_cohort(root, matrix=(48, 48), patients=[1, 13])
    return root


@pytest.fixture(scope="session")
def write_manifest(tiny_cohort):
    """``write_manifest(name, subjects=None) -> Path``: a manifest of the tiny cohort whose
    derivatives go to ``derivatives/<name>``."""
    def write(name: str, subjects: list[dict] | None = None) -> Path:
        doc = {"version": 1, "synthetic": True, "root": str(tiny_cohort),
               "clinical_table": "sourcedata/clinical.csv",
               "scores": "sourcedata/scores_pathology.csv",
               "score_store": f"derivatives/{name}_scores.sqlite",
               "derivatives": f"derivatives/{name}", "truth": "truth",
               "subjects": SUBJECTS if subjects is None else subjects}
        path = tiny_cohort / f"manifest_{name}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    return write


@pytest.fixture(scope="session")
def serial_reference(write_manifest) -> Path:
    """Derivative root of a serial run (the command line's ``--serial``) of all stages."""
    from qmri_kernels.pipeline import main

    path = write_manifest("serial")
    assert main(["--manifest", str(path), "--serial", "--no-progress"]) == 0
    return path.parent / "derivatives" / "serial"


@pytest.fixture(scope="session")
def assert_same_derivatives():
    """``assert_same_derivatives(a, b)``: every NIfTI under root ``a`` exists under ``b``
    with the same dtype, affine and data, bit for bit (NaN equal to NaN)."""
    def check(a: Path, b: Path) -> int:
        files = sorted(Path(a).rglob("*.nii.gz"))
        assert files, f"no NIfTI under {a}"
        other = {p.relative_to(b) for p in Path(b).rglob("*.nii.gz")}
        assert {p.relative_to(a) for p in files} == other
        for p in files:
            x, y = nib.load(p), nib.load(b / p.relative_to(a))
            dx, dy = np.asarray(x.dataobj), np.asarray(y.dataobj)
            assert dx.dtype == dy.dtype and dx.shape == dy.shape, p.name
            assert np.array_equal(dx, dy, equal_nan=dx.dtype.kind in "fc"), p.name
            np.testing.assert_array_equal(x.affine, y.affine)
        return len(files)

    return check


@pytest.fixture(scope="session")
def broken_manifest(tiny_cohort, write_manifest) -> Path:
    """The tiny cohort plus a subject ``02`` whose DICOM folder holds one corrupt file."""
    folder = tiny_cohort / "sourcedata" / "sub-02" / "dicom"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "IM0001").write_bytes(np.random.default_rng(2).bytes(4096))
    broken = {"id": "02", "dicom_root": "sourcedata/sub-02/dicom", "biopsy_muscle": "RF",
              "biopsy_side": "left"}
    return write_manifest("failing", [SUBJECTS[0], broken, SUBJECTS[1]])
