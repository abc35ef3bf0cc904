"""A readable excerpt of one DICOM header, with identity fields named but withheld."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["EXCERPT_KEYWORDS", "IDENTITY_KEYWORDS", "dicom_header_excerpt",
           "first_dicom_file"]


#: Header fields the excerpt shows (acquisition and geometry; nothing identifying).
EXCERPT_KEYWORDS = (
    "Manufacturer", "ManufacturerModelName", "MagneticFieldStrength", "SeriesDescription",
    "ImageType", "ScanningSequence", "EchoTime", "EchoNumbers", "RepetitionTime", "FlipAngle",
    "SliceThickness", "SpacingBetweenSlices", "ImagePositionPatient",
    "ImageOrientationPatient", "PixelSpacing", "Rows", "Columns", "RescaleSlope",
    "RescaleIntercept",
)
#: Identity fields the writer fills with made-up values; the excerpt names them only.
IDENTITY_KEYWORDS = ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber",
                     "InstitutionName", "ReferringPhysicianName", "StudyDate")


def dicom_header_excerpt(path: str | Path) -> pd.DataFrame:
    """Selected header fields of one DICOM file as a table (keyword, tag, VR, value).

    Identity fields are listed with their value withheld: the book never prints an
    identifier, synthetic or not (chapter "From DICOM to NIfTI" shows de-identification).

    Parameters
    ----------
    path : str or Path
        A DICOM file (read without its pixel data).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``keyword`` (those of :data:`EXCERPT_KEYWORDS` then
        :data:`IDENTITY_KEYWORDS` present in the file), columns ``tag`` ("(gggg,eeee)"),
        ``VR`` and ``value`` as DICOM stores it (EchoTime and RepetitionTime in ms,
        lengths in mm, FlipAngle in degrees); identity values read "(present; withheld)".

    Raises
    ------
    pydicom.errors.InvalidDicomError
        From pydicom, when ``path`` is not a DICOM file.
    """
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=True)
    rows = []
    for kw in EXCERPT_KEYWORDS + IDENTITY_KEYWORDS:
        if kw not in ds:               # a header without this field: nothing to show
            continue
        elem = ds.data_element(kw)
        value = "(present; withheld)" if kw in IDENTITY_KEYWORDS else str(elem.value)
        rows.append({"keyword": kw, "tag": f"({elem.tag.group:04X},{elem.tag.element:04X})",
                     "VR": elem.VR, "value": value})
    return pd.DataFrame(rows).set_index("keyword")


def first_dicom_file(dicom_root: str | Path, series_description: str) -> Path:
    """The first file (by name) under ``dicom_root`` whose SeriesDescription matches.

    Phase images (``"PHASE"`` in ImageType) are passed over, so a series stored as
    magnitude and phase yields a magnitude file.

    Parameters
    ----------
    dicom_root : str or Path
        Folder searched recursively; every file under it is read as DICOM.
    series_description : str
        Exact SeriesDescription to match.

    Returns
    -------
    Path
        The first matching file in sorted path order.

    Raises
    ------
    FileNotFoundError
        No non-phase file under ``dicom_root`` has that SeriesDescription.
    pydicom.errors.InvalidDicomError
        From pydicom, when a file under ``dicom_root`` is not DICOM.
    """
    import pydicom

    for path in sorted(p for p in Path(dicom_root).rglob("*") if p.is_file()):
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SeriesDescription", "ImageType"])
        if ds.get("SeriesDescription") == series_description and "PHASE" not in list(ds.get("ImageType", [])):
            return path
    raise FileNotFoundError(f"{dicom_root}: no series described {series_description!r}")
