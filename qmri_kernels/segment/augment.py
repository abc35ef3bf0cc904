"""Data augmentation for training on phantom slices: geometry, bias field, contrast, noise.

Geometry (small rotations, isotropic scaling, shifts, and left–right mirroring with the
side-specific classes swapped) is applied through the sampling grids, so image and labels move
together; the image is sampled bilinearly onto the network grid and the labels by nearest
neighbour onto the loss grid (the network grid, or a finer one at the image's resolution).
Intensity augmentation on the network input: a smooth multiplicative bias field
(receive-coil shading), a gamma contrast change, a global scale and Rician noise
(Gudbjartsson & Patz 1995, MRM 34:910). Every draw comes from one
``numpy.random.Generator``, so an augmented batch is a function of the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..labels import LABELS
from .classes import CLASS_LABELS

__all__ = ["Augmentation", "SIDE_SWAP", "geometry_grids", "augment_intensity", "sample_batch"]


def _side_swap() -> np.ndarray:
    index = {lab: c for c, lab in enumerate(CLASS_LABELS)}
    perm = np.arange(len(CLASS_LABELS))
    for lab in LABELS:
        if lab.side == "right":
            perm[index[lab.index]] = index[lab.index + 20]
            perm[index[lab.index + 20]] = index[lab.index]
    return perm


#: Class permutation exchanging every right muscle with its left twin (used with mirroring).
SIDE_SWAP: np.ndarray = _side_swap()


@dataclass(frozen=True)
class Augmentation:
    """Ranges of the random augmentation (all draws uniform unless stated).

    Attributes
    ----------
    max_rotation_deg : float
        In-plane rotation drawn from ± this, degrees.
    scale_range : (2,) tuple of float
        Isotropic scale factor range.
    max_shift_mm : float
        Shift along each in-plane axis drawn from ± this, mm.
    mirror_probability : float
        Probability (fraction) of a left–right mirror with the sides' classes swapped.
    bias_coefficient_sd : float
        Normal SD of the five coefficients of the log bias-field polynomial.
    log_gamma_sd : float
        Normal SD of log(gamma) of the contrast change.
    scale_intensity : (2,) tuple of float
        Global intensity factor range.
    noise_sd : (2,) tuple of float
        Range of the Rician noise SD, in units of the normalised intensity.
    """

    max_rotation_deg: float = 10.0
    scale_range: tuple[float, float] = (0.9, 1.1)
    max_shift_mm: float = 10.0
    mirror_probability: float = 0.5
    bias_coefficient_sd: float = 0.2     # normal SD of the bias-field polynomial coefficients
    log_gamma_sd: float = 0.2            # normal SD of log(gamma)
    scale_intensity: tuple[float, float] = (0.85, 1.15)
    noise_sd: tuple[float, float] = (0.0, 0.04)   # of the normalised intensity


def _centred(n: int, spacing: float) -> np.ndarray:
    return (np.arange(n) - (n - 1) / 2) * spacing


def geometry_grids(rng: np.random.Generator, batch: int, image_shape: tuple[int, int],
                   image_spacing: tuple[float, float], net_shape: tuple[int, int],
                   net_spacing: float, aug: Augmentation | None, label_factor: int = 2
                   ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Per-sample sampling grids for the image (network grid) and labels (loss grid).

    The loss grid covers the network grid's field of view at ``1 / label_factor`` of its
    pixel size; a network pixel's logits, upsampled ×``label_factor``, line up with it.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the rotation, scale, mirroring and shift of each sample (nothing is
        drawn when ``aug`` is None).
    batch : int
        Number of samples.
    image_shape : (2,) tuple of int
        (nx, ny) of the source slices.
    image_spacing : (2,) tuple of float
        Pixel spacing of the source slices, mm.
    net_shape : (2,) tuple of int
        (H, W) of the network grid.
    net_spacing : float
        Pixel size of the network grid, mm.
    aug : Augmentation or None
        Ranges of the geometric draws; None gives the identity (centred, unscaled,
        unmirrored) for every sample.
    label_factor : int
        Loss-grid refinement ``f`` (2: labels at half the network pixel size).

    Returns
    -------
    image_grid : (batch, H, W, 2) tensor of float32
        :func:`torch.nn.functional.grid_sample` coordinates (normalised to [-1, 1],
        ``align_corners=False``) into the source slices for the network input.
    label_grid : (batch, f·H, f·W, 2) tensor of float32
        The same transform sampled on the loss grid.
    mirrored : (batch,) ndarray of bool
        Which samples were mirrored left–right (their classes must be swapped with
        :data:`SIDE_SWAP`; :func:`sample_batch` does it).
    """
    mats, shifts, mirrored = [], [], []
    for _ in range(batch):
        if aug is None:
            mats.append(np.eye(2))
            shifts.append(np.zeros(2))
            mirrored.append(False)
            continue
        th = np.deg2rad(rng.uniform(-aug.max_rotation_deg, aug.max_rotation_deg))
        s = rng.uniform(*aug.scale_range)
        m = s * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
        mirror = rng.uniform() < aug.mirror_probability
        if mirror:
            m = m @ np.diag([-1.0, 1.0])
        mats.append(m)
        shifts.append(rng.uniform(-aug.max_shift_mm, aug.max_shift_mm, size=2))
        mirrored.append(mirror)
    grids = []
    f = int(label_factor)
    for shape, spacing in ((net_shape, net_spacing),
                           ((f * net_shape[0], f * net_shape[1]), net_spacing / f)):
        A, B = np.meshgrid(_centred(shape[0], spacing), _centred(shape[1], spacing),
                           indexing="ij")
        out = np.empty((batch,) + tuple(shape) + (2,), dtype=np.float32)
        for n, (m, t) in enumerate(zip(mats, shifts)):
            a = m[0, 0] * A + m[0, 1] * B + t[0]
            b = m[1, 0] * A + m[1, 1] * B + t[1]
            ia = (image_shape[0] - 1) / 2 + a / image_spacing[0]
            ib = (image_shape[1] - 1) / 2 + b / image_spacing[1]
            out[n, ..., 0] = (2 * ib + 1) / image_shape[1] - 1
            out[n, ..., 1] = (2 * ia + 1) / image_shape[0] - 1
        grids.append(torch.from_numpy(out))
    return grids[0], grids[1], np.asarray(mirrored)


def augment_intensity(x: torch.Tensor, rng: np.random.Generator,
                      aug: Augmentation) -> torch.Tensor:
    """Bias field, gamma, scale and Rician noise on a (B, 1, H, W) batch (new tensor).

    Per sample: intensities clipped at 0, multiplied by exp of a random quadratic
    polynomial over the slice (bias field), raised to a log-normal gamma, scaled, then
    given Rician noise of a random SD (magnitude of the image plus complex Gaussian noise).

    Parameters
    ----------
    x : (B, 1, H, W) tensor of float32
        Normalised network input; not modified.
    rng : numpy.random.Generator
        Source of every draw (the batch is a function of its state).
    aug : Augmentation
        Ranges of the bias coefficients, log-gamma, scale and noise SD (noise SD in units
        of the normalised intensity).

    Returns
    -------
    (B, 1, H, W) tensor of float32
        The augmented batch, non-negative.
    """
    b, _, h, w = x.shape
    u = torch.linspace(-1, 1, h)[:, None]
    v = torch.linspace(-1, 1, w)[None, :]
    out = torch.empty_like(x)
    for n in range(b):
        c = rng.normal(0, aug.bias_coefficient_sd, size=5)
        bias = torch.exp(c[0] * u + c[1] * v + c[2] * u * u + c[3] * v * v + c[4] * u * v)
        gamma = float(np.exp(rng.normal(0, aug.log_gamma_sd)))
        img = (x[n, 0].clamp(min=0) * bias).pow(gamma) * rng.uniform(*aug.scale_intensity)
        sd = rng.uniform(*aug.noise_sd)
        noise = torch.from_numpy(rng.standard_normal((2, h, w)).astype(np.float32)) * sd
        out[n, 0] = torch.sqrt((img + noise[0]) ** 2 + noise[1] ** 2)
    return out


def sample_batch(images: torch.Tensor, classes: torch.Tensor, image_grid: torch.Tensor,
                 label_grid: torch.Tensor, mirrored: np.ndarray
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Resample a (B, nx, ny) batch of images and classes through the grids.

    Parameters
    ----------
    images : (B, nx, ny) tensor of float32
        Normalised slices.
    classes : (B, nx, ny) tensor of int
        Class indices (:data:`~qmri_kernels.segment.CLASS_LABELS`) of the same slices.
    image_grid : (B, H, W, 2) tensor
        From :func:`geometry_grids`; images are sampled bilinearly, zero outside.
    label_grid : (B, f·H, f·W, 2) tensor
        From :func:`geometry_grids`; classes are sampled by nearest neighbour,
        background (0) outside.
    mirrored : (B,) ndarray of bool
        Samples whose right and left muscle classes are exchanged (:data:`SIDE_SWAP`).

    Returns
    -------
    images : (B, 1, H, W) tensor of float32
        The network input.
    classes : (B, f·H, f·W) tensor of int64
        The loss target.
    """
    img = F.grid_sample(images[:, None], image_grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)
    lab = F.grid_sample(classes[:, None].float(), label_grid, mode="nearest",
                        padding_mode="zeros", align_corners=False)[:, 0].round().long()
    if mirrored.any():
        swap = torch.from_numpy(SIDE_SWAP)
        idx = torch.from_numpy(np.flatnonzero(mirrored))
        lab[idx] = swap[lab[idx]]
    return img, lab
