"""Mono-exponential T2 of a multi-echo spin echo (the comparison the EPG fit improves on).

s(TE) = S0 · exp(−TE / T2), fitted by non-linear least squares on the magnitudes. The first
echo is skipped by default: it carries no stimulated echo while the later ones do, so
dropping it is the customary partial correction of scanner T2 maps (e.g. Yao & Gai 2012,
Skeletal Radiol 41:1203; Wang et al. 2023 used the vendor's map). Without stimulated-echo
correction T2 is overestimated where B1 ≠ 1 and by the slice profile, and residual fat
lengthens it further (Marty et al. 2016, NMR Biomed 29:431).
"""

from __future__ import annotations

import numpy as np

from ._fit_common import echoes_above_floor, prepare, prepare_map, unflatten
from ._monoexp_kernels import fit_kernel
from ._validate import as_count, as_float_array

__all__ = ["MonoExpT2Model", "MonoExpT2Fit", "monoexp_signal"]


def monoexp_signal(s0, t2, echo_times) -> np.ndarray:
    """S0 · exp(−TE / T2), shape broadcast(s0, t2) + (n_echoes,).

    Parameters
    ----------
    s0 : array-like, shape (...)
        Amplitude at TE = 0.
    t2 : array-like, shape (...)
        T2 in s (> 0).
    echo_times : (N,) array-like
        Echo times in s.

    Returns
    -------
    ndarray of float64, shape broadcast(s0, t2) + (N,)
        Signal at each echo time, in the units of ``s0``.

    Raises
    ------
    ValueError
        If ``t2`` is not finite and positive, or ``echo_times`` is not finite and
        non-negative.

    Examples
    --------
    >>> monoexp_signal(100.0, 0.05, [0.0, 0.05]).round(3)
    array([100.   ,  36.788])
    """
    t2 = as_float_array(t2, "t2", positive=True)
    te = as_float_array(echo_times, "echo_times", nonnegative=True)
    return np.asarray(s0, dtype=float)[..., None] * np.exp(-te / t2[..., None])


class MonoExpT2Model:
    """Mono-exponential T2 model of multi-echo magnitudes (holds the acquisition only).

    Parameters
    ----------
    echo_times : (N,) array-like
        Echo times in s, strictly increasing.
    skip_echoes : int
        Leading echoes left out of the fit (default 1).
    t2_range : (float, float)
        Bounds of T2 in s (default 1 ms to 5 s).

    Examples
    --------
    >>> import numpy as np
    >>> te = 0.007 * np.arange(1, 9)
    >>> fit = MonoExpT2Model(te).fit(500 * np.exp(-te / 0.04)[None])
    >>> round(float(fit.t2[0]), 6), round(float(fit.s0[0]), 3)
    (0.04, 500.0)
    """

    def __init__(self, echo_times, skip_echoes: int = 1,
                 t2_range: tuple[float, float] = (0.001, 5.0)) -> None:
        te = as_float_array(echo_times, "echo_times", positive=True)
        if te.ndim != 1 or te.size < 1:
            raise ValueError(f"echo_times must be a 1-D array (s), got shape {te.shape}")
        if np.any(np.diff(te) <= 0):
            raise ValueError("echo_times must be strictly increasing")
        self.echo_times = te
        self.echo_times.setflags(write=False)
        self.skip_echoes = as_count(skip_echoes, "skip_echoes", 0)
        if te.size - self.skip_echoes < 2:
            raise ValueError(f"echo_times has {te.size} echoes; with skip_echoes="
                             f"{self.skip_echoes} fewer than the 2 parameters remain")
        rng = as_float_array(t2_range, "t2_range", positive=True)
        if rng.shape != (2,) or not rng[0] < rng[1]:
            raise ValueError(f"t2_range must be (low, high) with low < high, got {t2_range!r}")
        self.t2_range = (float(rng[0]), float(rng[1]))

    def fit(self, magnitude, mask=None, *, noise_sigma=None,
            max_iter: int = 50) -> "MonoExpT2Fit":
        """Fit T2 and S0 voxel by voxel.

        Parameters
        ----------
        magnitude : array-like, shape (..., N)
            Magnitudes, >= 0 and finite inside the mask.
        mask : array-like of bool, shape (...), optional
            Voxels to fit; maps are NaN outside.
        noise_sigma : float or array-like, shape (...), optional
            Noise SD per real channel; echoes from the first below 3σ on are dropped
            (Rician floor), keeping at least 2 after the skipped ones.
        max_iter : int
            Levenberg-Marquardt iterations.

        Returns
        -------
        MonoExpT2Fit
            T2 (s) and S0 (signal units) maps of shape (...), NaN outside ``mask``, and
            the RMS residual over the fitted echoes.
        """
        n = self.echo_times.size
        data, m = prepare(magnitude, mask, n, 2 + self.skip_echoes)
        sigma = None if noise_sigma is None else prepare_map(noise_sigma, "noise_sigma", m,
                                                             lower=0.0)
        used = echoes_above_floor(data, sigma, self.skip_echoes + 2)
        out = fit_kernel(data, self.echo_times, self.skip_echoes, used,
                         1.0 / self.t2_range[1], 1.0 / self.t2_range[0],
                         as_count(max_iter, "max_iter", 0))
        t2 = 1.0 / out[:, 0]
        params = np.stack([t2, out[:, 1]], axis=-1)
        resid = np.sqrt(np.maximum(out[:, 2], 0) / (used - self.skip_echoes))
        return MonoExpT2Fit(self, unflatten(params, m), unflatten(resid, m))


class MonoExpT2Fit:
    """Result of :meth:`MonoExpT2Model.fit`; packed :attr:`params` (..., 2) = (T2 s, S0)."""

    def __init__(self, model: MonoExpT2Model, params: np.ndarray,
                 residual: np.ndarray) -> None:
        self.model = model
        self.params = params
        self._residual = residual

    @property
    def t2(self) -> np.ndarray:
        """T2 in s (NaN outside the mask)."""
        return self.params[..., 0]

    @property
    def s0(self) -> np.ndarray:
        """Amplitude extrapolated to TE = 0, signal units."""
        return self.params[..., 1]

    @property
    def residual(self) -> np.ndarray:
        """Root-mean-square residual over the fitted echoes, signal units."""
        return self._residual

    def predict(self) -> np.ndarray:
        """Fitted decay at every echo time, shape (..., N).

        Returns
        -------
        ndarray of float64, shape (..., N)
            ``S0 · exp(−TE / T2)`` at all the model's echo times (skipped echoes
            included), signal units; NaN outside the fitted mask.
        """
        return self.s0[..., None] * np.exp(-self.model.echo_times / self.t2[..., None])
