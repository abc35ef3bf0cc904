import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest

from qmri_kernels.paper import REPORTED
from qmri_kernels.phantom.synthetic_cohort import CLINICAL, SCORES, cohort_targets, generate_cohort, identities, simulate_scores
from qmri_kernels.phantom.truth import load_truth
from qmri_kernels.stats import weighted_kappa

SMALL = (48, 48)


@pytest.fixture(scope="module")
def small_cohort(tmp_path_factory):
    return generate_cohort(tmp_path_factory.mktemp("a") / "synthetic", matrix=SMALL, patients=[1, 13])


def test_targets_reproduce_the_papers_moments_and_named_patients():
    t = cohort_targets()
    for col in ("ff_biopsy_percent", "t2_biopsy_ms", "t2_contra_ms"):
        mean, sd = REPORTED[col][:2]
        assert t[col].mean() == pytest.approx(mean, abs=1e-9)
        assert t[col].std(ddof=1) == pytest.approx(sd, abs=1e-9)
    assert t["ff_contra_percent"].mean() == pytest.approx(7.5, abs=0.2)
    assert t["ff_biopsy_percent"].max() == pytest.approx(26.2)
    assert t["ff_biopsy_percent"].min() > 0.5
    by = t.set_index("patient")
    assert by.loc[13, "t2_biopsy_ms"] == 69.7 and by.loc[9, "t2_biopsy_ms"] == 34.1


def test_scores_are_likert_and_agreement_near_targets():
    scores, tuning = simulate_scores(cohort_targets())
    assert set(scores["value"].unique()) <= {0, 1, 2, 3, 4}
    assert len(scores) == 13 * 2 * len(SCORES)
    wide = scores.pivot_table(index=["score", "patient"], columns="reader", values="value")
    for name, row in tuning.set_index("score").iterrows():
        k = weighted_kappa(wide.loc[name, "R3"], wide.loc[name, "R4"],
                           categories=range(5)).value
        assert k == pytest.approx(row["kappa_simulated"])
        assert abs(k - row["kappa_target"]) < 0.12, name
    # the scores the paper gives a mean for land near it
    for name in ("fat", "myofiber_size_variation", "inflammatory_cells", "connective_tissue"):
        mean = wide.loc[name].mean(axis=1).mean()
        assert abs(mean - REPORTED[f"score_{name}"][0]) < 0.3, name



def test_layout_and_tables(small_cohort):
    root = Path(small_cohort)
    assert (root / ".complete").exists()
    clinical = pd.read_csv(root / "sourcedata" / "clinical.csv")
    assert list(clinical["participant_id"]) == ["sub-01", "sub-13"]
    assert (root / "truth" / "dseg.tsv").read_text().startswith("index\tname\tabbreviation\tcolor")
    truth = load_truth(root / "truth", "13", "mese")
    assert truth["labels"].shape == SMALL + (12,)
    assert {"pdff", "water_t2", "b0", "b1", "fat_share"} <= set(truth)


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_regenerating_writes_byte_identical_files(small_cohort, tmp_path):
    again = generate_cohort(tmp_path / "synthetic", matrix=SMALL, patients=[1, 13])
    assert _digest(Path(small_cohort)) == _digest(again)


def test_a_cohort_made_by_other_code_is_made_again(tmp_path, capsys):
    out = generate_cohort(tmp_path / "synthetic", matrix=SMALL, patients=[1])
    marker = (out / ".complete").read_text()
    stray = out / "derivatives" / "stale.txt"          # a result computed from the old images
    stray.parent.mkdir()
    stray.write_text("stale")
    generate_cohort(out, matrix=SMALL, patients=[1])    # same code and settings: kept
    assert stray.exists()
    (out / ".complete").write_text(marker.replace("generator ", "generator 0"))
    generate_cohort(out, matrix=SMALL, patients=[1])
    assert "generating it again" in capsys.readouterr().out
    assert not stray.exists() and (out / ".complete").read_text() == marker


def _affine_from_headers(files: list[Path]) -> tuple[np.ndarray, list]:
    """Voxel (col, row, slice) → RAS affine from DICOM headers, independent of the writer."""
    headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    headers = [h for h in headers if int(h.get("EchoNumbers", 1)) == 1]
    iop = np.array(headers[0].ImageOrientationPatient, dtype=float)
    row_dir, col_dir = iop[:3], iop[3:]
    normal = np.cross(row_dir, col_dir)
    headers.sort(key=lambda h: float(np.dot(normal, np.array(h.ImagePositionPatient, dtype=float))))
    ipp = np.array([h.ImagePositionPatient for h in headers], dtype=float)
    dr, dc = (float(v) for v in headers[0].PixelSpacing)   # row spacing, column spacing
    step = (ipp[-1] - ipp[0]) / (len(ipp) - 1)
    lps = np.eye(4)
    lps[:3, 0] = row_dir * dc          # along a row: column index
    lps[:3, 1] = col_dir * dr          # down a column: row index
    lps[:3, 2] = step
    lps[:3, 3] = ipp[0]
    return np.diag([-1, -1, 1, 1]) @ lps, headers


def test_dicom_geometry_puts_the_femur_at_the_same_world_position(small_cohort):
    root = Path(small_cohort)
    centres = {}
    for role, desc in (("megre", "Ax IDEAL-IQ"), ("mese", "Ax T2 Map FS"), ("t2w", "Ax T2 FSE IDEAL")):
        files = [p for p in (root / "sourcedata" / "sub-13" / "dicom").rglob("*") if p.is_file()]
        files = [f for f in files if pydicom.dcmread(f, stop_before_pixels=True).SeriesDescription == desc]
        files = [f for f in files if "PHASE" not in pydicom.dcmread(f, stop_before_pixels=True).ImageType]
        affine, headers = _affine_from_headers(files)
        truth = load_truth(root / "truth", "13", role)
        assert np.allclose(affine, truth["affine"], atol=1e-3), role
        lab = truth["labels"]
        ijk = np.argwhere(np.isin(lab, [2, 3]))
        world = ijk @ affine[:3, :3].T + affine[:3, 3]
        right = world[:, 0] > 0
        centres[role] = world[right, :2].mean(axis=0)
    ref = centres["megre"]
    for role, c in centres.items():
        assert np.linalg.norm(c - ref) < 1.5, (role, c, ref)


def test_identities_are_made_up_and_complete():
    ids = identities()
    assert len(ids) == len(CLINICAL)
    assert len({i.patient_id for i in ids.values()}) == len(ids)
    assert all(i.sex == s for i, s in zip(ids.values(), CLINICAL["sex"]))


def test_the_scanner_exports_its_ideal_iq_maps_ge_style(small_cohort):
    """Beside the raw echoes, each subject has the four derived IDEAL-IQ series of a GE
    MR750w (water, fat, FF as percent x 10, R2* in 1/s), close to but not equal to the truth."""
    from qmri_kernels.phantom.protocol import IDEAL_IQ_MAPS, PROTOCOL

    study = next((small_cohort / "sourcedata" / "sub-13" / "dicom").iterdir())
    found = {}
    for d in IDEAL_IQ_MAPS:
        number = 100 * PROTOCOL["megre"].series_number + d.series_offset
        files = sorted((study / f"SE{number:04d}").iterdir())
        assert len(files) == PROTOCOL["megre"].n_slices
        ds = pydicom.dcmread(files[len(files) // 2])
        assert ds.Manufacturer == "GE MEDICAL SYSTEMS"
        assert ds.ManufacturerModelName.upper() == "DISCOVERY MR750W"
        assert list(ds.ImageType)[:2] == ["DERIVED", "PRIMARY"]
        assert ds.SeriesDescription == d.series_description
        assert (float(ds.RescaleSlope), float(ds.RescaleIntercept)) == (1.0, 0.0)
        found[d.kind] = ds.pixel_array
    assert found["pdff"].max() <= 1000 and found["pdff"].dtype == np.uint16
    truth = load_truth(small_cohort / "truth", "sub-13", "megre")
    k = PROTOCOL["megre"].n_slices // 2
    ff = found["pdff"].T / 1000.0                       # rows x cols -> x, y
    from qmri_kernels.labels import muscle_labels
    muscle = np.isin(truth["labels"][..., k], [lab.index for lab in muscle_labels()])
    err = ff[muscle] - truth["pdff"][..., k][muscle]
    assert abs(err.mean()) < 0.02 and 0 < err.std() < 0.05   # its own noise and bias


def test_two_writers_at_once_leave_one_complete_cohort(tmp_path):
    """Two processes generating the same folder together: one writes, the other waits and
    keeps it; nothing is left half deleted or half written."""
    import subprocess
    import sys

    out = tmp_path / "synthetic"
    code = ("import sys; from qmri_kernels.phantom.synthetic_cohort import generate_cohort; "
            f"generate_cohort(sys.argv[1], matrix={SMALL!r}, patients=[1])")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [r[1][-2000:] for r in results]
    # one process simulated the subject, the other found the cohort complete
    assert sum("sub-01:" in r[0] for r in results) == 1, [r[0] for r in results]
    assert (out / ".complete").exists()
    assert (out / "sourcedata" / "sub-01" / "dicom").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic", "synthetic.lock"]
