"""Finding DICOM by content: any names, any nesting, no preamble, DICOMDIR, junk."""

from __future__ import annotations

import pydicom
import pytest

from qmri_kernels.dicom import DicomError, DicomWarning, discover, read_header
from qmri_kernels.dicom.discover import sniff


def test_sniff_kinds(study, tmp_path):
    dicom = study.series_files(3)[0]
    assert sniff(dicom) == "dicom"
    raw = tmp_path / "no-preamble.bin"
    raw.write_bytes(dicom.read_bytes()[132:])  # file meta and data set, no preamble/marker
    assert sniff(raw) == "raw"
    short = tmp_path / "short"
    short.write_bytes(b"DICM")
    assert sniff(short) == "other"
    assert sniff(tmp_path / "DICOMDIR") == "dicomdir"


def test_discover_by_content_recursively(study):
    renamed = study.dicom / "a" / "b" / "c" / "image.with.odd.name"
    renamed.parent.mkdir(parents=True)
    study.series_files(3)[0].rename(renamed)
    (study.dicom / ".DS_Store").write_bytes(b"\x00\x01junk" * 40)
    with pytest.warns(DicomWarning, match=r"\.DS_Store: not a DICOM file"):
        found = discover(study.dicom)
    names = {p.name for p, _ in found}
    assert "image.with.odd.name" in names and ".DS_Store" not in names
    assert len(found) == 3 + 24 + 24 + 32
    assert found == sorted(found)  # stable order


def test_file_without_preamble_is_read(study, tmp_path):
    source = study.series_files(3)[0]
    ds = pydicom.dcmread(source)
    del ds.file_meta
    ds.preamble = None
    path = tmp_path / "raw.dcm"
    ds.save_as(path, enforce_file_format=False, implicit_vr=True, little_endian=True)
    assert sniff(path) == "raw"
    header = read_header(path, tmp_path, preamble=False)
    assert header.series_uid == ds.SeriesInstanceUID and header.rows == ds.Rows


def test_missing_directory():
    with pytest.raises(DicomError, match="is not a directory"):
        discover("/nonexistent/dicom/folder")


def test_junk_that_looks_like_a_raw_data_set_is_skipped(study):
    from qmri_kernels.dicom import ingest

    junk = study.dicom / "firmware.bin"
    junk.write_bytes(b"\x08\x00\x20\x00" + bytes(range(256)) * 4)
    assert sniff(junk) == "raw"
    with pytest.warns(DicomWarning, match="firmware.bin"):
        paths = ingest(study.dicom, study.out, "sub-07")
    assert len(paths) == 2 * (1 + 8 + 12)
