"""Write phantom images as real DICOM, the way a GE Discovery MR750w at 3 T exports them.

One file per image (classic *MR Image Storage*, explicit VR little endian), pixel data as
``uint16`` with a per-series ``RescaleSlope``/``RescaleIntercept``, the geometry of a
:class:`~qmri_kernels.grids.Grid` converted from NIfTI RAS to DICOM LPS, GE-style
acquisition headers and private elements, and a made-up patient identity that the ingest
(:mod:`qmri_kernels.dicom`) must strip.

Conventions (the ingest inverts exactly these)
----------------------------------------------
Geometry
    Pixel ``(row r, column c)`` of slice ``k`` is voxel ``(i=c, j=r, k)`` of the grid.
    ``ImageOrientationPatient`` holds the LPS unit vectors along increasing column index
    (grid axis i) and increasing row index (grid axis j); ``ImagePositionPatient`` is the
    LPS centre of pixel (0, 0) of the slice; ``PixelSpacing`` is ``[row spacing (along j),
    column spacing (along i)]``; LPS = diag(-1, -1, 1) · RAS (DICOM PS3.3 C.7.6.2.1.1).
    Slice k of the grid is ``InstanceNumber`` block k: instances run echo-fastest
    (``InstanceNumber = k · n_echoes + e + 1``), as GE numbers multi-echo images.
Intensities
    Stored values ``v`` are ``uint16``; the physical value is
    ``v · RescaleSlope + RescaleIntercept`` (slope and intercept are decimal strings, and
    ``v`` is computed with the *written* DS values, so the round trip is exact to half a
    slope step). One slope and intercept per series (all slices and echoes), so echo ratios
    are not distorted by per-image scaling.
Phase (``part="phase"``)
    Stored as ``uint16`` with a rescale *to radians*: ``RescaleIntercept = -π`` and
    ``RescaleSlope = 2π / 65536`` (both as written DS strings), ``RescaleType = "rad"``,
    so ``v · slope + intercept`` is the phase in ``[-π, π)``; values that round to 65536
    wrap to 0 (−π, the same angle). This is *not* GE's integer ``-3142..3142``
    (radians × 1000) convention; the ingest recognises both, plus Siemens' 12-bit one.
Image part
    ``ImageType`` is ``ORIGINAL\\PRIMARY\\OTHER`` for magnitude (as GE writes it) and
    ``ORIGINAL\\PRIMARY\\PHASE`` / ``REAL`` / ``IMAGINARY`` for the other parts; GE's private
    image-type element ``(0043,102F)`` (creator ``GEMS_PARM_01``) carries 0/1/2/3 for
    magnitude/phase/real/imaginary as well. Each part is its own series: series number
    ``protocol.series_number + 100 · {mag: 0, phase: 1, real: 2, imag: 3}``.
Derived series (:func:`write_derived_series`)
    The maps the scanner computes itself (IDEAL-IQ water, fat, fat fraction, R2*;
    :data:`~.protocol.IDEAL_IQ_MAPS`, values from :mod:`.vendor_recon`): one image per
    slice on the source series' grid, ``ImageType`` ``DERIVED\\PRIMARY\\IDEAL\\<map>``,
    the scanner's SeriesDescription (``IDEAL IQ FF`` ...), series number
    ``100 · source + offset`` (501–504 for the IDEAL-IQ of series 5), stored integers with
    ``RescaleSlope`` 1: fat fraction as percent × 10 (0–1000), R2* in 1/s.
Units
    ``EchoTime`` and ``RepetitionTime`` in ms (DICOM), ``FlipAngle`` in degrees,
    lengths in mm, ``MagneticFieldStrength`` in T; the library itself stays in SI.
Determinism
    Every UID is :func:`pydicom.uid.generate_uid` with entropy from ``uid_seed`` and the
    element's role; every date and time comes from :class:`Identity` (no clock reads), so
    the same inputs give byte-identical files.

References
----------
DICOM PS3.3 (2024), C.7.6.2 Image Plane Module, C.8.3.1 MR Image Module, C.11.1 Modality
LUT (rescale). PS3.5 Annex B (UIDs). PS3.6 (data dictionary).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid
from pydicom.valuerep import format_number_as_ds

from ..physics import GAMMA_BAR_HZ_PER_T
from ..grids import Grid
from .protocol import DerivedSeries, SeriesProtocol

__all__ = ["Identity", "write_series", "write_derived_series", "write_study", "PARTS",
           "PART_SERIES_OFFSET", "FIELD_STRENGTH_T", "phase_rescale"]

#: Image parts the writer knows, with GE's private image-type code (0043,102F).
PARTS: dict[str, int] = {"mag": 0, "phase": 1, "real": 2, "imag": 3}
#: Series-number offset of each part relative to ``protocol.series_number``.
PART_SERIES_OFFSET: dict[str, int] = {"mag": 0, "phase": 100, "real": 200, "imag": 300}
#: Main field of the Discovery MR750w, T.
FIELD_STRENGTH_T: float = 3.0

_IMAGE_TYPE = {"mag": ["ORIGINAL", "PRIMARY", "OTHER"],
               "phase": ["ORIGINAL", "PRIMARY", "PHASE"],
               "real": ["ORIGINAL", "PRIMARY", "REAL"],
               "imag": ["ORIGINAL", "PRIMARY", "IMAGINARY"]}
_MANUFACTURER = "GE MEDICAL SYSTEMS"
_MODEL = "DISCOVERY MR750w"
_SOFTWARE = ["27", "LX", "MR Software release:DV26.0_R03_1831.b"]
_STATION = "MR750WHOST"
_DEVICE_SERIAL = "0000000000MR750W"
_UINT16_MAX = 65535
_LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

# Sequence-specific header values, GE style, per protocol role (falls back to the
# scanning sequence for unknown roles).
_ROLE_HEADERS: dict[str, dict] = {
    "megre": dict(variant=["SS", "SP"], options=["FAST_GEMS", "EDR_GEMS", "IDEAL_GEMS"],
                  etl=None, psd="3dfgre", bandwidth=976.562, averages=1.0, pe_dir="COL"),
    "mese": dict(variant=["SK", "SP"], options=["FS", "FILTERED_GEMS"], etl=None,
                 psd="fse-xl", bandwidth=244.141, averages=1.0, pe_dir="COL"),
    "t2w": dict(variant=["SK", "OSP"], options=["FAST_GEMS", "FILTERED_GEMS", "IDEAL_GEMS"],
                etl=16, psd="fse-xl", bandwidth=325.508, averages=2.0, pe_dir="COL"),
}
_DEFAULT_HEADERS = dict(variant=["SK"], options=["FAST_GEMS"], etl=None, psd="fse-xl",
                        bandwidth=244.141, averages=1.0, pe_dir="COL")


@dataclass(frozen=True)
class Identity:
    """A (made-up) patient and exam identity, written into the DICOM so ingest can strip it.

    Parameters
    ----------
    patient_name : str
        DICOM person name, ``"Family^Given"``.
    patient_id : str
        Hospital patient ID.
    birth_date : str
        ``"YYYYMMDD"``.
    sex : str
        ``"M"`` or ``"F"``.
    age_years : int
        Age at the study, years (written as PatientAge ``"045Y"``).
    accession_number : str
        RIS accession number.
    institution_name : str
        Hospital name (also written, with a made-up address, as InstitutionAddress).
    referring_physician : str
        DICOM person name.
    operator : str
        DICOM person name of the technologist.
    study_date : str
        ``"YYYYMMDD"``.
    study_time : str
        ``"HHMMSS"``.
    """

    patient_name: str
    patient_id: str
    birth_date: str
    sex: str
    age_years: int
    accession_number: str
    institution_name: str
    referring_physician: str
    operator: str
    study_date: str
    study_time: str

    def __post_init__(self) -> None:
        for name in ("birth_date", "study_date"):
            value = getattr(self, name)
            try:
                _dt.datetime.strptime(value, "%Y%m%d")
            except (TypeError, ValueError):
                raise ValueError(f"Identity.{name} must be 'YYYYMMDD', got {value!r}") from None
        try:
            _dt.datetime.strptime(self.study_time, "%H%M%S")
        except (TypeError, ValueError):
            raise ValueError(f"Identity.study_time must be 'HHMMSS', got {self.study_time!r}") \
                from None
        if self.sex not in ("M", "F"):
            raise ValueError(f"Identity.sex must be 'M' or 'F', got {self.sex!r}")
        if not 0 <= int(self.age_years) <= 150:
            raise ValueError(f"Identity.age_years must be in 0..150, got {self.age_years!r}")
        for name in ("patient_name", "patient_id", "accession_number", "institution_name",
                     "referring_physician", "operator"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"Identity.{name} must be a non-empty string")

    @property
    def institution_address(self) -> str:
        """A made-up street address derived from the institution name."""
        number = int(hashlib.sha256(self.institution_name.encode()).hexdigest()[:4], 16) % 900
        return f"{number + 100} {self.institution_name.split()[0]} Road, Springfield"


def _uid(*parts: object) -> str:
    """Deterministic UID from ``parts`` (joined with a separator so parts cannot merge)."""
    return str(generate_uid(entropy_srcs=["\x1f".join(str(p) for p in parts)]))


def _ds(value: float) -> str:
    """``value`` as a DICOM decimal string (≤ 16 characters)."""
    text = format_number_as_ds(float(value))
    return "0" if text in ("-0", "-0.0", "0.0") else text


def phase_rescale() -> tuple[float, float, str, str]:
    """Slope and intercept of the phase rescale, as floats and as the written DS strings.

    Returns
    -------
    slope, intercept : float
        Radians per stored step (≈ 2π/65536) and the phase of stored value 0 (−π), parsed
        back from the DS strings so that writing and reading use identical numbers.
    slope_ds, intercept_ds : str
        The DICOM decimal strings written as RescaleSlope and RescaleIntercept
        (at most 16 characters).
    """
    slope_ds, intercept_ds = _ds(2 * np.pi / 65536), _ds(-np.pi)
    return float(slope_ds), float(intercept_ds), slope_ds, intercept_ds


def _plane_geometry(grid: Grid) -> tuple[list[str], list[str], np.ndarray, np.ndarray, float]:
    """IOP, PixelSpacing, per-slice IPP and slice normal (LPS) of ``grid``."""
    lps = _LPS_FROM_RAS @ np.asarray(grid.affine, dtype=float)
    col_i, col_j, col_k = lps[:3, 0], lps[:3, 1], lps[:3, 2]
    di, dj, dk = (float(np.linalg.norm(v)) for v in (col_i, col_j, col_k))
    if min(di, dj, dk) <= 0:
        raise ValueError(f"grid affine has a zero-length axis: zooms {(di, dj, dk)}")
    row_cos, col_cos = col_i / di, col_j / dj
    if abs(float(row_cos @ col_cos)) > 1e-6:
        raise ValueError("grid affine axes i and j are not orthogonal; DICOM needs orthogonal "
                         "ImageOrientationPatient row/column directions")
    normal = np.cross(row_cos, col_cos)
    if abs(abs(float(normal @ (col_k / dk))) - 1.0) > 1e-6:
        raise ValueError("grid affine axis k is not along the slice normal (sheared or "
                         "tilted stack); classic DICOM slices cannot express that")
    iop = [_ds(v) for v in np.concatenate([row_cos, col_cos])]
    spacing = [_ds(dj), _ds(di)]  # [row spacing (between rows = along j), column spacing]
    nz = grid.shape[2]
    ipp = lps[:3, 3][None, :] + np.arange(nz)[:, None] * col_k[None, :]
    return iop, spacing, ipp, normal, dk


def _quantise(images: np.ndarray, part: str) -> tuple[np.ndarray, str, str]:
    """Stored ``uint16`` values and the (slope, intercept) DS strings for one series."""
    if part == "phase":
        slope, intercept, slope_ds, intercept_ds = phase_rescale()
        stored = np.rint((images - intercept) / slope).astype(np.int64) % 65536
        return stored.astype(np.uint16), slope_ds, intercept_ds
    if part == "mag":
        low = 0.0
        high = float(images.max())
    else:  # real / imag: signed, shift by a negative intercept
        low = float(images.min())
        high = float(images.max())
        low = min(low, 0.0)
    span = high - low
    slope_ds = _ds(span / _UINT16_MAX) if span > 0 else "1"
    slope = float(slope_ds)
    # the intercept is rounded to a DS too; use the written value for quantising
    intercept_ds = _ds(low) if low != 0 else "0"
    intercept = float(intercept_ds)
    stored = np.rint((images - intercept) / slope)
    stored = np.clip(stored, 0, _UINT16_MAX)
    return stored.astype(np.uint16), slope_ds, intercept_ds


def _check_inputs(images: np.ndarray, grid: Grid, protocol: SeriesProtocol,
                  part: str) -> np.ndarray:
    if part not in PARTS:
        raise ValueError(f"part must be one of {sorted(PARTS)}, got {part!r}")
    arr = np.asarray(images)
    if np.iscomplexobj(arr):
        raise ValueError("images must be real; write a complex series as part='mag' and "
                         "part='phase' (write_study does this)")
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[:3] != tuple(grid.shape):
        raise ValueError(f"images shape {np.shape(images)} does not match grid shape "
                         f"{tuple(grid.shape)} (+ echoes)")
    if arr.shape[3] != protocol.n_echoes:
        raise ValueError(f"images have {arr.shape[3]} echoes but protocol "
                         f"{protocol.series_description!r} has {protocol.n_echoes}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("images contain NaN or infinite values")
    if part == "mag" and arr.min() < 0:
        raise ValueError(f"magnitude images must be >= 0, minimum is {arr.min()}")
    if part == "phase" and (arr.min() < -np.pi - 1e-6 or arr.max() > np.pi + 1e-6):
        raise ValueError(f"phase images must be radians in [-pi, pi), got range "
                         f"[{arr.min()}, {arr.max()}]")
    return arr


def _time_plus(date: str, time: str, seconds: float) -> tuple[str, str]:
    """``date``/``time`` shifted by ``seconds`` (as DICOM DA, TM strings)."""
    t0 = _dt.datetime.strptime(date + time, "%Y%m%d%H%M%S") + _dt.timedelta(seconds=seconds)
    return t0.strftime("%Y%m%d"), t0.strftime("%H%M%S")


def _series_dataset(grid: Grid, protocol: SeriesProtocol, identity: Identity, *,
                    study_uid: str, series_uid: str, frame_uid: str, series_number: int,
                    part: str, uid_seed: str) -> Dataset:
    """The elements common to every image of one series (no per-image values)."""
    role = _ROLE_HEADERS.get(protocol.role, _DEFAULT_HEADERS)
    nx, ny, nz = grid.shape
    n_echoes = protocol.n_echoes
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = list(_IMAGE_TYPE[part])
    ds.SOPClassUID = MRImageStorage
    # scan order: series acquired in series-number order, a few minutes apart
    base = protocol.series_number
    series_date, series_time = _time_plus(identity.study_date, identity.study_time,
                                          120.0 * base)
    ds.InstanceCreationDate, ds.InstanceCreationTime = _time_plus(
        identity.study_date, identity.study_time, 120.0 * base + 90 + PARTS[part])
    ds.StudyDate, ds.StudyTime = identity.study_date, identity.study_time
    ds.SeriesDate, ds.SeriesTime = series_date, series_time
    ds.AcquisitionDate, ds.AcquisitionTime = series_date, series_time
    ds.ContentDate, ds.ContentTime = ds.InstanceCreationDate, ds.InstanceCreationTime
    ds.AccessionNumber = identity.accession_number
    ds.Modality = "MR"
    ds.Manufacturer = _MANUFACTURER
    ds.InstitutionName = identity.institution_name
    ds.InstitutionAddress = identity.institution_address
    ds.ReferringPhysicianName = identity.referring_physician
    ds.StationName = _STATION
    ds.StudyDescription = "MR THIGH BILAT WO"
    ds.SeriesDescription = protocol.series_description
    ds.OperatorsName = identity.operator
    ds.ManufacturerModelName = _MODEL
    ds.PatientName = identity.patient_name
    ds.PatientID = identity.patient_id
    ds.PatientBirthDate = identity.birth_date
    ds.PatientSex = identity.sex
    ds.PatientAge = f"{int(identity.age_years):03d}Y"
    ds.PatientWeight = _ds(55 + int(hashlib.sha256(identity.patient_id.encode()).hexdigest()[:2],
                                    16) % 40)
    ds.BodyPartExamined = "THIGH"
    ds.ScanningSequence = protocol.scanning_sequence
    ds.SequenceVariant = list(role["variant"])
    ds.ScanOptions = list(role["options"])
    ds.MRAcquisitionType = "2D"
    ds.SequenceName = protocol.sequence_name
    ds.AngioFlag = "N"
    ds.SliceThickness = _ds(grid.slice_thickness)
    ds.RepetitionTime = _ds(protocol.repetition_time * 1e3)
    ds.InversionTime = "0"
    ds.NumberOfAverages = _ds(role["averages"])
    ds.ImagingFrequency = _ds(round(GAMMA_BAR_HZ_PER_T * FIELD_STRENGTH_T * 1e-6, 6))
    ds.ImagedNucleus = "1H"
    ds.MagneticFieldStrength = _ds(FIELD_STRENGTH_T)
    ds.EchoTrainLength = int(role["etl"] or n_echoes)
    ds.PercentSampling = "100"
    ds.PercentPhaseFieldOfView = "100"
    ds.PixelBandwidth = _ds(role["bandwidth"])
    ds.DeviceSerialNumber = _DEVICE_SERIAL
    ds.SoftwareVersions = list(_SOFTWARE)
    ds.ProtocolName = "THIGH QMRI"
    ds.ReceiveCoilName = "GEM Flex Lg"
    ds.TransmitCoilName = "BODY"
    ds.AcquisitionMatrix = [0, ny, nx, 0] if role["pe_dir"] == "ROW" else [nx, 0, 0, ny]
    ds.InPlanePhaseEncodingDirection = role["pe_dir"]
    ds.FlipAngle = _ds(protocol.flip_angle_deg)
    ds.VariableFlipAngleFlag = "N"
    ds.SAR = "0.8"
    ds.PatientPosition = "FFS"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = identity.accession_number[-5:]
    ds.SeriesNumber = int(series_number)
    ds.AcquisitionNumber = 1
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    ds.ImagesInAcquisition = int(nz * n_echoes)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = int(ny)
    ds.Columns = int(nx)
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    # GE private elements: identification, acquisition and image-type blocks
    iden = ds.private_block(0x0009, "GEMS_IDEN_01", create=True)
    iden.add_new(0x01, "LO", "GE_GENESIS_FF")
    iden.add_new(0x02, "SH", _STATION)
    iden.add_new(0xE3, "UI", _uid(uid_seed, "equipment"))
    rela = ds.private_block(0x0021, "GEMS_RELA_01", create=True)
    rela.add_new(0x4F, "SS", int(nz))  # locations in acquisition (slices, not images)
    acqu = ds.private_block(0x0019, "GEMS_ACQU_01", create=True)
    acqu.add_new(0x9C, "LO", role["psd"])
    acqu.add_new(0x9E, "LO", protocol.sequence_name)
    parm = ds.private_block(0x0043, "GEMS_PARM_01", create=True)
    parm.add_new(0x2F, "SS", PARTS[part])
    parm.add_new(0x39, "IS", [0, 0, 0, 0])
    parm.add_new(0x61, "UI", study_uid)
    # vendors repeat exam identifiers in private elements; a de-identifier that keeps
    # private tags would leak this one ("Scanner Study ID")
    parm.add_new(0x62, "SH", identity.accession_number[:16])
    parm.add_new(0x81, "LO", "GEM Flex Lg")
    return ds


def write_series(out_dir: Path, images: np.ndarray, grid: Grid, protocol: SeriesProtocol,
                 identity: Identity, *, study_uid: str, part: str = "mag", uid_seed: str,
                 series_number: int | None = None) -> list[Path]:
    """Write one series, one DICOM file per slice and echo.

    Parameters
    ----------
    out_dir : Path
        Directory for the files (created); files are named ``IM00001``, ``IM00002``, …
        (``InstanceNumber``, no extension, as many PACS exports).
    images : (nx, ny, nz) or (nx, ny, nz, n_echoes) real array
        In the grid's NIfTI voxel order (i → patient left, j → posterior for
        :func:`~qmri_kernels.grids.axial_grid`). Magnitude ≥ 0 (a.u.), phase in
        radians in [−π, π), real/imaginary parts of any sign.
    grid : Grid
        Voxel grid (RAS affine); its slice thickness becomes ``SliceThickness``.
    protocol : SeriesProtocol
        Acquisition parameters (SI units; written in DICOM units: ms, degrees).
    identity : Identity
        The made-up patient and exam identity.
    study_uid : str
        ``StudyInstanceUID`` shared by all series of the study.
    part : {"mag", "phase", "real", "imag"}
        Image part; sets ``ImageType``, GE's (0043,102F) and the series number offset.
    uid_seed : str
        Entropy for every UID (with ``study_uid``, the series number and the instance).
    series_number : int, optional
        Overrides ``protocol.series_number + PART_SERIES_OFFSET[part]``.

    Returns
    -------
    list of Path
        The files written, in ``InstanceNumber`` order.

    Raises
    ------
    ValueError
        Complex or non-finite images, a shape that does not match the grid and the
        protocol's echo count, negative magnitude, phase outside [−π, π], an unknown
        ``part``, or a grid that DICOM slices cannot express (sheared, non-orthogonal).
    """
    arr = _check_inputs(images, grid, protocol, part)
    if not (isinstance(study_uid, str) and len(study_uid) <= 64
            and re.fullmatch(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*", study_uid)):
        raise ValueError(f"study_uid {study_uid!r} is not a valid DICOM UID")
    iop, spacing, _, _, _ = _plane_geometry(grid)
    stored, slope_ds, intercept_ds = _quantise(arr, part)
    if series_number is None:
        series_number = protocol.series_number + PART_SERIES_OFFSET[part]
    series_uid = _uid(uid_seed, study_uid, "series", series_number, part)
    frame_uid = _uid(uid_seed, study_uid, "frame-of-reference")
    base = _series_dataset(grid, protocol, identity, study_uid=study_uid,
                           series_uid=series_uid, frame_uid=frame_uid,
                           series_number=series_number, part=part, uid_seed=uid_seed)
    base.ImageOrientationPatient = iop
    base.PixelSpacing = spacing
    base.SpacingBetweenSlices = _ds(np.linalg.norm(grid.affine[:3, 2]))
    base.RescaleIntercept = intercept_ds
    base.RescaleSlope = slope_ds
    base.RescaleType = "rad" if part == "phase" else "US"
    if part == "phase":
        base.WindowCenter, base.WindowWidth = "0", _ds(2 * np.pi)
    else:
        lo, hi = np.percentile(arr, [1.0, 99.0])
        base.WindowCenter, base.WindowWidth = _ds((hi + lo) / 2), _ds(max(hi - lo, 1e-3))
    return _write_images(out_dir, base, stored, grid, protocol.echo_times, uid_seed,
                         series_uid)


def _write_images(out_dir: Path, base: Dataset, stored: np.ndarray, grid: Grid,
                  echo_times: Sequence[float], uid_seed: str, series_uid: str) -> list[Path]:
    """One file per slice and echo of ``stored`` (nx, ny, nz, n_echoes) uint16."""
    _, _, ipp, normal, _ = _plane_geometry(grid)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_echoes = stored.shape[3]
    paths: list[Path] = []
    for k in range(grid.shape[2]):
        position = [_ds(v) for v in ipp[k]]
        location = _ds(float(ipp[k] @ normal))
        for e in range(n_echoes):
            instance = k * n_echoes + e + 1
            ds = Dataset()
            ds.update(base)
            ds.SOPInstanceUID = _uid(uid_seed, series_uid, "instance", instance)
            ds.EchoTime = _ds(echo_times[e] * 1e3)
            ds.EchoNumbers = e + 1
            ds.InstanceNumber = instance
            ds.ImagePositionPatient = position
            ds.SliceLocation = location
            ds.PixelData = np.ascontiguousarray(stored[:, :, k, e].T).astype("<u2").tobytes()
            ds["PixelData"].VR = "OW"
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = MRImageStorage
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            meta.SourceApplicationEntityTitle = "MR750W"
            ds.file_meta = meta
            path = out_dir / f"IM{instance:05d}"
            ds.save_as(path, enforce_file_format=True)
            paths.append(path)
    return paths


def write_derived_series(out_dir: Path, stored: np.ndarray, grid: Grid,
                         source: SeriesProtocol, derived: DerivedSeries, identity: Identity, *,
                         study_uid: str, uid_seed: str) -> list[Path]:
    """Write a series the scanner derived from ``source`` (e.g. IDEAL-IQ's fat fraction).

    GE style: ``ImageType`` ``DERIVED\\PRIMARY\\IDEAL\\<map>``, the scanner's
    SeriesDescription, the source's acquisition headers with its first echo time, stored
    integers with ``RescaleSlope`` 1 and ``RescaleIntercept`` 0 (the GE scaling of the map:
    fat fraction as percent × 10, R2* in 1/s; see :mod:`.vendor_recon`).

    Parameters
    ----------
    out_dir : Path
        Directory for the files (created).
    stored : (nx, ny, nz) ndarray of uint16
        The stored values, in the grid's voxel order.
    grid : Grid
        Voxel grid of the source series.
    source : SeriesProtocol
        The acquisition the map was derived from.
    derived : DerivedSeries
        Which map (description, image type, series number offset).
    identity : Identity
        The made-up patient and exam identity.
    study_uid : str
        ``StudyInstanceUID`` of the study.
    uid_seed : str
        Entropy for every UID.

    Returns
    -------
    list of Path
        The files written, in ``InstanceNumber`` order.

    Raises
    ------
    ValueError
        ``stored`` not uint16 or not of the grid's shape.
    """
    arr = np.asarray(stored)
    if arr.dtype != np.uint16 or arr.shape != tuple(grid.shape):
        raise ValueError(f"stored must be uint16 of the grid's shape {tuple(grid.shape)}, got "
                         f"{arr.dtype} {arr.shape}")
    protocol = dataclasses.replace(source, echo_times=source.echo_times[:1],
                                   series_description=derived.series_description)
    number = 100 * source.series_number + derived.series_offset
    series_uid = _uid(uid_seed, study_uid, "series", number, derived.kind)
    base = _series_dataset(grid, protocol, identity, study_uid=study_uid,
                           series_uid=series_uid,
                           frame_uid=_uid(uid_seed, study_uid, "frame-of-reference"),
                           series_number=number, part="mag", uid_seed=uid_seed)
    iop, spacing, _, _, _ = _plane_geometry(grid)
    base.ImageType = list(derived.image_type)
    base.ImageOrientationPatient = iop
    base.PixelSpacing = spacing
    base.SpacingBetweenSlices = _ds(np.linalg.norm(grid.affine[:3, 2]))
    base.RescaleIntercept, base.RescaleSlope, base.RescaleType = "0", "1", "US"
    lo, hi = np.percentile(arr, [1.0, 99.0])
    base.WindowCenter, base.WindowWidth = _ds((hi + lo) / 2), _ds(max(hi - lo, 1.0))
    return _write_images(out_dir, base, arr[..., None], grid, protocol.echo_times, uid_seed,
                         series_uid)


def write_study(root: Path, identity: Identity,
                series: Sequence[tuple[SeriesProtocol, Grid, np.ndarray]], *,
                uid_seed: str,
                derived: Sequence[tuple[SeriesProtocol, DerivedSeries, Grid, np.ndarray]] = ()
                ) -> list[Path]:
    """Write a whole exam as a PACS export: ``root/ST<8 digits>/SE<series number>/IM<n>``.

    Parameters
    ----------
    root : Path
        Export root (created).
    identity : Identity
        Patient and exam identity shared by all series.
    series : sequence of (SeriesProtocol, Grid, ndarray)
        Each series' protocol, grid and images (see :func:`write_series`). A complex
        array is written as two series, magnitude and phase (``np.angle``, radians), as
        the raw echoes of IDEAL-IQ are; a real array is written as magnitude.
    uid_seed : str
        Entropy for the study, frame-of-reference, series and instance UIDs.
    derived : sequence of (SeriesProtocol, DerivedSeries, Grid, ndarray)
        Scanner-derived series (source protocol, which map, grid, stored uint16 values;
        :func:`write_derived_series`), written after the acquired ones.

    Returns
    -------
    list of Path
        All files written, series by series.

    Raises
    ------
    ValueError
        Two series with the same series number, or any error of :func:`write_series`.
    """
    root = Path(root)
    study_uid = _uid(uid_seed, "study", identity.patient_id, identity.accession_number)
    digits = int(hashlib.sha256(study_uid.encode()).hexdigest()[:8], 16) % 10**8
    study_dir = root / f"ST{digits:08d}"
    jobs: list[tuple[SeriesProtocol, Grid, np.ndarray, str]] = []
    for protocol, grid, images in series:
        arr = np.asarray(images)
        if np.iscomplexobj(arr):
            jobs.append((protocol, grid, np.abs(arr), "mag"))
            jobs.append((protocol, grid, np.angle(arr), "phase"))
        else:
            jobs.append((protocol, grid, arr, "mag"))
    numbers = [p.series_number + PART_SERIES_OFFSET[part] for p, _, _, part in jobs]
    extra = [100 * p.series_number + d.series_offset for p, d, _, _ in derived]
    if len(set(numbers + extra)) != len(numbers + extra):
        raise ValueError(f"two series would share a series number: {sorted(numbers)}")
    paths: list[Path] = []
    for (protocol, grid, images, part), number in zip(jobs, numbers):
        paths += write_series(study_dir / f"SE{number:04d}", images, grid, protocol, identity,
                              study_uid=study_uid, part=part, uid_seed=uid_seed)
    for (protocol, kind, grid, stored), number in zip(derived, extra):
        paths += write_derived_series(study_dir / f"SE{number:04d}", stored, grid, protocol,
                                      kind, identity, study_uid=study_uid, uid_seed=uid_seed)
    return paths
