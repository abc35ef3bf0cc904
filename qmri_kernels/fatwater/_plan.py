"""Per-acquisition tables the kernels share: fat basis, ψ and R2* grids, Gram matrices.

Built once per :class:`~qmri_kernels.fatwater.FatWaterModel` (they depend only on the echo
times, the field strength and the fat spectrum), read-only afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..physics import FatSpectrum
from ._model import fat_phasor

#: R2* grid (1/s) of the variable-projection search. The search only has to find the basin
#: of each field-map minimum; the per-voxel refinement then fits R2* continuously. Spans
#: long-T2* tissue (0), muscle and fat (≈ 30–60 1/s, Schwenzer 2009) and short-T2* tissue.
DEFAULT_R2STAR_GRID: tuple[float, ...] = (0.0, 50.0, 150.0, 400.0)

#: Spacing of the ψ grid, Hz; minima of the cost lie ≥ ~200 Hz apart at 3 T with
#: ΔTE = 1.5 ms, and a parabola through the three grid values refines each one.
DEFAULT_PSI_STEP_HZ: float = 10.0


@dataclass(frozen=True)
class Plan:
    """Tables of one acquisition.

    Attributes
    ----------
    te : (N,) float64           echo times, s
    c : (N,) complex128         fat basis Σ_p a_p exp(i2π f_p t_n)
    period : float              period of the cost in ψ (1/ΔTE, Hz) for uniform echo
                                spacing, else 0 (not periodic)
    psi_grid : (G,) float64     ψ grid, Hz
    phasors_re, phasors_im : (N, G) float64  real and imaginary parts of exp(−i2π ψ_g t_n)
    r2_grid : (R,) float64      R2* grid, 1/s
    decay : (R, N) float64      exp(−R2*_r t_n)
    gram : (R, 5) float64       (g11, Re g12, Im g12, g22, det) of A^H A for A = [d, c·d]
    """

    te: np.ndarray
    c: np.ndarray
    period: float
    psi_grid: np.ndarray
    phasors_re: np.ndarray
    phasors_im: np.ndarray
    r2_grid: np.ndarray
    decay: np.ndarray
    gram: np.ndarray

    @property
    def periodic(self) -> bool:
        return self.period > 0.0


def make_plan(echo_times: np.ndarray, field_strength: float, fat_spectrum: FatSpectrum,
              psi_step_hz: float = DEFAULT_PSI_STEP_HZ,
              r2_grid=DEFAULT_R2STAR_GRID) -> Plan:
    """Build the :class:`Plan` of validated ``echo_times`` (s).

    With uniform echo spacing ΔTE the VARPRO cost is periodic in ψ with period 1/ΔTE (a
    shift multiplies every echo by the same phase, which the complex W and F absorb), so one
    period is searched and minima wrap around. Otherwise the grid spans ±1/(2·min ΔTE).
    """
    te = np.ascontiguousarray(echo_times, dtype=np.float64)
    c = np.ascontiguousarray(fat_phasor(te, field_strength, fat_spectrum), dtype=np.complex128)
    dte = np.diff(te)
    uniform = np.allclose(dte, dte.mean(), rtol=1e-6, atol=1e-9)
    span = 1.0 / (dte.mean() if uniform else dte.min())
    n_grid = max(int(np.ceil(span / psi_step_hz)), 8)
    if uniform:
        psi_grid = -span / 2 + span * np.arange(n_grid) / n_grid
        period = float(span)
    else:
        psi_grid = np.linspace(-span / 2, span / 2, n_grid + 1)
        period = 0.0
    phasors = np.exp(-2j * np.pi * te[:, None] * psi_grid[None, :])
    r2 = np.ascontiguousarray(r2_grid, dtype=np.float64)
    decay = np.exp(-r2[:, None] * te[None, :])
    w = decay ** 2
    g11 = w.sum(axis=1)
    g12 = (w * c[None, :]).sum(axis=1)
    g22 = (w * np.abs(c[None, :]) ** 2).sum(axis=1)
    det = g11 * g22 - np.abs(g12) ** 2
    if np.any(det <= 1e-12 * g11 * g22):
        raise ValueError("echo_times cannot separate water from fat: the water and fat "
                         "signals are (nearly) identical at these echoes and field strength")
    gram = np.stack([g11, g12.real, g12.imag, g22, det], axis=1)
    arrays = dict(te=te, c=c, psi_grid=psi_grid,
                  phasors_re=np.ascontiguousarray(phasors.real),
                  phasors_im=np.ascontiguousarray(phasors.imag),
                  r2_grid=r2, decay=np.ascontiguousarray(decay),
                  gram=np.ascontiguousarray(gram))
    for a in arrays.values():
        a.setflags(write=False)
    return Plan(period=period, **arrays)
