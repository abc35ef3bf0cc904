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
    assert classify(dataclasses.replace(none, headers=del_seq)).reason == "no ScanningSequence"


def test_multiframe_has_no_role(study_template):
    series = _series_with(study_template, 3)
    multi = dataclasses.replace(series, headers=[dataclasses.replace(h, n_frames=4)
                                                 for h in series.headers])
    assert classify(multi).role is None and "multi-frame" in classify(multi).reason
