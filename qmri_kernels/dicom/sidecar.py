"""The BIDS JSON sidecar of one ingested image, built from the *de-identified* header only.

Times are converted from DICOM milliseconds to BIDS seconds; names follow the BIDS
specification (and dcm2niix where BIDS is silent, e.g. ``ImageType``). The provenance
records the software, a SHA-256 hash of the source SeriesInstanceUID (not the UID), and
the names of the removed attributes.
"""

from __future__ import annotations

import hashlib
from importlib.metadata import PackageNotFoundError, version

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from .deidentify import METHOD, METHOD_CODES

__all__ = ["sidecar", "provenance", "software_versions", "PULSE_SEQUENCE_TYPE"]

#: BIDS ``PulseSequenceType`` of each ingest role (the classification's finding, which the
#: DICOM headers state in no single attribute).
PULSE_SEQUENCE_TYPE: dict[str, str] = {"megre": "multi-echo gradient echo",
                                       "mese": "multi-echo spin echo",
                                       "t2w": "spin echo (T2-weighted)"}


def _num(value) -> float | int | None:
    if value is None or value == "":
        return None
    x = float(value)
    if not np.isfinite(x):
        return None
    return int(x) if x.is_integer() and abs(x) < 1e12 else float(f"{x:.10g}")


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, MultiValue):
        return "\\".join(str(v) for v in value)
    text = str(value).strip()
    return text or None


def software_versions() -> dict[str, str]:
    """Versions of the packages that shaped the output.

    Returns
    -------
    dict of str to str
        ``qmri_kernels``, ``pydicom``, ``nibabel`` and ``numpy``, in that order, each
        mapped to its installed version (``"unknown"`` for a package whose distribution
        metadata is not found).
    """
    from .. import __version__
    out = {"qmri_kernels": __version__}
    for name in ("pydicom", "nibabel", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "unknown"
    return out


def provenance(*, series_uid: str, series_number: int | None, n_images: int,
               removed: list[str], pseudonym: str, phase_convention: str | None) -> dict:
    """The ``Provenance`` block of a sidecar (no identifying values).

    Parameters
    ----------
    series_uid : str
        SeriesInstanceUID of the source series; only its SHA-256 hash is kept.
    series_number : int or None
        SeriesNumber of the source series.
    n_images : int
        Number of source DICOM images (files or frames) the series was built from.
    removed : list of str
        Keywords of the attributes de-identification removed (names, never values).
    pseudonym : str
        The subject's BIDS pseudonym, e.g. ``"sub-01"``.
    phase_convention : str or None
        Name of the phase convention recognised for a phase series
        (:func:`~qmri_kernels.dicom.volume.phase_convention`); ``None`` leaves the key out.

    Returns
    -------
    dict
        Insertion-ordered, JSON-ready: ``Step``, ``Software`` (:func:`software_versions`),
        ``SourceSeriesUIDHash`` (``"sha256:<hex>"``), ``SourceSeriesNumber``,
        ``SourceImages``, ``SubjectPseudonym``, ``Deidentification`` (method, CID 7050
        codes, removed attribute names) and, for phase, ``PhaseConvention``.
    """
    out = {
        "Step": "qmri_kernels.dicom.ingest",
        "Software": software_versions(),
        "SourceSeriesUIDHash": "sha256:" + hashlib.sha256(series_uid.encode()).hexdigest(),
        "SourceSeriesNumber": series_number,
        "SourceImages": int(n_images),
        "SubjectPseudonym": pseudonym,
        "Deidentification": {
            "Method": METHOD,
            "MethodCodes": list(METHOD_CODES),
            "PatientIdentityRemoved": True,
            "RemovedAttributes": list(removed),
        },
    }
    if phase_convention is not None:
        out["PhaseConvention"] = phase_convention
    return out


def sidecar(clean: Dataset, *, echo_number: int | None, echo_time: float | None,
            spacing: float, units: str, provenance_block: dict,
            pulse_sequence_type: str | None = None) -> dict:
    """BIDS sidecar of one image.

    Parameters
    ----------
    clean : pydicom.Dataset
        A de-identified header (:func:`~qmri_kernels.dicom.deidentify.deidentify`).
    echo_number : int or None
        1-based echo index in the sorted series (``None`` for single-echo series).
    echo_time : float or None
        Echo time, s (from the sorted series).
    spacing : float
        Measured centre-to-centre slice distance, mm (``nan``: use the header's).
    units : str
        ``"rad"`` or ``"arbitrary"``.
    provenance_block : dict
        From :func:`provenance`.
    pulse_sequence_type : str, optional
        BIDS ``PulseSequenceType`` (:data:`PULSE_SEQUENCE_TYPE` of the series' role).

    Returns
    -------
    dict
        Insertion-ordered, JSON-ready; keys with no value are left out.
    """
    g = clean.get
    tr = _num(g("RepetitionTime"))
    spacing_out = _num(spacing) if np.isfinite(spacing) else _num(g("SpacingBetweenSlices"))
    fields = {
        "Modality": _text(g("Modality")),
        "MagneticFieldStrength": _num(g("MagneticFieldStrength")),
        "ImagingFrequency": _num(g("ImagingFrequency")),
        "Manufacturer": _text(g("Manufacturer")),
        "ManufacturersModelName": _text(g("ManufacturerModelName")),
        "SoftwareVersions": _text(g("SoftwareVersions")),
        "ReceiveCoilName": _text(g("ReceiveCoilName")),
        "BodyPart": _text(g("BodyPartExamined")),
        "PatientPosition": _text(g("PatientPosition")),
        "MRAcquisitionType": _text(g("MRAcquisitionType")),
        "SeriesDescription": _text(g("SeriesDescription")),
        "ScanningSequence": _text(g("ScanningSequence")),
        "SequenceVariant": _text(g("SequenceVariant")),
        "ScanOptions": _text(g("ScanOptions")),
        "SequenceName": _text(g("SequenceName")),
        "PulseSequenceType": pulse_sequence_type,
        "ImageType": [str(v) for v in (g("ImageType") or [])] or None,
        "SeriesNumber": _num(g("SeriesNumber")),
        "EchoNumber": echo_number,
        "EchoTime": None if echo_time is None or not np.isfinite(echo_time)
        else float(f"{echo_time:.10g}"),
        "RepetitionTime": None if tr is None else float(f"{tr * 1e-3:.10g}"),
        "FlipAngle": _num(g("FlipAngle")),
        "EchoTrainLength": _num(g("EchoTrainLength")),
        "SliceThickness": _num(g("SliceThickness")),
        "SpacingBetweenSlices": spacing_out,
        "PixelBandwidth": _num(g("PixelBandwidth")),
        "PercentPhaseFOV": _num(g("PercentPhaseFieldOfView")),
        "InPlanePhaseEncodingDirectionDICOM": _text(g("InPlanePhaseEncodingDirection")),
        "Units": units,
        "Provenance": provenance_block,
    }
    return {k: v for k, v in fields.items() if v is not None}
