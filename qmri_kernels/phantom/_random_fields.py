"""Smooth random fields defined analytically in world coordinates.

Every random quantity of the phantom (muscle border wobble, B0, B1, coil shading,
patchy disease) is a closed-form function of the world position drawn once from a seed,
so that sampling the same subject on different grids (the three series of the protocol)
gives the same object.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FourierField:
    """f(p) = Σ_k a_k cos(2π w_k·p + φ_k), a smooth zero-mean field.

    Attributes
    ----------
    wavevectors : (K, D) ndarray
        Spatial frequencies in cycles per unit of p.
    amplitudes, phases : (K,) ndarray
    """

    wavevectors: np.ndarray
    amplitudes: np.ndarray
    phases: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, n_modes: int, dim: int, wavelength: float,
             rms: float = 1.0) -> "FourierField":
        """Random modes with wavelengths around ``wavelength`` and total RMS ``rms``."""
        direction = rng.normal(size=(n_modes, dim))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        freq = rng.uniform(0.6, 1.4, size=(n_modes, 1)) / wavelength
        amps = rng.uniform(0.5, 1.0, size=n_modes)
        amps *= rms * np.sqrt(2.0 / np.sum(amps ** 2))
        phases = rng.uniform(0, 2 * np.pi, size=n_modes)
        return cls(direction * freq, amps, phases)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """Evaluate at ``points`` of shape (..., D)."""
        arg = 2 * np.pi * (points @ self.wavevectors.T) + self.phases
        return np.cos(arg) @ self.amplitudes


@dataclass(frozen=True)
class BlobField:
    """Sum of isotropic Gaussian blobs: f(p) = Σ_k h_k exp(−|p − c_k|² / (2 σ_k²))."""

    centres: np.ndarray
    sigmas: np.ndarray
    heights: np.ndarray

    def __call__(self, points: np.ndarray) -> np.ndarray:
        out = np.zeros(points.shape[:-1])
        for c, s, h in zip(self.centres, self.sigmas, self.heights):
            d2 = np.sum((points - c) ** 2, axis=-1)
            out += h * np.exp(-0.5 * d2 / s ** 2)
        return out
