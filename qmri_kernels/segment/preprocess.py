"""From a T2-weighted volume to the network's input, and the network's logits back.

The network sees each axial slice on one fixed physical grid (see :data:`NETWORK_INPUT`):
the slice is brought to the canonical orientation through its affine (array axis 0 towards
the patient's left, axis 1 posterior), normalised per volume, resampled bilinearly onto
``net_shape`` pixels of ``net_spacing_mm`` centred on the image centre, and given two
coordinate channels. Logits are resampled back onto the image's own pixels before the argmax,
so the label boundaries are placed at the image's resolution.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._netgrid import coordinate_channels, resample, sampling_grid, to_canonical

__all__ = ["NETWORK_INPUT", "normalise_volume", "network_input", "logits_to_image_grid",
           "in_plane_spacing"]

#: Default input geometry: 176 × 112 pixels of 2.5 mm (440 × 280 mm, both thighs with
#: margin), coordinate channels scaled by 200 mm, intensities divided by the 99th percentile.
NETWORK_INPUT: dict[str, Any] = {"net_shape": [176, 112], "net_spacing_mm": 2.5,
                                 "coord_scale_mm": 200.0, "percentile": 99.0}


def normalise_volume(volume: Any, percentile: float = 99.0) -> np.ndarray:
    """Divide a magnitude volume by its ``percentile``-th percentile (float32).

    One scale per volume keeps the contrast between slices (a per-slice scale would not) and
    makes the input independent of the scanner's arbitrary units.

    Parameters
    ----------
    volume : array-like
        Magnitude image, any shape (normally (nx, ny, nz)), any units.
    percentile : float
        Percentile (0–100) of all voxels that becomes 1.

    Returns
    -------
    ndarray of float32, same shape
        ``volume / scale``: dimensionless, 1 at the percentile (a few brighter voxels
        exceed 1).

    Raises
    ------
    ValueError
        If the volume has non-finite values or its percentile is not positive.
    """
    vol = np.asarray(volume, dtype=np.float32)
    if not np.all(np.isfinite(vol)):
        raise ValueError("volume has NaN or infinite values")
    scale = float(np.percentile(vol, percentile))
    if not scale > 0:
        raise ValueError(f"volume's {percentile}th percentile is {scale}; expected a positive "
                         "magnitude image")
    return vol / scale


def in_plane_spacing(affine: np.ndarray) -> tuple[float, float]:
    """Pixel spacing (mm) along array axes 0 and 1 of an affine.

    Parameters
    ----------
    affine : (4, 4) array-like
        Voxel-to-world (RAS mm) affine.

    Returns
    -------
    (float, float)
        Lengths of the first two columns of the affine's 3 × 3 part, mm.

    Examples
    --------
    >>> in_plane_spacing(np.diag([-1.5, 2.0, 6.0, 1.0]))
    (1.5, 2.0)
    """
    z = np.linalg.norm(np.asarray(affine, dtype=float)[:3, :2], axis=0)
    return float(z[0]), float(z[1])


def network_input(volume: Any, affine: Any, config: dict | None = None
                  ) -> tuple[torch.Tensor, dict]:
    """Network input for every slice of a volume.

    Parameters
    ----------
    volume : (nx, ny, nz) array-like
        Magnitude image, any axial orientation.
    affine : (4, 4) array-like
        Its voxel-to-world (RAS mm) affine.
    config : dict, optional
        Input geometry (default :data:`NETWORK_INPUT`).

    Returns
    -------
    x : (nz, 3, H, W) float32 tensor
        Per slice: the normalised image resampled onto the network grid (H, W =
        ``config["net_shape"]``), then the two coordinate channels (offset from the
        image centre towards left and posterior, mm / ``coord_scale_mm``).
    context : dict
        What :func:`logits_to_image_grid` needs to go back (canonical shape and spacing,
        original orientation).

    Raises
    ------
    ValueError
        If ``volume`` is not 3-D, ``affine`` is not (4, 4), or the volume has non-finite
        values or no positive intensity (:func:`normalise_volume`).
    """
    cfg = dict(NETWORK_INPUT if config is None else config)
    vol = np.asarray(volume)
    if vol.ndim != 3:
        raise ValueError(f"volume must be 3-D (nx, ny, nz), got shape {vol.shape}")
    aff = np.asarray(affine, dtype=float)
    if aff.shape != (4, 4):
        raise ValueError(f"affine must be (4, 4), got {aff.shape}")
    canon, aff_c, original = to_canonical(vol, aff)
    norm = normalise_volume(canon, cfg["percentile"])
    spacing = in_plane_spacing(aff_c)
    net_shape = tuple(int(s) for s in cfg["net_shape"])
    p = float(cfg["net_spacing_mm"])
    grid = sampling_grid(canon.shape[:2], spacing, net_shape, (p, p))
    slices = torch.from_numpy(np.ascontiguousarray(np.moveaxis(norm, 2, 0)[:, None]))
    img = resample(slices, grid)
    coords = coordinate_channels(net_shape, p, float(cfg["coord_scale_mm"]))
    x = torch.cat([img, coords.expand(img.shape[0], -1, -1, -1)], dim=1)
    context = {"canonical_shape": canon.shape, "spacing": spacing, "original": original,
               "net_shape": net_shape, "net_spacing_mm": p}
    return x, context


def logits_to_image_grid(logits: torch.Tensor, context: dict) -> torch.Tensor:
    """Resample (nz, C, H, W) network logits onto the canonical image pixels (nz, C, nx, ny).

    Outside the network's field of view the edge logits are continued (``border``).

    Parameters
    ----------
    logits : (nz, C, H, W) tensor of float
        Network output (or log-probabilities) on the network grid.
    context : dict
        The ``context`` :func:`network_input` returned for the same volume.

    Returns
    -------
    (nz, C, nx, ny) tensor of float
        Bilinearly resampled onto the volume's own pixels in canonical orientation
        (axis 0 towards the patient's left, axis 1 posterior); apply the argmax there.
    """
    shape = context["canonical_shape"]
    p = context["net_spacing_mm"]
    grid = sampling_grid(context["net_shape"], (p, p), shape[:2], context["spacing"])
    return resample(logits, grid, padding_mode="border")
