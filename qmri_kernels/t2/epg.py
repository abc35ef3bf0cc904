"""Extended phase graphs (EPG) of a CPMG multi-echo spin-echo train.

The forward model that the phantom simulates the multi-echo spin echo (MESE) with and that
:class:`qmri_kernels.t2.EPGT2Model` inverts. Two variants:

- :func:`cpmg_signal` — hard pulses: a perfect 90° excitation and refocusing pulses of flip
  ``b1 * refocusing_angle`` (Hennig 1988; Weigel 2015).
- :func:`cpmg_signal_slice_profile` — the slice is cut into sub-slices, each with the local
  flip angles of windowed-sinc excitation and refocusing pulses, and their echo trains are
  summed (Lebel & Wilman 2010, StimFit; MyoQMRI of Santini et al. 2021 does the same).

Both broadcast ``t2``, ``t1`` and ``b1`` against each other and return float64 echo
amplitudes of shape ``(..., n_echoes)`` for M0 = 1, computed by Numba kernels parallel over
voxels.

References
----------
.. [Hennig1988] Hennig J (1988). Multiecho imaging sequences with low refocusing flip
   angles. J Magn Reson 78:397-407.
.. [Weigel2015] Weigel M (2015). Extended phase graphs: dephasing, RF pulses, and echoes -
   pure and simple. J Magn Reson Imaging 41:266-295.
.. [Lebel2010] Lebel RM, Wilman AH (2010). Transverse relaxometry with stimulated echo
   compensation. Magn Reson Med 64:1005-1014.
.. [Pauly1991] Pauly J, Le Roux P, Nishimura D, Macovski A (1991). Parameter relations for
   the Shinnar-Le Roux selective excitation pulse design algorithm. IEEE Trans Med Imaging
   10:53-65.
.. [Santini2021] Santini F, Deligianni X, Paoletti M, et al. (2021). Fast open-source
   toolkit for water T2 mapping in the presence of fat from multi-echo spin-echo
   acquisitions for muscle MRI. Front Neurol 12:630387.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._epg_kernels import (SERIAL_BELOW, cpmg_kernel, cpmg_kernel_serial,
                           cpmg_profile_kernel, cpmg_profile_kernel_serial)
from ._slice_profile import (_B1_SCALINGS, _METHODS, _WINDOWS, PULSE_B1_MAX, PULSE_B1_STEP,
                             check_choice, cpmg_pulse_profile_kernel, flip_profile,
                             flip_profile_table, fold_symmetric, subslice_grid)
from ._validate import (as_count, as_float_array, as_positive_scalar, broadcast_maps)

__all__ = ["cpmg_signal", "cpmg_signal_slice_profile", "slice_profile"]


def _common_args(t2, t1, echo_spacing, n_echoes, b1, refocusing_angle):
    t2 = as_float_array(t2, "t2", positive=True)
    t1 = as_float_array(t1, "t1", positive=True, allow_inf=True)
    b1 = as_float_array(b1, "b1", nonnegative=True)
    esp = as_positive_scalar(echo_spacing, "echo_spacing")
    n = as_count(n_echoes, "n_echoes", 1)
    ref = as_float_array(refocusing_angle, "refocusing_angle")
    if ref.ndim != 0:
        raise ValueError(f"refocusing_angle must be a scalar (rad), got shape {ref.shape}")
    shape, (t2f, t1f, b1f) = broadcast_maps(t2=t2, t1=t1, b1=b1)
    return shape, t2f, t1f, b1f, esp, n, float(ref)


def cpmg_signal(t2, t1, echo_spacing: float, n_echoes: int, b1=1.0,
                refocusing_angle: float = np.pi) -> np.ndarray:
    """Echo amplitudes of a CPMG train with hard pulses, by extended phase graphs.

    A perfect 90° excitation is followed by ``n_echoes`` refocusing pulses of flip angle
    ``b1 * refocusing_angle``, phase-shifted by 90° (CPMG), spaced ``echo_spacing`` apart
    with ideal crushers; the n-th echo is at n · ``echo_spacing``. Transverse states relax
    with T2 and longitudinal states with T1 between pulses (Hennig 1988 [Hennig1988]_;
    Weigel 2015 [Weigel2015]_). T1 recovery of Z_0 is excited into the quadrature channel
    and does not add to the CPMG echoes; it is neglected (as in Lebel & Wilman 2010
    [Lebel2010]_).

    Parameters
    ----------
    t2 : array-like, shape (...)
        Transverse relaxation time in s, > 0.
    t1 : array-like, shape (...)
        Longitudinal relaxation time in s, > 0 (``np.inf`` allowed).
    echo_spacing : float
        Echo spacing ΔTE in s, > 0.
    n_echoes : int
        Number of echoes, >= 1.
    b1 : array-like, shape (...)
        Relative transmit field (refocusing efficiency), >= 0; 1 is nominal.
    refocusing_angle : float
        Nominal refocusing flip angle in rad (default π).

    Returns
    -------
    ndarray, float64, shape (..., n_echoes)
        Echo amplitudes for M0 = 1; ``(...)`` is the broadcast shape of t2, t1, b1.

    Raises
    ------
    ValueError
        If an argument is NaN, has the wrong sign, ``n_echoes < 1`` or shapes do not
        broadcast; the message names the argument.

    Examples
    --------
    >>> import numpy as np
    >>> s = cpmg_signal(0.035, 1.4, 0.007, 8)
    >>> bool(np.allclose(s, np.exp(-0.007 * np.arange(1, 9) / 0.035)))
    True
    >>> cpmg_signal([0.03, 0.05], 1.4, 0.007, 8, b1=[[0.8], [1.0]]).shape
    (2, 2, 8)
    """
    shape, t2f, t1f, b1f, esp, n, ref = _common_args(t2, t1, echo_spacing, n_echoes, b1,
                                                      refocusing_angle)
    kernel = cpmg_kernel if t2f.size >= SERIAL_BELOW else cpmg_kernel_serial
    out = kernel(t2f, t1f, b1f, 0.5 * esp, ref, n)
    return out.reshape(shape + (n,))


def slice_profile(n_subslices: int = 32, time_bandwidth: float = 2.0,
                  refocusing_angle: float = np.pi, excitation_angle: float = np.pi / 2,
                  refocusing_width: float = 1.0, window: str = "hann",
                  method: str = "bloch", extent: float | None = None, *,
                  excitation_time_bandwidth: float | None = None,
                  refocusing_time_bandwidth: float | None = None,
                  excitation_window: str | None = None,
                  refocusing_window: str | None = None, b1_scaling: str = "flip"):
    """Sub-slice positions, weights and excitation/refocusing flip angles through a slice.

    Parameters
    ----------
    n_subslices : int
        Number of equal sub-slices over ``extent`` (>= 1).
    time_bandwidth : float
        Time-bandwidth product of both windowed-sinc pulses (> 0), unless
        ``excitation_time_bandwidth`` / ``refocusing_time_bandwidth`` set one of them.
        MyoQMRI assumes 2.0.
    refocusing_angle, excitation_angle : float
        Nominal flip angles at the slice centre, rad.
    refocusing_width : float
        Refocusing slice thickness relative to the excitation slice (> 0); scanners often
        use 1.2-3 to reduce slice-profile effects.
    window : {"hann", "hamming", "none"}
        Apodisation of both sincs, unless ``excitation_window`` / ``refocusing_window``
        set one of them.
    method : {"bloch", "fourier", "ideal"}
        Bloch (Cayley-Klein hard-pulse simulation [Pauly1991]_), small-tip Fourier
        transform of the envelope, or ideal rectangular profiles.
    extent : float or None
        Total thickness simulated, in excitation slice thicknesses; default 2 (the
        windowed-sinc excitation is negligible beyond ±1 slice) or 1 for ``"ideal"``.
    excitation_time_bandwidth, refocusing_time_bandwidth : float or None
        Time-bandwidth product of one pulse (> 0); None (default) takes ``time_bandwidth``.
        Product sequences often use a sharper excitation than refocusing pulse (e.g. a
        Hamming-windowed sinc of TBW 3 and refocusing pulses of TBW 2 on a wider slice,
        the kind of pulse pair Lebel & Wilman 2010 [Lebel2010]_ model).
    excitation_window, refocusing_window : {"hann", "hamming", "none"} or None
        Apodisation of one pulse; None (default) takes ``window``.
    b1_scaling : {"flip", "pulse"}
        How the profile changes with B1 (:func:`cpmg_signal_slice_profile`); the profile
        returned here is the nominal one (B1 = 1), the same for both. Accepted so that a
        model's settings pass through unchanged.

    Returns
    -------
    positions : (S,) ndarray
        Sub-slice centres in slice thicknesses.
    weights : (S,) ndarray
        Sub-slice thickness in slice units (they sum to ``extent``).
    excitation : (S,) ndarray
        Excitation flip angle, rad.
    refocusing : (S,) ndarray
        Refocusing flip angle, rad.
    """
    n_subslices = as_count(n_subslices, "n_subslices", 1)
    tbw = as_positive_scalar(time_bandwidth, "time_bandwidth")
    tbw_exc = tbw if excitation_time_bandwidth is None else as_positive_scalar(
        excitation_time_bandwidth, "excitation_time_bandwidth")
    tbw_ref = tbw if refocusing_time_bandwidth is None else as_positive_scalar(
        refocusing_time_bandwidth, "refocusing_time_bandwidth")
    width = as_positive_scalar(refocusing_width, "refocusing_width")
    ref = float(as_float_array(refocusing_angle, "refocusing_angle"))
    exc = float(as_float_array(excitation_angle, "excitation_angle"))
    check_choice(window, "window", _WINDOWS)
    win_exc = window if excitation_window is None else check_choice(
        excitation_window, "excitation_window", _WINDOWS)
    win_ref = window if refocusing_window is None else check_choice(
        refocusing_window, "refocusing_window", _WINDOWS)
    check_choice(method, "method", _METHODS)
    check_choice(b1_scaling, "b1_scaling", _B1_SCALINGS)
    if extent is None:
        extent = 1.0 if method == "ideal" else 2.0
    extent = as_positive_scalar(extent, "extent")
    return tuple(a.copy() for a in _profile(n_subslices, tbw_exc, tbw_ref, ref, exc, width,
                                            win_exc, win_ref, method, extent))


@lru_cache(maxsize=64)
def _profile(n_subslices, tbw_exc, tbw_ref, ref, exc, width, win_exc, win_ref, method,
             extent):
    """Cached sub-slice grid and flip angles (the Bloch simulation is the slow part)."""
    pos, w = subslice_grid(n_subslices, extent)
    exc_fa = flip_profile(exc, pos, tbw_exc, win_exc, method, 1.0)
    ref_fa = flip_profile(ref, pos, tbw_ref, win_ref, method, width)
    for a in (pos, w, exc_fa, ref_fa):
        a.setflags(write=False)
    return pos, w, exc_fa, ref_fa


@lru_cache(maxsize=16)
def _pulse_tables(n_subslices, tbw_exc, tbw_ref, ref, exc, width, win_exc, win_ref, extent):
    """Half-slab (z >= 0) weights and flip tables over B1 of the scaled pulses (cached)."""
    pos, w = subslice_grid(n_subslices, extent)
    _, half_w = fold_symmetric(pos, w)
    keep = pos >= 0
    exc_tab = np.ascontiguousarray(flip_profile_table(exc, pos[keep], tbw_exc, win_exc, 1.0))
    ref_tab = np.ascontiguousarray(flip_profile_table(ref, pos[keep], tbw_ref, win_ref, width))
    for a in (half_w, exc_tab, ref_tab):
        a.setflags(write=False)
    return half_w, exc_tab, ref_tab


def cpmg_signal_slice_profile(t2, t1, echo_spacing: float, n_echoes: int, b1=1.0, *,
                              n_subslices: int = 32, time_bandwidth: float = 2.0,
                              refocusing_angle: float = np.pi,
                              excitation_angle: float = np.pi / 2,
                              refocusing_width: float = 1.0, window: str = "hann",
                              method: str = "bloch", extent: float | None = None,
                              excitation_time_bandwidth: float | None = None,
                              refocusing_time_bandwidth: float | None = None,
                              excitation_window: str | None = None,
                              refocusing_window: str | None = None,
                              b1_scaling: str = "flip") -> np.ndarray:
    """CPMG echo amplitudes integrated over the slice profile of windowed-sinc pulses.

    The slice is cut into ``n_subslices`` sub-slices (:func:`slice_profile`); sub-slice j
    has excitation flip ``b1 · θ_exc(z_j)`` and refocusing flip ``b1 · θ_ref(z_j)``, its
    echo train is the hard-pulse EPG of :func:`cpmg_signal` scaled by sin(b1 · θ_exc(z_j))
    and its thickness, and the sub-slice trains are summed (Lebel & Wilman 2010
    [Lebel2010]_; Santini 2021 [Santini2021]_). Profiles are symmetric, so only z >= 0
    is computed. With ``method="ideal"`` the result is sin(b1 · excitation_angle) times
    the hard-pulse signal.

    Parameters
    ----------
    t2, t1, echo_spacing, n_echoes, b1
        As in :func:`cpmg_signal` (s, s, s, count, relative).
    n_subslices, time_bandwidth, refocusing_angle, excitation_angle, refocusing_width,
    window, method, extent, excitation_time_bandwidth, refocusing_time_bandwidth,
    excitation_window, refocusing_window
        The pulses and the sub-slice grid, as in :func:`slice_profile`; the excitation and
        refocusing pulses may differ in shape (window) and time-bandwidth product. The
        defaults are the model of :data:`qmri_kernels.t2.DEFAULT_SLICE_PROFILE`.
    b1_scaling : {"flip", "pulse"}
        ``"flip"`` (default): the flip profile at B1 is the nominal profile scaled,
        b1 · θ(z), as in Lebel & Wilman 2010 [Lebel2010]_ and MyoQMRI. ``"pulse"``: the
        profile of the pulse scaled by B1, by Bloch simulation (B1 up to 2; only with
        ``method="bloch"``; the Fourier and ideal profiles scale linearly anyway). Near
        180° the two differ: the Bloch equations are not linear in the RF amplitude, and
        at B1 0.8 the first echo of Hann-windowed sincs of TBW 2 differs by about 20 %.
        With ``"pulse"`` the echo trains are nearly mirror-symmetric in B1 about 1 (for a
        1.5× wider refocusing slice, B1 0.85 and 1.12 differ by 0.1 % of the first echo):
        a free B1 may land on the mirror side, so give the fit a B1 map where there is one.

    Returns
    -------
    ndarray, float64, shape (..., n_echoes)
        Echo amplitudes for M0 = 1 per unit slice thickness.

    Raises
    ------
    ValueError
        On bad input, naming the argument.

    Examples
    --------
    >>> import numpy as np
    >>> hard = cpmg_signal(0.035, 1.4, 0.007, 8)
    >>> ideal = cpmg_signal_slice_profile(0.035, 1.4, 0.007, 8, method="ideal")
    >>> bool(np.allclose(ideal, hard))
    True
    >>> sinc = cpmg_signal_slice_profile(0.035, 1.4, 0.007, 8)  # stimulated echoes
    >>> bool(sinc[-1] / sinc[1] > hard[-1] / hard[1])
    True
    """
    shape, t2f, t1f, b1f, esp, n, ref = _common_args(t2, t1, echo_spacing, n_echoes, b1,
                                                      refocusing_angle)
    pos, w, exc_fa, ref_fa = slice_profile(
        n_subslices, time_bandwidth, ref, excitation_angle, refocusing_width, window, method,
        extent, excitation_time_bandwidth=excitation_time_bandwidth,
        refocusing_time_bandwidth=refocusing_time_bandwidth,
        excitation_window=excitation_window, refocusing_window=refocusing_window,
        b1_scaling=b1_scaling)
    if b1_scaling == "pulse" and method == "bloch":
        if b1f.size and b1f.max() > PULSE_B1_MAX:
            raise ValueError(f"b1 must be <= {PULSE_B1_MAX} with b1_scaling='pulse', got "
                             f"{b1f.max():g}")
        w_exc = window if excitation_window is None else excitation_window
        w_ref = window if refocusing_window is None else refocusing_window
        tb_exc = time_bandwidth if excitation_time_bandwidth is None else excitation_time_bandwidth
        tb_ref = time_bandwidth if refocusing_time_bandwidth is None else refocusing_time_bandwidth
        ext = 2.0 if extent is None else extent
        half_w, exc_tab, ref_tab = _pulse_tables(
            int(n_subslices), float(tb_exc), float(tb_ref), ref, float(excitation_angle),
            float(refocusing_width), w_exc, w_ref, float(ext))
        out = cpmg_pulse_profile_kernel(t2f, t1f, b1f, 0.5 * esp, n, exc_tab, ref_tab,
                                        PULSE_B1_STEP, np.ascontiguousarray(half_w))
        return out.reshape(shape + (n,))
    _, half_w = fold_symmetric(pos, w)
    keep = pos >= 0
    kernel = cpmg_profile_kernel if t2f.size >= SERIAL_BELOW else cpmg_profile_kernel_serial
    out = kernel(t2f, t1f, b1f, 0.5 * esp, n,
                              np.ascontiguousarray(exc_fa[keep]),
                              np.ascontiguousarray(ref_fa[keep]),
                              np.ascontiguousarray(half_w))
    return out.reshape(shape + (n,))
