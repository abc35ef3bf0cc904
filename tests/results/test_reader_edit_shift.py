"""How far the readers' corrections moved each subject's value from the network's."""

from __future__ import annotations

import pandas as pd
import pytest

from qmri_kernels.results.readers import edit_shift


def _roi(values):
    """A minimal tidy ROI table: (subject, reader) -> (ff %, water T2 ms) of the biopsy."""
    rows = []
    for (subject, reader), (ff, t2) in values.items():
        for m, v in (("ff_percent", ff), ("water_t2_ms", t2), ("r2star_hz", 40.0)):
            rows.append({"subject": subject, "reader": reader, "map": m, "mean": v,
                         "biopsied": True, "contralateral": False})
            rows.append({"subject": subject, "reader": reader, "map": m, "mean": v + 100,
                         "biopsied": False, "contralateral": True})
    return pd.DataFrame(rows)


def test_edit_shift_is_reader_minus_network_per_subject():
    roi = _roi({("01", "auto"): (5.0, 40.0), ("01", "R1"): (4.5, 41.0),
                ("01", "R2"): (6.0, 39.0), ("02", "auto"): (10.0, 60.0),
                ("02", "R1"): (10.0, 58.5), ("02", "R2"): (11.0, 60.0)})
    shift = edit_shift(roi)
    assert list(shift.columns) == [("ff_percent", "R1"), ("ff_percent", "R2"),
                                   ("water_t2_ms", "R1"), ("water_t2_ms", "R2")]
    assert shift.loc["01"].tolist() == pytest.approx([-0.5, 1.0, 1.0, -1.0])
    assert shift.loc["02"].tolist() == pytest.approx([0.0, 1.0, -1.5, 0.0])
    contra = edit_shift(roi, ["R1"], where="contralateral")
    assert contra.loc["01"].tolist() == pytest.approx([-0.5, 1.0])


def test_edit_shift_needs_the_network_and_each_reader():
    roi = _roi({("01", "auto"): (5.0, 40.0), ("01", "R1"): (4.5, 41.0)})
    with pytest.raises(ValueError, match="R2"):
        edit_shift(roi)
