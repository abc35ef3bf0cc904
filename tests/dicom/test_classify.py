"""Image part and series role from headers only."""

from __future__ import annotations

import dataclasses

import pytest
from pydicom.dataset import Dataset

from qmri_kernels.dicom import classify, group_series, image_part, read_headers
from qmri_kernels.dicom.discover import discover
from qmri_kernels.dicom.headers import ImageHeader


def _header(image_type=(), manufacturer="", ge_part=None) -> ImageHeader:
    ds = Dataset()
    ds.Manufacturer = manufacturer
    if ge_part is not None:
        ds.private_block(0x0043, "GEMS_PARM_01", create=True).add_new(0x2F, "SS", ge_part)
    return ImageHeader(path=None, name="x", dataset=ds, transfer_syntax="", sop_instance_uid=None,
                       series_uid="1", study_uid=None, patient_key=None, series_number=1,
                       series_description="", image_type=tuple(image_type), echo_time=None,
                       echo_number=None, repetition_time=None, orientation=None, position=None,
                       pixel_spacing=None, rows=None, columns=None, n_frames=1)


@pytest.mark.parametrize("image_type, part", [
    (("ORIGINAL", "PRIMARY", "OTHER"), "mag"),
    (("ORIGINAL", "PRIMARY", "M", "ND", "NORM"), "mag"),  # Siemens magnitude
    (("ORIGINAL", "PRIMARY", "P", "ND"), "phase"),  # Siemens phase
    (("ORIGINAL", "PRIMARY", "PHASE"), "phase"),
    (("ORIGINAL", "PRIMARY", "REAL"), "real"),
    (("ORIGINAL", "PRIMARY", "IMAGINARY"), "imag"),
    (("DERIVED", "PRIMARY", "R", "IR"), "real"),
])
def test_image_part_from_image_type(image_type, part):
    assert image_part(_header(image_type)) == part


@pytest.mark.parametrize("code, part", [(0, "mag"), (1, "phase"), (2, "real"), (3, "imag")])
def test_image_part_from_ge_private_element(code, part):
    h = _header(("ORIGINAL", "PRIMARY", "OTHER"), "GE MEDICAL SYSTEMS", ge_part=code)
    assert image_part(h) == part
    # the private element only counts for GE data
    assert image_part(_header(("ORIGINAL", "PRIMARY", "OTHER"), "ACME", ge_part=code)) == "mag"


def test_roles_of_the_small_study(study_template):
    headers = read_headers(discover(study_template.dicom), study_template.dicom)
    roles = {(s.number, s.part): classify(s).role for s in group_series(headers)}
    assert roles == {(3, "mag"): "t2w", (5, "mag"): "megre", (105, "phase"): "megre",
                     (7, "mag"): "mese"}


def _series_with(study_template, number, **changes):
    headers = read_headers(discover(study_template.dicom), study_template.dicom)
    series = next(s for s in group_series(headers) if s.number == number)
    for h in series.headers:
        for keyword, value in changes.items():
            setattr(h.dataset, keyword, value)
    return series


def test_spin_echo_phase_and_short_te_and_inversion_have_no_role(study_template):
    series = _series_with(study_template, 7)
    phased = dataclasses.replace(series, part="phase")
    assert classify(phased).role is None and "phase" in classify(phased).reason
    ir = _series_with(study_template, 7, ScanningSequence=["SE", "IR"])
    assert classify(ir).role is None
    t1w = _series_with(study_template, 3)
    t1w = dataclasses.replace(t1w, headers=[dataclasses.replace(h, echo_time=0.012)
                                            for h in t1w.headers])
    c = classify(t1w)
    assert c.role is None and "not a role" in c.reason
    none = _series_with(study_template, 3)
    del_seq = [dataclasses.replace(h) for h in none.headers]
    for h in del_seq:
        del h.dataset.ScanningSequence
    assert classify(dataclasses.replace(none, headers=del_seq)).reason.startswith(
        "no ScanningSequence")


def test_multiframe_has_no_role(study_template):
    series = _series_with(study_template, 3)
    multi = dataclasses.replace(series, headers=[dataclasses.replace(h, n_frames=4)
                                                 for h in series.headers])
    assert classify(multi).role is None and "multi-frame" in classify(multi).reason


def _one_series(study_template, number, **changes):
    """Like ``_series_with``, reading only that series' files."""
    files = [(f, True) for f in study_template.series_files(number)]
    (series,) = group_series(read_headers(files, study_template.dicom))
    for h in series.headers:
        for keyword, value in changes.items():
            setattr(h.dataset, keyword, value)
    return series


def _only_slices(series, n):
    """The images of the first ``n`` slice positions of ``series``."""
    import numpy as np
    normal = np.cross(series.headers[0].orientation[:3], series.headers[0].orientation[3:])
    positions = sorted({round(float(h.position @ normal), 2) for h in series.headers})[:n]
    keep = [h for h in series.headers if round(float(h.position @ normal), 2) in positions]
    return dataclasses.replace(series, headers=keep)


def test_single_t2_weighted_slice_is_unclassified_with_the_reason(study_template):
    t2w = _one_series(study_template, 3)
    assert classify(t2w).role == "t2w" and "3 slices" in classify(t2w).reason
    assert classify(_only_slices(t2w, 2)).role == "t2w"
    single = classify(_only_slices(t2w, 1))
    assert single.role is None
    for fragment in ("TE 120 ms", "1 slice(s)", "at least 2 slices", "roles={3: 't2w'}"):
        assert fragment in single.reason, single.reason
    # a single multi-echo spin-echo slice is a T2 map all the same (single-slice mapping)
    assert classify(_only_slices(_one_series(study_template, 7), 1)).role == "mese"


def test_unknown_contrast_and_mixed_sequences_are_unclassified(study_template):
    epi = classify(_one_series(study_template, 3, ScanningSequence="EP"))
    assert epi.role is None and "EP with 1 echo time(s)" in epi.reason
    # a gradient-and-spin-echo hybrid (GRASE; EchoPulseSequence BOTH) is no fat-water MEGRE
    grase = classify(_one_series(study_template, 5, ScanningSequence=["SE", "GR"]))
    assert grase.role is None and "not a role" in grase.reason
    short = dataclasses.replace(_one_series(study_template, 3))
    short = dataclasses.replace(short, headers=[dataclasses.replace(h, echo_time=0.012)
                                                for h in short.headers])
    assert "not T2-weighted" in classify(short).reason


def test_image_part_from_complex_image_component():
    h = _header(("ORIGINAL", "PRIMARY", "MIXED", "NONE"))
    h.dataset.ComplexImageComponent = "PHASE"
    assert image_part(h) == "phase"
    h.dataset.ComplexImageComponent = "MIXED"  # not a part: fall back to ImageType
    assert image_part(h) == "mag"


@pytest.mark.parametrize("parts, ok", [({"mag", "phase"}, True), ({"real", "imag"}, True),
                                       ({"mag", "phase", "real", "imag"}, True), (set(), True),
                                       ({"mag"}, False), ({"phase"}, False),
                                       ({"mag", "real"}, False)])
def test_complex_parts_note(parts, ok):
    from qmri_kernels.dicom.classify import complex_parts_note

    note = complex_parts_note(parts)
    assert (note is None) == ok
    if not ok:
        assert "complex echoes" in note and "field map" in note
