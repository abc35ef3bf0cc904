"""A minimal JPEG lossless encoder (ITU-T T.81 process 14, selection value 1), for tests.

pydicom has no JPEG lossless encoder, and its test files in that syntax are colour images;
this one writes a greyscale DICOM frame so that the ingest's JPEG lossless path (decoded by
pylibjpeg-libjpeg) is tested on MR-like data. One Huffman table with every difference
category (0–16) coded in 5 bits keeps the encoder short; any conforming decoder reads it.
"""

from __future__ import annotations

import numpy as np

_BITS = 5  # code length of every category


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def encode_lossless(image: np.ndarray, precision: int = 16) -> bytes:
    """JPEG lossless bit stream of one greyscale ``(rows, columns)`` unsigned image.

    Predictor 1 (the left neighbour; the pixel above in the first column, 2^(P−1) for the
    first pixel), point transform 0, differences modulo 2^16 (T.81 H.1.2).
    """
    img = np.asarray(image, dtype=np.int64)
    rows, cols = img.shape
    pred = np.empty_like(img)
    pred[0, 0] = 1 << (precision - 1)
    pred[0, 1:] = img[0, :-1]
    pred[1:, 0] = img[:-1, 0]
    pred[1:, 1:] = img[1:, :-1]
    diff = (img - pred) % (1 << 16)
    diff = np.where(diff > 32768, diff - 65536, diff)
    acc, n_acc, out = 0, 0, bytearray()
    for d in diff.ravel().tolist():
        size = 0 if d == 0 else abs(d).bit_length()
        acc, n_acc = (acc << _BITS) | size, n_acc + _BITS
        if 0 < size < 16:
            extra = d if d > 0 else d + (1 << size) - 1
            acc, n_acc = (acc << size) | extra, n_acc + size
        while n_acc >= 8:
            n_acc -= 8
            byte = (acc >> n_acc) & 0xFF
            out.append(byte)
            if byte == 0xFF:
                out.append(0x00)  # byte stuffing
        acc &= (1 << n_acc) - 1
    if n_acc:
        byte = ((acc << (8 - n_acc)) | ((1 << (8 - n_acc)) - 1)) & 0xFF  # pad with ones
        out.append(byte)
        if byte == 0xFF:
            out.append(0x00)
    counts = [0] * 16
    counts[_BITS - 1] = 17
    return (b"\xff\xd8"
            + _segment(0xC3, bytes([precision]) + rows.to_bytes(2, "big")
                       + cols.to_bytes(2, "big") + bytes([1, 1, 0x11, 0]))
            + _segment(0xC4, bytes([0x00]) + bytes(counts) + bytes(range(17)))
            + _segment(0xDA, bytes([1, 1, 0x00, 1, 0, 0]))
            + bytes(out) + b"\xff\xd9")
