"""Compressed pixel data: which transfer syntaxes can be decoded here, and what to install.

pydicom decodes native (uncompressed) and deflated pixel data and RLE Lossless by itself;
every other compressed transfer syntax needs a decoder plug-in (pydicom 3 user guide,
"Pixel data decoding": the table of decoders and their plug-ins). The book installs
pip wheels without system libraries, all under permissive licences:

=================================================  =======================================
transfer syntax                                    packages
=================================================  =======================================
JPEG Baseline / Extended / Lossless (Process 14)   ``python-gdcm``
JPEG-LS Lossless / Near-Lossless                   ``python-gdcm``
JPEG 2000 (lossless and lossy), HTJ2K              ``pylibjpeg``, ``pylibjpeg-openjpeg``
RLE Lossless                                       built in (``pylibjpeg-rle`` is faster)
=================================================  =======================================

GDCM (``python-gdcm``, an Apache-2.0 wheel of the BSD-licensed library, about 40 MB) is
chosen for the JPEG family and JPEG-LS over ``pylibjpeg-libjpeg``, which is GPL-3.0 (a
user who prefers it may install it; :func:`check_decodable` accepts either).
``pylibjpeg``, ``pylibjpeg-openjpeg`` and ``pylibjpeg-rle`` are MIT licensed.

:func:`check_decodable` is run on every image before any pixel is read, so a missing
decoder is reported up front, naming the file, the transfer syntax and the package.
"""

from __future__ import annotations

from pydicom import uid as _uid
from pydicom.pixels import get_decoder
from pydicom.uid import UID

from .errors import DicomError

__all__ = ["CODEC_PACKAGES", "check_decodable", "install_hint"]

_LIBJPEG = ("python-gdcm",)
_OPENJPEG = ("pylibjpeg", "pylibjpeg-openjpeg")

#: pip packages that give pydicom a decoder for each compressed transfer syntax.
CODEC_PACKAGES: dict[str, tuple[str, ...]] = {
    _uid.JPEGBaseline8Bit: _LIBJPEG, _uid.JPEGExtended12Bit: _LIBJPEG,
    _uid.JPEGLossless: _LIBJPEG, _uid.JPEGLosslessSV1: _LIBJPEG,
    _uid.JPEGLSLossless: _LIBJPEG, _uid.JPEGLSNearLossless: _LIBJPEG,
    _uid.JPEG2000Lossless: _OPENJPEG, _uid.JPEG2000: _OPENJPEG,
    _uid.HTJ2KLossless: _OPENJPEG, _uid.HTJ2KLosslessRPCL: _OPENJPEG, _uid.HTJ2K: _OPENJPEG,
    _uid.RLELossless: ("pylibjpeg", "pylibjpeg-rle"),
}


def install_hint(transfer_syntax: str) -> str:
    """``"pip install …"`` for the decoder of ``transfer_syntax`` (``""`` if none is known).

    Parameters
    ----------
    transfer_syntax : str
        Transfer syntax UID (e.g. ``"1.2.840.10008.1.2.4.50"``, JPEG Baseline).

    Returns
    -------
    str
        The pip command installing the packages of :data:`CODEC_PACKAGES` for it (the
        JPEG family also names the GPL alternative ``pylibjpeg-libjpeg``), or ``""`` for a
        transfer syntax without a known plug-in.
    """
    packages = CODEC_PACKAGES.get(transfer_syntax)
    if not packages:
        return ""
    hint = f"pip install {' '.join(packages)}"
    return hint + " (or pylibjpeg pylibjpeg-libjpeg)" if packages == _LIBJPEG else hint


def check_decodable(transfer_syntax: str, where: str) -> None:
    """Raise unless pydicom can decode pixel data of ``transfer_syntax`` here.

    Parameters
    ----------
    transfer_syntax : str
        Transfer syntax UID of a file.
    where : str
        The file (and series) for the message.

    Raises
    ------
    DicomError
        No decoder exists for the transfer syntax (e.g. MPEG video, a private syntax), or
        its decoder plug-in is not installed: the message names the file, the transfer
        syntax (name and UID) and the packages to install.
    """
    ts = UID(transfer_syntax)
    if not ts.is_transfer_syntax:
        raise DicomError(f"{where}: unsupported transfer syntax {ts.name} ({ts}): not a "
                         "known DICOM transfer syntax")
    if not ts.is_compressed:
        return
    try:
        decoder = get_decoder(ts)
    except NotImplementedError:
        raise DicomError(f"{where}: unsupported transfer syntax {ts.name} ({ts}): pydicom "
                         "has no decoder for it; decompress the export first (e.g. "
                         "gdcmconv --raw, dcmdjpeg)") from None
    if decoder.is_available:
        return
    hint = install_hint(ts)
    missing = "; ".join(decoder.missing_dependencies)
    raise DicomError(f"{where}: pixel data compressed as {ts.name} ({ts}) and no decoder for "
                     f"it is installed: {hint or 'install a pydicom decoder plug-in'} "
                     f"(pydicom's plug-ins for it: {missing or 'none'})")
