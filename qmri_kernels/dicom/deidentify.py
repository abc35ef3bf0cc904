"""De-identification by allow-list (DICOM PS3.15 Annex E, Basic Confidentiality Profile).

The Basic Profile (code 113100) lists the attributes that may identify a patient and says
to remove or blank them; private attributes go too. Here the logic is turned round, which
is the safe way for an analysis pipeline: *only* the attributes the analysis needs are
kept (:data:`ALLOWED_KEYWORDS`: geometry, timing, field strength, sequence, scanner model
and software, pixel encoding), everything else is dropped, including every private
element and every sequence. None of the kept attributes is one the Basic Profile removes,
except ``SeriesDescription``, which is kept under the *Clean Descriptors Option* (113105):
it is scanned for the identity values of the same header and blanked if it holds one.
Scanner model and software version are not identifying for the Basic Profile (its *Retain
Device Identity Option* is about serial numbers and station names, which are dropped).
The patient's name and ID are replaced by the pseudonymous subject ID.

What was removed is recorded by attribute *name* only (never values), for the provenance.

References
----------
DICOM PS3.15 (2024) Annex E, Table E.1-1 (attributes and actions) and Table CID 7050
(de-identification method codes).
"""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

__all__ = ["ALLOWED_KEYWORDS", "IDENTITY_KEYWORDS", "DESCRIPTOR_KEYWORDS", "METHOD",
           "METHOD_CODES", "deidentify", "removed_names"]

#: Attributes kept: everything the conversion, the fits and the sidecar need.
ALLOWED_KEYWORDS: frozenset[str] = frozenset({
    # what the image is
    "SpecificCharacterSet", "SOPClassUID", "Modality", "ImageType", "SeriesDescription",
    "SeriesNumber", "AcquisitionNumber", "InstanceNumber", "BodyPartExamined",
    # equipment: manufacturer, model, software (no serial number, no station name)
    "Manufacturer", "ManufacturerModelName", "SoftwareVersions", "MagneticFieldStrength",
    "ImagingFrequency", "ImagedNucleus", "ReceiveCoilName", "TransmitCoilName",
    # sequence and timing
    "ScanningSequence", "SequenceVariant", "ScanOptions", "MRAcquisitionType", "SequenceName",
    "AngioFlag", "RepetitionTime", "EchoTime", "InversionTime", "EchoNumbers",
    "EchoTrainLength", "FlipAngle", "VariableFlipAngleFlag", "NumberOfAverages",
    "PixelBandwidth", "PercentSampling", "PercentPhaseFieldOfView", "AcquisitionMatrix",
    "InPlanePhaseEncodingDirection",
    # geometry
    "PatientPosition", "ImagePositionPatient", "ImageOrientationPatient", "SliceThickness",
    "SpacingBetweenSlices", "SliceLocation", "PixelSpacing", "Rows", "Columns",
    # pixel encoding
    "SamplesPerPixel", "PhotometricInterpretation", "BitsAllocated", "BitsStored", "HighBit",
    "PixelRepresentation", "RescaleIntercept", "RescaleSlope", "RescaleType",
    "WindowCenter", "WindowWidth",
})

#: Attributes whose values are searched for in kept text (Clean Descriptors Option).
IDENTITY_KEYWORDS: tuple[str, ...] = (
    "PatientName", "PatientID", "OtherPatientIDs", "PatientBirthDate", "AccessionNumber",
    "InstitutionName", "InstitutionAddress", "ReferringPhysicianName", "OperatorsName",
    "PerformingPhysicianName", "StudyDate", "StudyID", "StationName", "DeviceSerialNumber")

#: Free-text description of the method, for sidecars and the DeidentificationMethod element.
METHOD: str = ("DICOM PS3.15 Basic Application Level Confidentiality Profile by allow-list; "
               "Clean Descriptors Option for SeriesDescription; private attributes removed")
#: CID 7050 codes of the profile and options used.
METHOD_CODES: tuple[str, ...] = ("113100", "113105")

#: Free-text attributes that an operator may type into (Clean Descriptors Option).
DESCRIPTOR_KEYWORDS: frozenset[str] = frozenset({"SeriesDescription", "SequenceName"})


def _identity_values(ds: Dataset) -> list[str]:
    """Identity strings in ``ds`` (whole values, and the components of person names)."""
    values: list[str] = []
    for keyword in IDENTITY_KEYWORDS:
        if keyword not in ds:
            continue
        elem = ds[keyword]
        items = list(elem.value) if isinstance(elem.value, MultiValue) else [elem.value]
        for item in items:
            text = str(item).strip()
            values.append(text)
            if elem.VR == "PN":
                values.extend(text.replace("=", "^").split("^"))
    return sorted({v.strip().lower() for v in values if len(v.strip()) >= 3})


def _element_name(elem) -> str:
    if elem.tag.is_private:
        return f"({elem.tag.group:04X},{elem.tag.element:04X}) private {elem.name}"
    return elem.keyword or f"({elem.tag.group:04X},{elem.tag.element:04X})"


def removed_names(ds: Dataset) -> list[str]:
    """Names of the top-level attributes of ``ds`` that :func:`deidentify` drops.

    Parameters
    ----------
    ds : pydicom.Dataset
        A header (not modified).

    Returns
    -------
    list of str
        Sorted names (never values): the keyword of each public attribute not in
        :data:`ALLOWED_KEYWORDS` (``"(gggg,eeee)"`` when it has none) and
        ``"(gggg,eeee) private <name>"`` for each private element. Descriptors that
        :func:`deidentify` blanks are not listed here.
    """
    return sorted(_element_name(e) for e in ds
                  if e.tag.is_private or e.keyword not in ALLOWED_KEYWORDS)


def deidentify(ds: Dataset, pseudonym: str) -> tuple[Dataset, list[str]]:
    """A de-identified copy of a header.

    Parameters
    ----------
    ds : pydicom.Dataset
        The original header (not modified).
    pseudonym : str
        Pseudonymous subject ID (e.g. ``"sub-01"``): becomes PatientName and PatientID.

    Returns
    -------
    clean : pydicom.Dataset
        Only :data:`ALLOWED_KEYWORDS` (no private elements, no sequences, no pixel data),
        descriptors (:data:`DESCRIPTOR_KEYWORDS`) blanked if they hold an identity value,
        plus PatientName/PatientID = ``pseudonym``, PatientIdentityRemoved = "YES" and
        DeidentificationMethod.
    removed : list of str
        Names (not values) of the attributes removed, private ones as
        ``"(gggg,eeee) private <name>"``; ``"<keyword> (cleaned)"`` for a blanked
        descriptor.
    """
    identity = _identity_values(ds)
    clean = Dataset()
    removed: list[str] = []
    for elem in ds:
        if elem.tag.is_private or elem.keyword not in ALLOWED_KEYWORDS or elem.VR == "SQ":
            removed.append(_element_name(elem))
            continue
        if elem.keyword in DESCRIPTOR_KEYWORDS and elem.value not in (None, ""):
            text = str(elem.value).lower()
            if any(value in text for value in identity):
                removed.append(f"{elem.keyword} (cleaned)")
                clean.add_new(elem.tag, elem.VR, "")
                continue
        clean.add_new(elem.tag, elem.VR, elem.value)
    clean.PatientName = pseudonym
    clean.PatientID = pseudonym
    clean.PatientIdentityRemoved = "YES"
    clean.DeidentificationMethod = "PS3.15 Basic Profile by allow-list; Clean Descriptors"
    return clean, sorted(removed)
