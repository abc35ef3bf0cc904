"""Read the header of one DICOM file (pixel data left on disk) into an :class:`ImageHeader`.

Only what grouping, classification, sorting and checking need is parsed; the pydicom
data set (without pixel data) is kept for de-identification and the sidecar. Units are
converted here, once: DICOM echo and repetition times (ms) become seconds.

:func:`read_headers` turns a folder's files into *images*: an enhanced multi-frame file
becomes one :class:`ImageHeader` per frame (:mod:`.enhanced`), and objects that hold no
image — a DICOMDIR, presentation states, structured reports, a header without pixel
data — are skipped with their reason in the log and a
:class:`~qmri_kernels.dicom.errors.DicomWarning` (:func:`skip_reason`).
"""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.dataelem import RawDataElement
from pydicom.errors import InvalidDicomError
from pydicom.tag import BaseTag
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian
from pydicom.multival import MultiValue

from .enhanced import frame_datasets, has_functional_groups
from .errors import DicomError, report_skip

__all__ = ["ImageHeader", "read_header", "read_headers", "split_frames", "skip_reason",
           "MEDIA_DIRECTORY_SOP_CLASS"]

_PIXEL_DATA = 0x7FE00010
#: Pixel Data, Float Pixel Data, Double Float Pixel Data.
_ANY_PIXEL_DATA = (0x7FE00010, 0x7FE00008, 0x7FE00009)
_DEFER_BYTES = 2048  # values larger than this (pixel data) are skipped, not read

#: SOP class of a DICOMDIR (Media Storage Directory Storage, PS3.4 Annex F).
MEDIA_DIRECTORY_SOP_CLASS = "1.2.840.10008.1.3.10"


@dataclass(frozen=True, eq=False)
class ImageHeader:
    """Parsed header of one image file.

    Attributes that a file may lack are ``None`` (nibabel's wrapper convention).

    Attributes
    ----------
    path : Path
        The file.
    name : str
        The file relative to the ingest root, used in every message.
    dataset : pydicom.Dataset
        Header elements only (pixel data skipped while reading, then dropped).
    transfer_syntax : str
        Transfer syntax UID (implicit VR little endian for files without file meta).
    sop_instance_uid, series_uid, study_uid : str or None
    patient_key : str or None
        PatientID (or PatientName if there is no ID); only compared, never printed.
    series_number : int or None
    series_description : str
    image_type : tuple of str
    echo_time : float or None
        Seconds.
    echo_number : int or None
    repetition_time : float or None
        Seconds.
    orientation : (6,) ndarray or None
        ImageOrientationPatient (LPS direction cosines of rows then columns).
    position : (3,) ndarray or None
        ImagePositionPatient, LPS mm, centre of the first pixel.
    pixel_spacing : (2,) ndarray or None
        [row spacing, column spacing] in mm.
    rows, columns : int or None
    n_frames : int
        NumberOfFrames of the file (1 for single-frame images).
    frame : int or None
        0-based frame of an enhanced multi-frame file this image is (``None``: the whole
        file is the image).
    sop_class : str
        SOPClassUID (of the file meta if the data set has none; ``""`` if neither).
    has_pixel_data : bool
        Whether the file holds pixel data.
    preamble : bool
        Whether the file has a Part 10 preamble (``False``: read with ``force=True``).
    pixel_offset, pixel_length : int or None
        Byte offset and length of the native (uncompressed, defined-length) pixel data in
        the file, for reading it without parsing the header again; ``None`` otherwise.
    """

    path: Path
    name: str
    dataset: Dataset = field(repr=False)
    transfer_syntax: str
    sop_instance_uid: str | None
    series_uid: str | None
    study_uid: str | None
    patient_key: str | None
    series_number: int | None
    series_description: str
    image_type: tuple[str, ...]
    echo_time: float | None
    echo_number: int | None
    repetition_time: float | None
    orientation: np.ndarray | None
    position: np.ndarray | None
    pixel_spacing: np.ndarray | None
    rows: int | None
    columns: int | None
    n_frames: int
    preamble: bool = True
    pixel_offset: int | None = None
    pixel_length: int | None = None
    frame: int | None = None
    sop_class: str = ""
    has_pixel_data: bool = True


def _value(ds: Dataset, keyword: str, convert, name: str):
    """``convert(value)`` of element ``keyword``; ``None`` if absent or empty."""
    if keyword not in ds:
        return None
    value = ds[keyword].value
    if value is None or (isinstance(value, (str, bytes, MultiValue, list)) and len(value) == 0):
        return None
    try:
        return convert(value)
    except (TypeError, ValueError, OverflowError, IndexError) as exc:
        raise DicomError(f"{name}: malformed {keyword} {str(value)[:40]!r} ({exc})") from None


def _first_int(value) -> int:
    return int(value[0] if isinstance(value, (MultiValue, list)) else value)


def _floats(n: int):
    """Converter of a multi-valued DS/FD element to an (n,) float array."""
    def convert(value) -> np.ndarray:
        items = list(value) if isinstance(value, (MultiValue, list, tuple)) else [value]
        arr = np.array([float(v) for v in items])
        if arr.shape != (n,) or not np.all(np.isfinite(arr)):
            raise ValueError(f"expected {n} finite numbers")
        return arr
    return convert


def _truncation(ds: Dataset, size: int) -> str | None:
    """Why the data set read from a file of ``size`` bytes is cut short, or ``None``.

    pydicom stops quietly at the end of a file; the signs of truncation are a value
    shorter than its stated length, a deferred value (pixel data) that would end beyond
    the file, or bytes left over after the last element. An image storage object
    without pixel data is *not* one: it is a header-only object, skipped by
    :func:`read_headers` with its reason.
    """
    last_end = None
    for tag in ds.keys():
        raw = ds.get_item(tag, keep_deferred=True)
        if not isinstance(raw, RawDataElement) or raw.length == 0xFFFFFFFF:
            last_end = None  # converted or undefined length: no end offset known
            continue
        end = raw.value_tell + raw.length
        if raw.value is not None and len(raw.value) < raw.length:
            return f"element {BaseTag(tag)} has {len(raw.value)} of {raw.length} bytes"
        if end > size:
            return f"element {BaseTag(tag)} would end at byte {end}, the file has {size}"
        last_end = end
    if last_end is not None and 0 < size - last_end < 8:
        return f"{size - last_end} stray bytes after the last complete element"
    return None


def read_header(path: Path, root: Path | None = None, *, preamble: bool = True) -> ImageHeader:
    """Read one file's header (no pixel data).

    Parameters
    ----------
    path : Path
        A DICOM file.
    root : Path, optional
        Folder that messages name files relative to.
    preamble : bool
        ``False`` for data sets without a Part 10 preamble (read with ``force=True``).

    Returns
    -------
    ImageHeader
        The parsed header (times in s, positions in LPS mm), with the offset and length
        of the pixel data in the file when it has any.

    Raises
    ------
    DicomError
        The file is corrupt or truncated inside its header, or a value is malformed.
    """
    path = Path(path)
    name = str(path.relative_to(root)) if root is not None else str(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's value-validation chatter
            ds = pydicom.dcmread(path, defer_size=_DEFER_BYTES, force=not preamble)
        meta = getattr(ds, "file_meta", None)
        deflated = meta is not None and str(meta.get("TransferSyntaxUID", "")) == \
            DeflatedExplicitVRLittleEndian
        # offsets of a deflated data set refer to the inflated stream, not the file
        problem = None if deflated else _truncation(ds, os.path.getsize(path))
    except (InvalidDicomError, EOFError, struct.error, ValueError, KeyError, IndexError,
            TypeError, OverflowError, NotImplementedError, UnicodeDecodeError) as exc:
        raise DicomError(f"{name}: corrupt or truncated DICOM file "
                         f"({type(exc).__name__}: {str(exc)[:120]})") from None
    except OSError as exc:
        raise DicomError(f"{name}: cannot be read ({exc})") from None
    if problem:
        raise DicomError(f"{name}: corrupt or truncated DICOM file ({problem})")
    pixel_offset = pixel_length = None
    has_pixel_data = any(tag in ds for tag in _ANY_PIXEL_DATA)
    if _PIXEL_DATA in ds:
        raw = ds.get_item(_PIXEL_DATA, keep_deferred=True)
        if isinstance(raw, RawDataElement) and raw.length != 0xFFFFFFFF and not deflated:
            pixel_offset, pixel_length = int(raw.value_tell), int(raw.length)
        del ds[_PIXEL_DATA]  # read again when the series is converted
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if not ts:
        ts = pydicom.uid.ImplicitVRLittleEndian
    sop_class = str(ds.get("SOPClassUID") or "").strip() or (
        str(meta.get("MediaStorageSOPClassUID") or "").strip() if meta is not None else "")
    return _header(path, name, ds, ts, preamble=preamble, pixel_offset=pixel_offset,
                   pixel_length=pixel_length, sop_class=sop_class,
                   has_pixel_data=has_pixel_data)


def _header(path: Path, name: str, ds: Dataset, ts: str, *, frame: int | None = None,
            n_frames: int | None = None, **file_fields) -> ImageHeader:
    """An :class:`ImageHeader` from a (file's or frame's) data set."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        patient = ds.get("PatientID") or ds.get("PatientName")
        raw_type = ds.get("ImageType") or []
        image_type = tuple(str(v).strip().upper() for v in
                           (raw_type if isinstance(raw_type, (MultiValue, list)) else [raw_type]))
        echo_ms = _value(ds, "EchoTime", float, name)
        tr_ms = _value(ds, "RepetitionTime", float, name)
        return ImageHeader(
            path=path, name=name, dataset=ds, transfer_syntax=ts,
            sop_instance_uid=_value(ds, "SOPInstanceUID", str, name),
            series_uid=_value(ds, "SeriesInstanceUID", str, name),
            study_uid=_value(ds, "StudyInstanceUID", str, name),
            patient_key=str(patient) if patient else None,
            series_number=_value(ds, "SeriesNumber", int, name),
            series_description=str(ds.get("SeriesDescription") or "").strip(),
            image_type=image_type,
            echo_time=None if echo_ms is None else echo_ms * 1e-3,
            echo_number=_value(ds, "EchoNumbers", _first_int, name),
            repetition_time=None if tr_ms is None else tr_ms * 1e-3,
            orientation=_value(ds, "ImageOrientationPatient", _floats(6), name),
            position=_value(ds, "ImagePositionPatient", _floats(3), name),
            pixel_spacing=_value(ds, "PixelSpacing", _floats(2), name),
            rows=_value(ds, "Rows", int, name),
            columns=_value(ds, "Columns", int, name),
            n_frames=n_frames or _value(ds, "NumberOfFrames", int, name) or 1,
            frame=frame, **file_fields,
        )


def split_frames(header: ImageHeader) -> list[ImageHeader]:
    """The frames of an enhanced multi-frame image, each as an image of its own.

    Parameters
    ----------
    header : ImageHeader
        A file read by :func:`read_header`.

    Returns
    -------
    list of ImageHeader
        ``[header]`` for a file without functional groups; otherwise one header per frame
        (:func:`~qmri_kernels.dicom.enhanced.frame_datasets`), named
        ``"<file> frame <n>"`` (1-based) in messages, ``frame`` the 0-based index.

    Raises
    ------
    DicomError
        The functional groups are malformed (named with the file).
    """
    ds = header.dataset
    if not has_functional_groups(ds):
        return [header]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frames = frame_datasets(ds)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise DicomError(f"{header.name}: malformed multi-frame functional groups "
                         f"({exc})") from None
    fields = dict(preamble=header.preamble, pixel_offset=header.pixel_offset,
                  pixel_length=header.pixel_length, sop_class=header.sop_class,
                  has_pixel_data=header.has_pixel_data)
    return [_header(header.path, f"{header.name} frame {k + 1}", fds, header.transfer_syntax,
                    frame=k, n_frames=len(frames), **fields)
            for k, fds in enumerate(frames)]


def skip_reason(header: ImageHeader) -> str | None:
    """Why a DICOM file is not an image the ingest reads, or ``None`` if it is one.

    A media directory (DICOMDIR) and every object without pixel data — presentation
    states, structured reports, key-object selections, raw data, spectroscopy, or an
    image header whose pixels were left out of the export — hold no image.

    Parameters
    ----------
    header : ImageHeader
        A file's header, as :func:`read_header` returns it.

    Returns
    -------
    str or None
        A sentence naming what the file is instead (with its SOP class name), or ``None``
        when it holds pixel data of an image.
    """
    sop = header.sop_class
    sop_name = UID(sop).name if sop else "no SOPClassUID"
    if sop == MEDIA_DIRECTORY_SOP_CLASS:
        return "a media directory (DICOMDIR), not an image; files are found by walking the tree"
    if header.has_pixel_data:
        return None
    if "Presentation State" in sop_name:
        return f"a presentation state ({sop_name}): display settings, no pixel data"
    if " SR " in f" {sop_name} " or "Structured Report" in sop_name:
        return f"a structured report ({sop_name}): no pixel data"
    if "Key Object" in sop_name:
        return f"a key object selection ({sop_name}): no pixel data"
    if "Image Storage" in sop_name:
        return f"an image header without pixel data ({sop_name}): a header-only export"
    return f"a non-image object ({sop_name}): no pixel data"


def read_headers(files: list[tuple[Path, bool]], root: Path) -> list[ImageHeader]:
    """The images in ``files`` (as :func:`~qmri_kernels.dicom.discover.discover` returns them).

    Enhanced multi-frame files are split into their frames (:func:`split_frames`). Files
    that hold no image (:func:`skip_reason`), and files without Part 10 preamble that do
    not read as a data set with an SOP class, are skipped, each with its reason logged and
    given as a :class:`~qmri_kernels.dicom.errors.DicomWarning`.

    Parameters
    ----------
    files : list of (Path, bool)
        Each file and whether it has a Part 10 preamble.
    root : Path
        Folder that messages name files relative to.

    Returns
    -------
    list of ImageHeader
        One header per image, in the order of ``files``; one per frame for enhanced
        multi-frame files.

    Raises
    ------
    DicomError
        A file with the Part 10 preamble that is corrupt or truncated.
    """
    out = []
    for path, preamble in files:
        if not preamble:
            # a file without the DICM marker only looked like a data set: if it does not
            # read as one with an SOP class, it is junk to skip, not a broken image
            try:
                header = read_header(path, root, preamble=False)
            except DicomError as exc:
                report_skip(f"{exc}; skipped")
                continue
            if not header.dataset.get("SOPClassUID"):
                report_skip(f"{header.name}: not a DICOM file (no SOPClassUID); skipped")
                continue
        else:
            header = read_header(path, root, preamble=True)
        reason = skip_reason(header)
        if reason is not None:
            report_skip(f"{header.name}: {reason}; skipped")
            continue
        out.extend(split_frames(header))
    return out
