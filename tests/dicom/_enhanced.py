"""Build an Enhanced MR Image (multi-frame) file from classic single-frame files, for tests.

The frames carry their per-image attributes in functional groups (DICOM PS3.3 C.7.6.16,
A.36.2): plane position, orientation and pixel measures, MR echo (EffectiveEchoTime),
timing, pixel value transformation (rescale) and MR image frame type (FrameType,
ComplexImageComponent); the classic per-image attributes are removed from the top level,
so an ingest that ignored the functional groups could not place or scale a single frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"

#: Classic attributes that an enhanced image keeps in functional groups instead.
PER_IMAGE = ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
             "SliceThickness", "SpacingBetweenSlices", "EchoTime", "EchoNumbers",
             "RepetitionTime", "FlipAngle", "EchoTrainLength", "RescaleSlope",
             "RescaleIntercept", "RescaleType", "ImageType", "ScanningSequence",
             "SequenceName", "SliceLocation", "InstanceNumber", "SOPInstanceUID",
             "InversionTime", "NumberOfAverages", "PercentSampling",
             "PercentPhaseFieldOfView", "InPlanePhaseEncodingDirection", "ImagesInAcquisition")

_PARTS = {"OTHER": "MAGNITUDE", "PHASE": "PHASE", "REAL": "REAL", "IMAGINARY": "IMAGINARY"}
_PULSE = {"SE": "SPIN", "GR": "GRADIENT"}


def _item(**values) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


def _groups(src: Dataset) -> dict[str, Dataset]:
    """Every functional group of one classic image, keyword → the group's single item."""
    image_type = list(src.ImageType)
    return {
        "PlanePositionSequence": _item(ImagePositionPatient=list(src.ImagePositionPatient)),
        "PlaneOrientationSequence": _item(
            ImageOrientationPatient=list(src.ImageOrientationPatient)),
        "PixelMeasuresSequence": _item(PixelSpacing=list(src.PixelSpacing),
                                       SliceThickness=src.SliceThickness,
                                       SpacingBetweenSlices=src.get("SpacingBetweenSlices")
                                       or src.SliceThickness),
        "MREchoSequence": _item(EffectiveEchoTime=float(src.EchoTime)),
        "MRTimingAndRelatedParametersSequence": _item(
            RepetitionTime=float(src.RepetitionTime), FlipAngle=float(src.FlipAngle),
            EchoTrainLength=int(src.EchoTrainLength)),
        "PixelValueTransformationSequence": _item(
            RescaleSlope=src.RescaleSlope, RescaleIntercept=src.RescaleIntercept,
            RescaleType=src.get("RescaleType") or "US"),
        "MRImageFrameTypeSequence": _item(
            FrameType=["ORIGINAL", "PRIMARY", "MIXED", "NONE"],
            ComplexImageComponent=_PARTS[image_type[2]], AcquisitionContrast="MIXED",
            PixelPresentation="MONOCHROME", VolumetricProperties="VOLUME",
            VolumeBasedCalculationTechnique="NONE"),
        "MRModifierSequence": _item(InversionRecovery="NO", SpatialPresaturation="NONE"),
        "MRFOVGeometrySequence": _item(
            InPlanePhaseEncodingDirection=src.InPlanePhaseEncodingDirection,
            PercentSampling=src.PercentSampling,
            PercentPhaseFieldOfView=src.PercentPhaseFieldOfView),
        "MRAveragesSequence": _item(NumberOfAverages=src.NumberOfAverages),
    }


#: Groups that are the same for every frame of the study's series (shared when asked).
SHAREABLE = ("PlaneOrientationSequence", "PixelMeasuresSequence",
             "MRTimingAndRelatedParametersSequence", "MRModifierSequence",
             "MRFOVGeometrySequence", "MRAveragesSequence")


def write_enhanced(files: list[Path], path: Path, *, series_number: int | None = None,
                   shared: bool = True, order: str = "file",
                   transfer_syntax: str | None = None, uid_seed: str = "enhanced") -> Path:
    """Write the classic images ``files`` as one Enhanced MR Image file at ``path``.

    Parameters
    ----------
    files : list of Path
        Classic single-frame images of one study (one or more series, e.g. magnitude and
        phase); their pixel matrices must agree.
    path : Path
        The file to write (parent folders created).
    series_number : int, optional
        SeriesNumber of the new series (default: the first file's).
    shared : bool
        Put orientation, pixel measures, timing and modifiers in the shared functional
        groups (as scanners do) instead of repeating them per frame.
    order : {"file", "reversed", "shuffled"}
        Frame order: the files' order, reversed, or a seeded shuffle (geometry, not frame
        order, must decide where a frame goes).
    transfer_syntax : str, optional
        Compress the pixel data with pydicom's encoders (e.g. RLE Lossless, JPEG 2000
        Lossless); native explicit VR little endian by default.
    """
    sources = [pydicom.dcmread(f) for f in files]
    if order == "reversed":
        sources = sources[::-1]
    elif order == "shuffled":
        sources = [sources[i] for i in np.random.default_rng(7).permutation(len(sources))]
    first = sources[0]
    ds = Dataset()
    for elem in first:
        if elem.keyword in PER_IMAGE or elem.keyword == "PixelData" or elem.tag.is_private:
            continue
        ds.add(elem)
    ds.SOPClassUID = ENHANCED_MR
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[uid_seed, str(path), "sop"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[uid_seed, str(path), "series"])
    if series_number is not None:
        ds.SeriesNumber = series_number
    ds.InstanceNumber = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "MIXED", "NONE"]
    ds.EchoPulseSequence = _PULSE[str(first.ScanningSequence)]
    ds.PulseSequenceName = str(first.get("SequenceName", ""))
    ds.NumberOfFrames = len(sources)
    groups = [_groups(src) for src in sources]
    shared_item = Dataset()
    if shared:
        for keyword in SHAREABLE:
            setattr(shared_item, keyword, Sequence([groups[0][keyword]]))
    ds.SharedFunctionalGroupsSequence = Sequence([shared_item])
    per_frame = []
    for k, g in enumerate(groups):
        item = Dataset()
        item.FrameContentSequence = Sequence([_item(FrameAcquisitionNumber=k + 1,
                                                    InStackPositionNumber=k + 1,
                                                    StackID="1")])
        for keyword, value in g.items():
            if not (shared and keyword in SHAREABLE):
                setattr(item, keyword, Sequence([value]))
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    ds.PixelData = b"".join(src.PixelData for src in sources)
    ds["PixelData"].VR = "OW"
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ENHANCED_MR
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if transfer_syntax is not None:
        ds.compress(transfer_syntax)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path
