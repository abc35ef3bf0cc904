"""Tables for the chapter: survey of a DICOM folder, ingested series, header listing."""

from __future__ import annotations

import warnings

import numpy as np

from qmri_kernels.dicom import header_listing, ingest, series_table, survey
from qmri_kernels.dicom.summary import orientation_label

from ._study import IDENTITY_STRINGS


def test_survey_lists_every_series_with_geometry(study_template):
    table = survey(study_template.dicom)
    assert list(table.series_number) == [3, 5, 7, 105]
    row = table.set_index("series_number").loc[7]
    assert (row.role, row.echoes, row.slices, row.orientation) == ("mese", 8, 4, "axial")
    assert (row.thickness_mm, row.spacing_mm, row.gap_mm) == (6.0, 13.0, 7.0)


def test_series_table_from_outputs(study):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ingest(study.dicom, study.out, "sub-07")
    table = series_table(study.out, ["sub-07"])
    assert set(zip(table.role, table.part)) == {("megre", "mag"), ("megre", "phase"),
                                                ("mese", "mag"), ("t2w", "mag")}
    t2w = table.set_index("role").loc["t2w"]
    assert (t2w.slices, t2w.gap_mm, t2w.spacing_mm) == (3, 10.0, 18.0)
    z = study.grids["t2w"].slice_z()
    assert (t2w.z_min_mm, t2w.z_max_mm) == (round(z.min(), 2), round(z.max(), 2))


def test_header_listing_never_shows_identity(study_template):
    table = header_listing(study_template.series_files(5)[0], "sub-07")
    text = table.to_string()
    for needle in IDENTITY_STRINGS:
        assert needle.lower() not in text.lower(), needle
    rows = table.set_index("name")
    assert rows.loc["PatientName", "before"].startswith("(removed")
    assert rows.loc["PatientName", "after"] == "sub-07"
    assert rows.loc["EchoTime", "before"] == rows.loc["EchoTime", "after"] == "1.5"
    assert rows.loc["PatientIdentityRemoved", "after"] == "YES"


def test_orientation_label():
    assert orientation_label(np.array([0, 0, -1.0])) == "axial"
    assert orientation_label(np.array([0, 1.0, 0.1])) == "coronal"
    assert orientation_label(np.array([1.0, 0, 0])) == "sagittal"
    assert orientation_label(np.array([1.0, 0, 1.0])) == "oblique"


def test_find_strings_searches_gzip_and_hides_the_needle(tmp_path):
    import gzip

    from qmri_kernels.dicom import find_strings

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.json").write_text('{"Name": "Quillfeather"}')
    (tmp_path / "y.nii.gz").write_bytes(gzip.compress(b"....QUILLFEATHER...."))
    (tmp_path / "z.txt").write_text("nothing here")
    hits = find_strings(tmp_path, ["", "quillfeather", "absent"])
    assert hits == [("a/x.json", 1), ("y.nii.gz", 1)]
    assert find_strings(tmp_path / "z.txt", ["quillfeather"]) == []
    assert find_strings(tmp_path, ["quillfeather"], pattern="*.json") == [("a/x.json", 0)]
