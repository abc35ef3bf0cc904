"""Geometry between a slice stack and the network's fixed in-plane grid (private).

The network sees every slice on one physical grid: ``net_shape`` pixels of ``net_spacing_mm``
centred on the image centre, in the canonical orientation (array axis 0 towards the patient's
left, axis 1 towards posterior, axis 2 towards superior — the phantom's and the scanner's
default axial NIfTI view). Images of any matrix, field of view or axis order are brought
there through their affine and the logits are sampled back, so the network's physical scale
and the patient's left/right never depend on how a series was stored.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import torch
import torch.nn.functional as F

#: Axis codes (nibabel convention: the direction each array axis points to) of the network.
CANONICAL_AXCODES: tuple[str, str, str] = ("L", "P", "S")
_CANONICAL_ORNT = nib.orientations.axcodes2ornt(CANONICAL_AXCODES)


def to_canonical(volume: np.ndarray, affine: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reorder/flip axes to :data:`CANONICAL_AXCODES`.

    Returns the reoriented volume, its affine, and the volume's original orientation
    (a nibabel ``ornt`` array) for :func:`from_canonical`.
    """
    current = nib.orientations.io_orientation(affine)
    transform = nib.orientations.ornt_transform(current, _CANONICAL_ORNT)
    out = nib.orientations.apply_orientation(volume, transform)
    new_affine = affine @ nib.orientations.inv_ornt_aff(transform, volume.shape)
    return np.ascontiguousarray(out), new_affine, current


def from_canonical(volume: np.ndarray, original: np.ndarray) -> np.ndarray:
    """Bring a canonical-orientation array back to the ``original`` orientation."""
    transform = nib.orientations.ornt_transform(_CANONICAL_ORNT, original)
    return np.ascontiguousarray(nib.orientations.apply_orientation(volume, transform))


def sampling_grid(in_shape: tuple[int, int], in_spacing: tuple[float, float],
                  out_shape: tuple[int, int], out_spacing: tuple[float, float],
                  transform: np.ndarray | None = None) -> torch.Tensor:
    """``grid_sample`` grid taking an image on one centred grid to another.

    Both grids are centred on the same point; pixel (a, b) of the output lies at offset
    ``((a - (na-1)/2) * sa, (b - (nb-1)/2) * sb)`` mm, optionally mapped by the 2×2
    ``transform`` (rotation/scaling for augmentation), and is looked up in the input.

    Returns
    -------
    (1, out_shape[0], out_shape[1], 2) float32 tensor
        Normalised coordinates (align_corners=False); last axis (x along W, y along H).
    """
    oa = (np.arange(out_shape[0]) - (out_shape[0] - 1) / 2) * out_spacing[0]
    ob = (np.arange(out_shape[1]) - (out_shape[1] - 1) / 2) * out_spacing[1]
    A, B = np.meshgrid(oa, ob, indexing="ij")
    if transform is not None:
        A, B = (transform[0, 0] * A + transform[0, 1] * B,
                transform[1, 0] * A + transform[1, 1] * B)
    ia = (in_shape[0] - 1) / 2 + A / in_spacing[0]       # continuous input index, axis 0
    ib = (in_shape[1] - 1) / 2 + B / in_spacing[1]
    y = (2 * ia + 1) / in_shape[0] - 1                      # H axis
    x = (2 * ib + 1) / in_shape[1] - 1                      # W axis
    return torch.from_numpy(np.stack([x, y], axis=-1)[None].astype(np.float32))


def coordinate_channels(net_shape: tuple[int, int], net_spacing: float,
                        scale_mm: float = 200.0) -> torch.Tensor:
    """(2, H, W) in-plane offsets from the image centre (mm / ``scale_mm``): left, posterior."""
    a = (np.arange(net_shape[0]) - (net_shape[0] - 1) / 2) * net_spacing / scale_mm
    b = (np.arange(net_shape[1]) - (net_shape[1] - 1) / 2) * net_spacing / scale_mm
    A, B = np.meshgrid(a, b, indexing="ij")
    return torch.from_numpy(np.stack([A, B]).astype(np.float32))


def resample(images: torch.Tensor, grid: torch.Tensor, mode: str = "bilinear",
             padding_mode: str = "zeros") -> torch.Tensor:
    """``grid_sample`` of a (N, C, H, W) batch with one grid (broadcast over N)."""
    return F.grid_sample(images, grid.expand(images.shape[0], -1, -1, -1), mode=mode,
                         padding_mode=padding_mode, align_corners=False)
