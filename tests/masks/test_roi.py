import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from qmri_kernels.manifest import SubjectEntry
from qmri_kernels.masks import (ROI_COLUMNS, GridMismatchError, roi_statistics,
                                write_roi_table)

AFF = np.diag([-2.0, -2.0, 6.0, 1.0])

# a 3 x 2 x 2 example: 11 = right RF, 31 = left RF, 4 = intermuscular fat
LABELS = np.array([[[11, 11], [11, 31]],
                   [[31, 31], [0, 31]],
                   [[11, 0], [4, 11]]], dtype=np.int16)
PDFF = np.array([[[0.10, 0.40], [0.20, 0.05]],
                 [[0.05, 0.05], [0.90, 0.09]],
                 [[0.30, 0.80], [0.70, np.nan]]])
T2 = np.full(LABELS.shape, 0.040)


def _table(**kw):
    args = dict(subject="07", reader="R1", biopsy_muscle="RF", biopsy_side="right")
    args.update(kw)
    return roi_statistics((LABELS, AFF), {"pdff": (PDFF, AFF), "water_t2": (T2, AFF)}, **args)


def test_hand_computed_example():
    df = _table()
    assert list(df.columns) == list(ROI_COLUMNS)
    assert len(df) == 2 * 2 * 11          # maps x sides x muscles
    rf_r = df.query("muscle == 'RF' and side == 'right' and map == 'ff_percent'").iloc[0]
    # right RF voxels: 0.10, 0.40, 0.20, 0.30 and a NaN (left out) -> percent
    assert rf_r["n_voxels"] == 4
    assert rf_r["mean"] == pytest.approx(25.0)
    assert rf_r["median"] == pytest.approx(25.0)
    assert rf_r["sd"] == pytest.approx(np.sqrt(500 / 3))
    assert rf_r["label"] == 11 and rf_r["biopsied"] and not rf_r["contralateral"]
    rf_l = df.query("muscle == 'RF' and side == 'left' and map == 'ff_percent'").iloc[0]
    # left RF: 0.05, 0.05, 0.05, 0.09
    assert (rf_l["n_voxels"], rf_l["mean"], rf_l["median"]) == (4, pytest.approx(6.0),
                                                                pytest.approx(5.0))
    assert rf_l["sd"] == pytest.approx(2.0)
    assert rf_l["contralateral"] and not rf_l["biopsied"]
    t2 = df.query("muscle == 'RF' and side == 'right' and map == 'water_t2_ms'").iloc[0]
    assert t2["mean"] == pytest.approx(40.0) and t2["n_voxels"] == 5 and t2["sd"] == 0


def test_absent_muscles_have_rows_with_nan():
    df = _table()
    vl = df.query("muscle == 'VL'")
    assert len(vl) == 4 and (vl.n_voxels == 0).all() and vl["mean"].isna().all()
    assert not vl.biopsied.any() and not vl.contralateral.any()


def test_manifest_entry_supplies_the_biopsy_site(tmp_path):
    entry = SubjectEntry("13", tmp_path, "VL", "right")
    df = roi_statistics((LABELS, AFF), {"pdff": (PDFF, AFF)}, subject=entry, reader="R2")
    assert set(df.subject) == {"13"} and set(df.reader) == {"R2"}
    flagged = df[df.biopsied]
    assert list(zip(flagged.muscle, flagged.side)) == [("VL", "right")]
    assert list(df[df.contralateral].side) == ["left"]


def test_nifti_images_and_csv_round_trip(tmp_path):
    lab = nib.Nifti1Image(LABELS, AFF)
    ff = nib.Nifti1Image(PDFF.astype(np.float32), AFF)
    df = roi_statistics(lab, {"pdff": ff}, subject="01", reader="network")
    path = write_roi_table(df, tmp_path / "roi" / "stats.csv")
    back = pd.read_csv(path, dtype={"subject": str})
    assert back.shape == df.shape
    assert back.query("label == 11")["mean"].iloc[0] == pytest.approx(25.0, rel=1e-5)
    with pytest.raises(ValueError, match="missing ROI columns"):
        write_roi_table(df.drop(columns="sd"), tmp_path / "x.csv")


def test_wrong_shape_names_both_grids():
    small = (PDFF[:, :, :1], AFF)
    with pytest.raises(GridMismatchError, match=r"labels has shape \(3, 2, 2\) but map 'pdff' "
                                                 r"has shape \(3, 2, 1\)"):
        roi_statistics((LABELS, AFF), {"pdff": small}, subject="01", reader="R1")


def test_wrong_affine_names_both_affines():
    shifted = AFF.copy()
    shifted[2, 3] = 4.5   # same shape, slices 4.5 mm apart: the other series
    with pytest.raises(GridMismatchError, match=r"different affines: labels .*6, 0\]\] vs "
                                                 r"map 'pdff' .*4\.5"):
        roi_statistics((LABELS, AFF), {"pdff": (PDFF, shifted)}, subject="01", reader="R1")


def test_other_bad_input():
    with pytest.raises(TypeError, match="affine"):
        roi_statistics((LABELS, AFF), {"pdff": PDFF}, subject="01", reader="R1")
    with pytest.raises(ValueError, match="map 'adc' has no unit"):
        roi_statistics((LABELS, AFF), {"adc": (PDFF, AFF)}, subject="01", reader="R1")
    with pytest.raises(ValueError, match="unknown side 'up'"):
        _table(biopsy_side="up")
    with pytest.raises(ValueError, match="both biopsy_muscle and biopsy_side"):
        _table(biopsy_side=None)
    with pytest.raises(ValueError, match="integer label"):
        roi_statistics((LABELS + 0.5, AFF), {"pdff": (PDFF, AFF)}, subject="01", reader="R1")


def test_custom_units():
    df = roi_statistics((LABELS, AFF), {"adc": (T2, AFF)}, subject="01", reader="R1",
                        units={"adc": ("adc_um2_per_ms", 1e9)}, muscles=["RF"])
    assert set(df["map"]) == {"adc_um2_per_ms"} and len(df) == 2
    assert df["mean"].iloc[0] == pytest.approx(4e7)
