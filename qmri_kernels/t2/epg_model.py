"""Stimulated-echo-corrected water T2: the EPG water/fat fit of a multi-echo spin echo.

With imperfect refocusing (B1 ≠ 1, the slice profile) a CPMG train carries stimulated
echoes and a mono-exponential fit overestimates T2; residual fat (long T2) lengthens it
further. :class:`EPGT2Model` fits the echo train as water plus fat, each an EPG echo train
at a shared B1, with two non-negative linear amplitudes (Marty et al. 2016 [Marty2016]_;
Santini et al. 2021 [Santini2021]_; slice profile as Lebel & Wilman 2010 [Lebel2010]_).

References
----------
.. [Marty2016] Marty B, Baudin PY, Reyngoudt H, et al. (2016). Simultaneous muscle water T2
   and fat fraction mapping using transverse relaxometry with stimulated echo
   compensation. NMR Biomed 29:431-443.
.. [Santini2021] Santini F, Deligianni X, Paoletti M, et al. (2021). Fast open-source
   toolkit for water T2 mapping in the presence of fat from multi-echo spin-echo
   acquisitions for muscle MRI. Front Neurol 12:630387.
.. [Lebel2010] Lebel RM, Wilman AH (2010). Transverse relaxometry with stimulated echo
   compensation. Magn Reson Med 64:1005-1014.
.. [Golub1973] Golub GH, Pereyra V (1973). The differentiation of pseudo-inverses and
   nonlinear least squares problems whose variables separate. SIAM J Numer Anal 10:413-432.
.. [Gold2004] Gold GE, Han E, Stainsby J, et al. (2004). Musculoskeletal MRI at 3.0 T:
   relaxation times and image contrast. AJR 183:343-351.
"""

from __future__ import annotations

import numpy as np

from ..physics import T1_FAT_3T, T1_MUSCLE_3T, T2_FAT_3T
from . import _dictionary as dic
from ._epg_fit_kernels import fit_kernel
from ._fit_common import echoes_above_floor, prepare, prepare_map, unflatten
from ._validate import as_count, as_float_array, as_positive_scalar

__all__ = ["EPGT2Model", "EPGT2Fit", "DEFAULT_SLICE_PROFILE", "SLICE_PROFILE_OPTIONAL_KEYS",
           "uniform_echo_spacing"]

# Coarse dictionary search, (T2, B1) strides in atoms (1 % in T2, 0.01 in B1). With the
# fat share free: every 6th T2 and 8th B1 atom, then every second atom around the winner,
# then Levenberg-Marquardt; in 50,000 noisy test voxels this lands in the global minimum
# of an exhaustive search for > 99 % of voxels (the rest sit at the B1 bound, near-mirror
# solutions the smooth-B1 second pass removes). With the share fixed (one basis column,
# a smoother cost): every 11th T2 and 12th B1 atom (30 × 8 atoms, each B1 column padded
# to 32 for the SIMD loops; 36 padded to 48 at (9, 12)), then Gauss-Newton from the
# parabola vertex; against an exhaustive search it misses the global minimum about as
# often as the (6, 8) strides do (0.23 % vs 0.13 % of 4,000 simulated muscle voxels,
# 1.5 % vs 1.75 % of the wide-range test voxels of tests/t2/test_epg_fit_kernels.py;
# (9, 12): 0.25 % and 2.0 %) with about a third of the atoms.
_STRIDES = (6, 8, 11, 12)

#: Slice-profile settings of the default model: the keyword arguments of
#: :func:`qmri_kernels.t2.epg.cpmg_signal_slice_profile` (Hann-windowed sinc, TBW 2 as
#: MyoQMRI assumes, equal excitation and refocusing slice widths, Bloch-simulated profile).
DEFAULT_SLICE_PROFILE: dict = dict(n_subslices=32, time_bandwidth=2.0,
                                   excitation_angle=np.pi / 2, refocusing_width=1.0,
                                   window="hann", method="bloch")
#: Further slice-profile keys a model accepts, each defaulting to today's behaviour (None:
#: the shared ``time_bandwidth`` / ``window``): the excitation and refocusing pulses' own
#: time-bandwidth products and windows, and ``extent`` (the thickness simulated).
SLICE_PROFILE_OPTIONAL_KEYS: tuple[str, ...] = (
    "excitation_time_bandwidth", "refocusing_time_bandwidth", "excitation_window",
    "refocusing_window", "b1_scaling", "extent")


def uniform_echo_spacing(echo_times, name: str = "echo_times") -> float:
    """The echo spacing of a CPMG train whose n-th echo is at n · ΔTE.

    Parameters
    ----------
    echo_times : (N,) array-like
        Echo times in s.
    name : str
        Argument name used in error messages.

    Returns
    -------
    float
        ΔTE in s.

    Raises
    ------
    ValueError
        If the echo times are not ΔTE, 2ΔTE, ..., NΔTE (within 1 µs): the EPG of a CPMG
        train needs uniform spacing starting at one spacing.
    """
    te = as_float_array(echo_times, name, positive=True)
    if te.ndim != 1 or te.size < 1:
        raise ValueError(f"{name} must be a 1-D array of echo times (s), got shape {te.shape}")
    esp = float(te[0])
    expected = esp * np.arange(1, te.size + 1)
    if np.abs(te - expected).max() > 1e-6:
        raise ValueError(f"{name} must be uniformly spaced as ΔTE, 2ΔTE, ... for a CPMG "
                         f"train; got {np.round(te * 1e3, 3).tolist()} ms")
    return esp


class EPGT2Model:
    """EPG water + fat model of a CPMG multi-echo spin echo (holds the acquisition only).

    s_n = a_w · W_n(T2_w, B1) + a_f · F_n(T2_f, B1), a_w, a_f >= 0, where W and F are EPG
    echo trains (:mod:`qmri_kernels.t2.epg`) of water (T1 ``water_t1``) and fat (T2
    ``fat_t2``, T1 ``fat_t1``) at the same relative B1. The fat fraction returned is the
    fat *signal share* a_f / (a_w + a_f) of this sequence (after fat saturation, T1 and
    the slice-profile excitation), not the PDFF; :func:`qmri_kernels.t2.residual_fat_share`
    converts a PDFF into it.

    Parameters
    ----------
    echo_spacing : float
        ΔTE in s; echo n is at n·ΔTE (use :meth:`from_echo_times` for DICOM echo times).
    n_echoes : int
        Echo train length.
    fat_t2 : float
        Fat T2 in s (default 133 ms at 3 T, Gold 2004 [Gold2004]_); calibrate it per
        subject with :func:`qmri_kernels.t2.calibrate_fat_t2` (Marty 2016 [Marty2016]_).
    water_t1, fat_t1 : float
        T1 in s of muscle water (1.42 s) and fat (0.371 s) at 3 T [Gold2004]_; they act
        on stimulated-echo pathways only.
    refocusing_angle : float
        Nominal refocusing flip angle in rad (π).
    slice_profile : bool or dict
        True (default): the slice-profile EPG with :data:`DEFAULT_SLICE_PROFILE`; a dict
        overrides those keyword arguments; False: hard pulses. The default is justified by
        the measured bias of a hard-pulse fit on slice-profile data (tests, chapter 4).
        Where the sequence's pulses are known, tell the model: the dict may also set the
        excitation and refocusing pulses apart (:data:`SLICE_PROFILE_OPTIONAL_KEYS`:
        ``excitation_time_bandwidth``, ``refocusing_time_bandwidth``,
        ``excitation_window``, ``refocusing_window``), next to ``refocusing_width``
        (refocusing-to-excitation slice width) and ``excitation_angle`` (rad); the
        refocusing flip angle is ``refocusing_angle``. E.g. ``{"excitation_window":
        "hamming", "excitation_time_bandwidth": 3.0, "refocusing_width": 1.5}``.
        ``"b1_scaling": "pulse"`` models the profile at B1 as that of the scaled pulse
        rather than the scaled profile (:func:`~qmri_kernels.t2.epg.cpmg_signal_slice_profile`).
    t2_range : (float, float)
        Bounds of water T2 in s (default 10-250 ms).
    b1_range : (float, float)
        Bounds of the relative B1 (default 0.4-1.3; refocusing by π ± δ is nearly
        symmetric, so B1 above 1 is weakly identified).

    Examples
    --------
    >>> import numpy as np
    >>> from qmri_kernels.t2.epg import cpmg_signal_slice_profile
    >>> model = EPGT2Model(0.007, 8)
    >>> y = 1000 * cpmg_signal_slice_profile(0.045, 1.42, 0.007, 8, b1=0.85)
    >>> fit = model.fit(y[None].astype(np.float32))
    >>> round(float(fit.water_t2[0]) * 1e3, 2), round(float(fit.b1[0]), 3)
    (45.0, 0.85)
    """

    def __init__(self, echo_spacing: float, n_echoes: int, *, fat_t2: float = T2_FAT_3T,
                 water_t1: float = T1_MUSCLE_3T, fat_t1: float = T1_FAT_3T,
                 refocusing_angle: float = np.pi, slice_profile: bool | dict = True,
                 t2_range: tuple[float, float] = (0.010, 0.250),
                 b1_range: tuple[float, float] = (0.4, 1.3)) -> None:
        arr = np.asarray(echo_spacing)
        if arr.ndim != 0:
            raise ValueError("echo_spacing must be a scalar ΔTE in s; to pass echo times "
                             "use EPGT2Model.from_echo_times(echo_times, ...)")
        self.echo_spacing = as_positive_scalar(echo_spacing, "echo_spacing")
        self.n_echoes = as_count(n_echoes, "n_echoes", 1)
        self.fat_t2 = as_positive_scalar(fat_t2, "fat_t2")
        self.water_t1 = float(as_float_array(water_t1, "water_t1", positive=True,
                                             allow_inf=True))
        self.fat_t1 = float(as_float_array(fat_t1, "fat_t1", positive=True, allow_inf=True))
        self.refocusing_angle = float(as_float_array(refocusing_angle, "refocusing_angle",
                                                     positive=True))
        if slice_profile is True:
            profile = dict(DEFAULT_SLICE_PROFILE)
        elif slice_profile is False or slice_profile is None:
            profile = None
        elif isinstance(slice_profile, dict):
            allowed = set(DEFAULT_SLICE_PROFILE) | set(SLICE_PROFILE_OPTIONAL_KEYS)
            unknown = set(slice_profile) - allowed
            if unknown:
                raise ValueError(f"slice_profile has unknown keys {sorted(unknown)}; allowed: "
                                 f"{sorted(allowed)}")
            profile = {**DEFAULT_SLICE_PROFILE, **slice_profile}
        else:
            raise ValueError(f"slice_profile must be True, False or a dict, got "
                             f"{slice_profile!r}")
        self.slice_profile = profile
        self.t2_range = _check_range(t2_range, "t2_range", positive=True)
        self.b1_range = _check_range(b1_range, "b1_range", positive=True)
        self._acq = dic.Acquisition(self.echo_spacing, self.n_echoes, self.refocusing_angle,
                                    None if profile is None else tuple(sorted(profile.items())))
        self._grid = dic.Grid.covering(self.t2_range, self.b1_range)
        # Validate the profile settings now rather than at the first fit.
        self._acq.signal(0.03, 1.0, 1.0)

    def with_fat_t2(self, fat_t2: float, t2_range: tuple[float, float] | None = None
                    ) -> "EPGT2Model":
        """A copy with another fat T2 (s) and optionally water-T2 bounds (s).

        Parameters
        ----------
        fat_t2 : float
            Fat T2 of the copy, s (> 0), e.g. a subject's calibrated value
            (:func:`qmri_kernels.t2.calibrate_fat_t2`; Marty 2016 [Marty2016]_).
        t2_range : (float, float), optional
            Bounds of water T2 of the copy, s; default: this model's.

        Returns
        -------
        EPGT2Model
            A new model with every other setting of this one (this one is unchanged).

        Raises
        ------
        ValueError
            From the constructor, if ``fat_t2`` is not positive and finite or
            ``t2_range`` is not (low, high) with 0 < low < high.
        """
        return EPGT2Model(self.echo_spacing, self.n_echoes, fat_t2=fat_t2,
                          water_t1=self.water_t1, fat_t1=self.fat_t1,
                          refocusing_angle=self.refocusing_angle,
                          slice_profile=False if self.slice_profile is None
                          else dict(self.slice_profile),
                          t2_range=self.t2_range if t2_range is None else t2_range,
                          b1_range=self.b1_range)

    def __repr__(self) -> str:
        prof = "hard pulses" if self.slice_profile is None else "slice profile"
        return (f"EPGT2Model(echo_spacing={self.echo_spacing}, n_echoes={self.n_echoes}, "
                f"fat_t2={self.fat_t2:.4g}, {prof})")

    @classmethod
    def from_echo_times(cls, echo_times, **kwargs) -> "EPGT2Model":
        """Model from echo times (s) as DICOM lists them; they must be n·ΔTE.

        Parameters
        ----------
        echo_times : (n_echoes,) array-like
            Echo times in s (DICOM EchoTime is in ms: divide by 1000 first).
        **kwargs
            Keyword arguments of :class:`EPGT2Model` (``fat_t2``, ``slice_profile``, ...).

        Returns
        -------
        EPGT2Model
            With ``echo_spacing`` = ΔTE and ``n_echoes`` = ``len(echo_times)``.

        Raises
        ------
        ValueError
            If the echo times are not ΔTE, 2ΔTE, ..., NΔTE
            (:func:`uniform_echo_spacing`), or a keyword argument is invalid.
        """
        te = np.asarray(echo_times, dtype=float)
        esp = uniform_echo_spacing(te, "echo_times")
        return cls(esp, te.size, **kwargs)

    @property
    def echo_times(self) -> np.ndarray:
        """Echo times in s, shape (n_echoes,)."""
        return self.echo_spacing * np.arange(1, self.n_echoes + 1)

    def _tables(self):
        """Water and fat dictionaries with their prefix Gram sums (cached per acquisition)."""
        return dic.fit_tables(self._acq, self._grid, self.water_t1, self.fat_t2, self.fat_t1)

    def signal(self, water_t2, b1, fat_fraction=0.0, s0=1.0) -> np.ndarray:
        """Echo train of the model (direct EPG, no dictionary), shape (..., n_echoes).

        s0 · [(1 − ff) · W(T2_w, B1) + ff · F(B1)] with the inputs broadcast together
        (Marty 2016 [Marty2016]_), W and F the EPG echo trains of water and fat.

        Parameters
        ----------
        water_t2 : float or array-like, shape (...)
            Water T2, s (> 0).
        b1 : float or array-like, shape (...)
            Relative refocusing B1 (1 = nominal).
        fat_fraction : float or array-like, shape (...)
            Fat signal share of this sequence in [0, 1] (not PDFF).
        s0 : float or array-like, shape (...)
            Total amplitude a_w + a_f, signal units.

        Returns
        -------
        ndarray, shape (..., n_echoes)
            Echo amplitudes at ΔTE, 2ΔTE, ..., in the units of ``s0`` (the trains are
            for M0 = 1); ``...`` is the broadcast shape of the inputs.

        Raises
        ------
        ValueError
            If an input is not numeric or contains NaN, or ``fat_fraction`` lies outside
            [0, 1].
        """
        ff = as_float_array(fat_fraction, "fat_fraction", nonnegative=True)
        if (ff > 1).any():
            raise ValueError("fat_fraction must be <= 1")
        s0 = as_float_array(s0, "s0")
        w = self._acq.signal(water_t2, self.water_t1, b1)
        f = self._acq.signal(self.fat_t2, self.fat_t1, b1)
        return np.asarray(s0)[..., None] * ((1 - ff)[..., None] * w + ff[..., None] * f)

    def fit(self, magnitude, mask=None, fat_fraction=None, *, b1=None, noise_sigma=None,
            max_iter: int = 30) -> "EPGT2Fit":
        """Fit water T2, fat fraction, B1 and amplitude voxel by voxel.

        Parameters
        ----------
        magnitude : array-like, shape (..., n_echoes)
            Magnitude echo images, >= 0 and finite inside the mask.
        mask : array-like of bool, shape (...), optional
            Voxels to fit; outside it every map is NaN.
        fat_fraction : array-like, shape (...) or scalar, optional
            Known fat signal share of this sequence in [0, 1] (e.g.
            :func:`qmri_kernels.t2.residual_fat_share` of the Dixon PDFF); fixes that
            parameter. NaN voxels are fitted free.
        b1 : array-like, shape (...) or scalar, optional
            Known relative B1 (e.g. the smoothed B1 map of a first pass, see
            :func:`qmri_kernels.t2.fit_with_smooth_b1`); fixes that parameter, clipped to
            ``b1_range``. NaN voxels are fitted free.
        noise_sigma : float or array-like, shape (...), optional
            Noise standard deviation per real channel (magnitudes are Rician). Echoes from
            the first one below 3σ on are excluded, where the
            Rician floor biases magnitudes upwards (Gudbjartsson & Patz 1995, MRM 34:910).
            None uses every echo.
        max_iter : int
            Levenberg-Marquardt iterations after the dictionary search.

        Returns
        -------
        EPGT2Fit
            Maps of shape ``magnitude.shape[:-1]``: water T2 (s), fat signal share, B1,
            s0 and the residual; NaN outside the mask.

        Raises
        ------
        ValueError
            On a wrong echo count, NaN/negative magnitudes, a mask or map of the wrong
            shape, or a fat fraction outside [0, 1], naming the argument.
        """
        fixed_all = fat_fraction is not None
        n_params = (3 if fixed_all else 4) - (b1 is not None)
        data, m = prepare(magnitude, mask, self.n_echoes, n_params)
        if fixed_all:
            ffa = np.asarray(fat_fraction, dtype=np.float64)
            if ffa.ndim and ffa.shape != m.shape:
                raise ValueError(f"fat_fraction has shape {ffa.shape}; it must be a scalar or "
                                 f"match the spatial shape {m.shape} of magnitude")
            phi = np.ascontiguousarray(np.broadcast_to(ffa, m.shape)[m], dtype=np.float64)
            finite = phi[~np.isnan(phi)]
            if ((finite < 0) | (finite > 1)).any():
                raise ValueError("fat_fraction must lie in [0, 1] (a signal share, not %)")
        else:
            phi = np.full(data.shape[0], np.nan)
        sigma = None
        if noise_sigma is not None:
            sigma = prepare_map(noise_sigma, "noise_sigma", m, lower=0.0)
        g = self._grid
        if b1 is None:
            y_fixed = np.full(data.shape[0], np.nan)
        else:
            b1a = np.asarray(b1, dtype=np.float64)
            if b1a.ndim and b1a.shape != m.shape:
                raise ValueError(f"b1 has shape {b1a.shape}; it must be a scalar or match the "
                                 f"spatial shape {m.shape} of magnitude")
            b1v = np.broadcast_to(b1a, m.shape)[m]
            if (b1v[~np.isnan(b1v)] <= 0).any() or np.isinf(b1v).any():
                raise ValueError("b1 must be finite and > 0 (relative B1)")
            b1v = np.clip(b1v, *self.b1_range)
            y_fixed = np.ascontiguousarray((b1v - g.b1_0) / g.b1_step)
        # At least as many echoes as free parameters (amplitude, T2, B1 and fat share).
        n_free = 2 + np.isnan(phi) + np.isnan(y_fixed)
        used = echoes_above_floor(data, sigma, 2)
        used = np.maximum(used, np.minimum(n_free, self.n_echoes))
        max_iter = as_count(max_iter, "max_iter", 0)
        water, fat, cww, cwf, cff = self._tables()
        out = fit_kernel(data, used, phi, y_fixed, water, fat, cww, cwf, cff, _STRIDES,
                         max_iter)
        t2 = np.exp(g.log_t2_0 + g.log_t2_step * out[:, 0])
        b1 = g.b1_0 + g.b1_step * out[:, 1]
        total = out[:, 2] + out[:, 3]
        with np.errstate(invalid="ignore", divide="ignore"):
            ffit = np.where(total > 0, out[:, 3] / np.where(total > 0, total, 1), np.nan)
        bad = total <= 0
        t2[bad] = np.nan
        b1[bad] = np.nan
        params = np.stack([t2, ffit, b1, total], axis=-1)
        resid = np.sqrt(np.maximum(out[:, 4], 0.0) / used)
        return EPGT2Fit(self, unflatten(params, m), unflatten(resid, m),
                        unflatten(used.astype(float), m))


def _check_range(value, name: str, positive: bool) -> tuple[float, float]:
    arr = as_float_array(value, name, positive=positive)
    if arr.shape != (2,) or not arr[0] < arr[1]:
        raise ValueError(f"{name} must be (low, high) with low < high, got {value!r}")
    return float(arr[0]), float(arr[1])


class EPGT2Fit:
    """Result of :meth:`EPGT2Model.fit`: maps of shape ``magnitude.shape[:-1]``.

    Parameters are packed in :attr:`params` (..., 4) = (water T2 in s, fat fraction,
    B1, s0); NaN outside the mask. Arrays are read-only.
    """

    def __init__(self, model: EPGT2Model, params: np.ndarray, residual: np.ndarray,
                 n_echoes_used: np.ndarray) -> None:
        self.model = model
        self.params = params
        self._residual = residual
        self._used = n_echoes_used

    @property
    def water_t2(self) -> np.ndarray:
        """Water T2 in s."""
        return self.params[..., 0]

    @property
    def fat_fraction(self) -> np.ndarray:
        """Fat signal share a_f / (a_w + a_f) of this sequence, in [0, 1] (not PDFF)."""
        return self.params[..., 1]

    @property
    def b1(self) -> np.ndarray:
        """Relative refocusing B1 (1 = nominal)."""
        return self.params[..., 2]

    @property
    def s0(self) -> np.ndarray:
        """Total amplitude a_w + a_f (signal units; the echo trains are for M0 = 1)."""
        return self.params[..., 3]

    @property
    def residual(self) -> np.ndarray:
        """Root-mean-square residual over the echoes used, signal units."""
        return self._residual

    @property
    def n_echoes_used(self) -> np.ndarray:
        """Echoes above the noise floor that the fit used (all without ``noise_sigma``)."""
        return self._used

    def predict(self) -> np.ndarray:
        """Model echo trains at the fitted parameters, shape (..., n_echoes); NaN outside.

        Returns
        -------
        ndarray, float64, shape (..., n_echoes)
            :meth:`EPGT2Model.signal` at the fitted water T2, fat fraction, B1 and s0 of
            each voxel, in signal units; NaN where any parameter is NaN (outside the mask,
            failed fits).
        """
        p = self.params
        ok = np.isfinite(p).all(axis=-1)
        out = np.full(p.shape[:-1] + (self.model.n_echoes,), np.nan)
        if ok.any():
            q = p[ok]
            out[ok] = self.model.signal(q[:, 0], q[:, 2], q[:, 1], q[:, 3])
        return out
