"""What the phantom's scanner simulates, as opposed to what the fits assume.

Fitting data made with the fit's own forward model is the "inverse crime" (Kaipio &
Somersalo 2005 [Kaipio2005]_): the fit then looks better than it can on a scanner. The
phantom therefore simulates with more physics than the fits invert, and this module says
exactly which:

- **multi-echo gradient echo**: the nine-peak triglyceride spectrum of adipose tissue
  (:data:`qmri_kernels.physics.REN2008_FAT_SPECTRUM`; chemical model of Hamilton 2011
  [Hamilton2011]_ with peak positions of Ren 2008 [Ren2008]_), where the fat-water fit
  assumes six peaks (:data:`qmri_kernels.physics.DEFAULT_FAT_SPECTRUM`);
- **multi-echo spin echo**: a Bloch simulation (:mod:`.bloch`) of a pulse pair the EPG
  fit does not assume — a Hamming-windowed sinc excitation of time-bandwidth product 3
  and Hamming-windowed sinc refocusing pulses of TBW 2 on a 1.5× wider slice (product
  sequences widen the refocusing slice to reduce slice-profile effects; their actual
  shapes and the ratio of slice widths are what Lebel & Wilman 2010 [Lebel2010]_ and
  McPhee & Wilman 2017 [McPhee2017]_ show the fitted T2 depends on; these particular
  values are a representative choice, not one vendor's documented pulses), simulated at
  each B1 with the scaled pulse, with the phase across the slice, and with the slice shift
  of each frequency offset (chemical shift and B0);
- the fat in the spin echo is the nine peaks, each with its own T2
  (:data:`qmri_kernels.physics.FAT_T2_RATIO_9PEAK` × the subject's fat T2), each
  saturated by CHESS at its own frequency and shifted in slice by its own offset, where
  the EPG fit assumes one fat T2 and the six-peak spectrum; CHESS also partly saturates
  water where B0 moves water into its band, which the fat-share prediction ignores.

:func:`scanner_vs_fit_assumptions` tabulates the two sides. :data:`FIT_MODEL_SCANNER`
simulates with the fits' own assumptions (for tests that isolate a fit's numerics and for
comparison).

References
----------
.. [Kaipio2005] Kaipio J, Somersalo E (2005). Statistical and Computational Inverse
   Problems. Springer, New York (Applied Mathematical Sciences 160).
.. [Hamilton2011] Hamilton G, Yokoo T, Bydder M, et al. (2011). In vivo characterization of
   the liver fat 1H MR spectrum. NMR Biomed 24:784-790.
.. [Ren2008] Ren J, Dimitrov I, Sherry AD, Malloy CR (2008). Composition of adipose tissue
   and marrow fat in humans by 1H NMR at 7 Tesla. J Lipid Res 49:2055-2062.
.. [Lebel2010] Lebel RM, Wilman AH (2010). Transverse relaxometry with stimulated echo
   compensation. Magn Reson Med 64:1005-1014.
.. [McPhee2017] McPhee KC, Wilman AH (2017). Transverse relaxation and flip angle mapping:
   evaluation of simultaneous and independent methods using multiple spin echoes. Magn
   Reson Med 77:2057-2065.
.. [Gajdosik2014] Gajdošík M, Chmelík M, Just-Kukurová I, et al. (2014). In vivo relaxation
   behavior of liver compounds at 7 Tesla, measured by single-voxel proton MR
   spectroscopy. J Magn Reson Imaging 40:1365-1374.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit, prange

from .. import physics
from ..fatsat import chess_saturation
from ..physics import DEFAULT_FAT_SPECTRUM, REN2008_FAT_SPECTRUM, FatSpectrum
from .bloch import RFPulse, prepare_pulses

__all__ = ["ScannerPhysics", "DEFAULT_SCANNER", "FIT_MODEL_SCANNER", "EXCITATION",
           "REFOCUSING", "MeseSimulator", "mese_simulator", "scanner_vs_fit_assumptions",
           "ScannerError"]


class ScannerError(ValueError):
    """A scanner setting is invalid."""


#: Excitation of the simulated MESE: 90° Hamming-windowed sinc, TBW 3, 2.4 ms.
EXCITATION = RFPulse(np.pi / 2, 3.0, "hamming", duration=2.4e-3, width=1.0, phase=0.0,
                    n_samples=128)
#: Refocusing pulses: 180° Hamming-windowed sinc, TBW 2, 2.0 ms, on a 1.5× wider slice,
#: phase 90° to the excitation (CPMG).
REFOCUSING = RFPulse(np.pi, 2.0, "hamming", duration=2.0e-3, width=1.5, phase=np.pi / 2,
                    n_samples=128)


@dataclass(frozen=True)
class ScannerPhysics:
    """The physics the phantom simulates with.

    Parameters
    ----------
    name : str
        Short label.
    megre_fat_spectrum : FatSpectrum
        Fat spectrum of the gradient-echo images.
    mese_fat_spectrum : FatSpectrum
        Fat peaks of the spin echo (their CHESS saturation, slice shift and T2).
    fat_t2_ratio : tuple of float
        T2 of each peak of ``mese_fat_spectrum`` relative to the subject's fat T2.
    excitation, refocusing : RFPulse
        The spin echo's pulses (``mese_model="bloch"``).
    mese_model : {"bloch", "fit"}
        ``"bloch"``: :func:`qmri_kernels.phantom.bloch.mese_echoes`; ``"fit"``: the EPG
        fit's own default model (:func:`qmri_kernels.t2.epg.cpmg_signal_slice_profile`).
    off_resonance_slice_shift : bool
        Chemical shift and B0 shift each pulse's slice (Bloch model only).
    chess_water_saturation : bool
        CHESS saturates water where B0 moves it into the band.
    n_positions, extent : int, float
        Sub-slices of the Bloch simulation and the thickness they cover (excitation
        slice thicknesses).
    """

    name: str = "bloch-9peak"
    megre_fat_spectrum: FatSpectrum = REN2008_FAT_SPECTRUM
    mese_fat_spectrum: FatSpectrum = REN2008_FAT_SPECTRUM
    fat_t2_ratio: tuple = tuple(physics.FAT_T2_RATIO_9PEAK)
    excitation: RFPulse = EXCITATION
    refocusing: RFPulse = REFOCUSING
    mese_model: str = "bloch"
    off_resonance_slice_shift: bool = True
    chess_water_saturation: bool = True
    n_positions: int = 32
    extent: float = 3.0

    def __post_init__(self) -> None:
        if self.mese_model not in ("bloch", "fit"):
            raise ScannerError(f"mese_model must be 'bloch' or 'fit', got {self.mese_model!r}")
        if len(self.fat_t2_ratio) != self.mese_fat_spectrum.ppm.size:
            raise ScannerError(f"fat_t2_ratio has {len(self.fat_t2_ratio)} entries; "
                               f"mese_fat_spectrum has {self.mese_fat_spectrum.ppm.size} peaks")
        if any(not (np.isfinite(r) and r > 0) for r in self.fat_t2_ratio):
            raise ScannerError("fat_t2_ratio must be positive and finite")

    def epg_slice_profile(self) -> dict:
        """The ``slice_profile`` settings that tell :class:`qmri_kernels.t2.EPGT2Model`
        this scanner's pulses (what a site would take from its sequence documentation).

        Returns
        -------
        dict
            Window, time-bandwidth product and flip of each pulse, the refocusing slice
            width relative to the excitation's, and the thickness simulated (3 slices).

        Raises
        ------
        ScannerError
            For a scanner that simulates with the fit's own model (nothing to tell).
        """
        if self.mese_model != "bloch":
            raise ScannerError("this scanner simulates with the EPG fit's own model; its "
                               "default slice_profile=True is already the truth")
        exc, ref = self.excitation, self.refocusing
        return {"excitation_window": exc.window,
                "excitation_time_bandwidth": float(exc.time_bandwidth),
                "excitation_angle": float(exc.flip_angle),
                "refocusing_window": ref.window,
                "refocusing_time_bandwidth": float(ref.time_bandwidth),
                "refocusing_width": float(ref.width / exc.width), "extent": 3.0}

    def water_weight(self, psi) -> np.ndarray:
        """Fraction of water magnetisation CHESS leaves at off-resonance ``psi``.

        Parameters
        ----------
        psi : array-like, shape (...)
            Off-resonance, Hz.

        Returns
        -------
        ndarray, shape (...)
            1 − :func:`qmri_kernels.fatsat.chess_saturation` (ψ) (CHESS: Haase 1985,
            Phys Med Biol), or 1 where the scanner does not model water saturation.
        """
        psi = np.asarray(psi, float)
        if not self.chess_water_saturation:
            return np.ones_like(psi)
        return 1.0 - chess_saturation(psi)

    def fat_weights(self, psi) -> np.ndarray:
        """Amplitude of each spin-echo fat peak after CHESS: a_p (1 − saturation(f_p + ψ)).

        Parameters
        ----------
        psi : array-like, shape (...)
            Off-resonance, Hz.

        Returns
        -------
        ndarray, shape (..., P)
            Relative amplitude of each of the P peaks of ``mese_fat_spectrum`` left after
            CHESS at offset ψ (the amplitudes a_p sum to 1 before saturation).
        """
        sp = self.mese_fat_spectrum
        f = sp.frequencies_hz(3.0)
        return sp.amplitudes * (1.0 - chess_saturation(np.asarray(psi, float)[..., None] + f))


#: The cohort's scanner (module docstring).
DEFAULT_SCANNER = ScannerPhysics()
#: A scanner that is the fits' own model: six-peak fat, one fat T2, the EPG fit's default
#: slice profile, no CHESS water saturation (the "inverse crime", for tests and comparison).
FIT_MODEL_SCANNER = ScannerPhysics(
    name="fit-model", megre_fat_spectrum=DEFAULT_FAT_SPECTRUM,
    mese_fat_spectrum=DEFAULT_FAT_SPECTRUM, fat_t2_ratio=(1.0,) * DEFAULT_FAT_SPECTRUM.ppm.size,
    mese_model="fit", off_resonance_slice_shift=False, chess_water_saturation=False)

# Table grids: log T2 from 4 ms to 0.5 s (3 % steps), B1 0.5-1.3 (0.02 steps), off-resonance
# 0-300 Hz for water (its profile is even in the offset) and ±300 Hz around each fat peak
# (50 Hz steps). Linear interpolation on them errs by < 1e-3 of the first echo.
_LOG_T2 = np.linspace(np.log(0.004), np.log(0.5), 161)
_B1 = np.linspace(0.5, 1.3, 41)
_PSI_STEP = 50.0
_PSI_MAX = 300.0


@njit(cache=True, parallel=True)
def _interp3(table, x, y, z):
    """Trilinear interpolation of table (NX, NY, NZ, E) at fractional indices x, y, z (V,)."""
    nx, ny, nz, ne = table.shape
    out = np.empty((x.shape[0], ne), dtype=table.dtype)
    for v in prange(x.shape[0]):
        i, fi = _cell(x[v], nx)
        j, fj = _cell(y[v], ny)
        k, fk = _cell(z[v], nz)
        i1 = min(i + 1, nx - 1)
        j1 = min(j + 1, ny - 1)
        k1 = min(k + 1, nz - 1)
        for e in range(ne):
            c00 = table[i, j, k, e] * (1 - fi) + table[i1, j, k, e] * fi
            c10 = table[i, j1, k, e] * (1 - fi) + table[i1, j1, k, e] * fi
            c01 = table[i, j, k1, e] * (1 - fi) + table[i1, j, k1, e] * fi
            c11 = table[i, j1, k1, e] * (1 - fi) + table[i1, j1, k1, e] * fi
            out[v, e] = ((c00 * (1 - fj) + c10 * fj) * (1 - fk)
                         + (c01 * (1 - fj) + c11 * fj) * fk)
    return out


@njit(cache=True, parallel=True)
def _interp_peaks(tables, weights, y, z):
    """Σ_p weights[v, p] · bilinear(tables[p], y[v], z[v]); tables (P, NY, NZ, E)."""
    npk, ny, nz, ne = tables.shape
    out = np.zeros((y.shape[0], ne), dtype=tables.dtype)
    for v in prange(y.shape[0]):
        j, fj = _cell(y[v], ny)
        k, fk = _cell(z[v], nz)
        j1 = min(j + 1, ny - 1)
        k1 = min(k + 1, nz - 1)
        for p in range(npk):
            wp = weights[v, p]
            for e in range(ne):
                out[v, e] += wp * ((tables[p, j, k, e] * (1 - fj) + tables[p, j1, k, e] * fj)
                                   * (1 - fk)
                                   + (tables[p, j, k1, e] * (1 - fj) + tables[p, j1, k1, e] * fj)
                                   * fk)
    return out


@njit(cache=True)
def _cell(x, n):
    """Lower index and fraction of a fractional index ``x`` clipped to [0, n - 1]."""
    if n == 1:
        return 0, 0.0
    x = min(max(x, 0.0), n - 1.0)
    i = min(int(np.floor(x)), n - 2)
    return i, x - i


class MeseSimulator:
    """Echo trains of the scanner's spin echo, tabulated and interpolated.

    Use :func:`mese_simulator` (cached). Water is tabulated over (log T2, B1, |offset|)
    once; the fat of a subject over (B1, offset) per peak for its fat T2.
    """

    def __init__(self, scanner: ScannerPhysics, echo_spacing: float, n_echoes: int) -> None:
        self.scanner = scanner
        self.echo_spacing = float(echo_spacing)
        self.n_echoes = int(n_echoes)
        shift = scanner.mese_model == "bloch" and scanner.off_resonance_slice_shift
        self._psi_water = (np.arange(0.0, _PSI_MAX + 1e-9, _PSI_STEP) if shift
                           else np.zeros(1))
        self._psi_fat = (np.arange(-_PSI_MAX, _PSI_MAX + 1e-9, _PSI_STEP) if shift
                         else np.zeros(1))
        self._pulses: dict = {}      # pulses simulated per species offset, kept for reuse
        self._water = self._echoes(np.exp(_LOG_T2), physics.T1_MUSCLE_3T, 0.0, self._psi_water)
        self._fat_cache: dict[float, np.ndarray] = {}

    def _echoes(self, t2, t1, offset_hz, psi) -> np.ndarray:
        """(T, B1, psi, n) complex echo trains at offsets ``offset_hz + psi``."""
        sc = self.scanner
        if sc.mese_model == "fit":
            from ..t2.epg import cpmg_signal_slice_profile
            from ..t2.epg_model import DEFAULT_SLICE_PROFILE
            tt, bb = np.meshgrid(t2, _B1, indexing="ij")
            e = cpmg_signal_slice_profile(tt, t1, self.echo_spacing, self.n_echoes, bb,
                                          **DEFAULT_SLICE_PROFILE)
            return np.ascontiguousarray(e[:, :, None, :].astype(np.complex128))
        key = round(float(offset_hz), 6)
        if key not in self._pulses:
            self._pulses[key] = prepare_pulses(_B1, sc.excitation, sc.refocusing,
                                               offset_hz + psi, sc.n_positions, sc.extent)
        e = self._pulses[key].echoes(t2, t1, self.echo_spacing, self.n_echoes)
        return np.ascontiguousarray(e)

    def _fat_tables(self, fat_t2: float) -> np.ndarray:
        """(P, B1, psi, n) complex echo trains of each fat peak for this fat T2."""
        key = round(float(fat_t2), 9)
        if key not in self._fat_cache:
            sc = self.scanner
            freqs = sc.mese_fat_spectrum.frequencies_hz(3.0)
            shift = sc.mese_model == "bloch" and sc.off_resonance_slice_shift
            tabs = []
            for f, ratio in zip(freqs, sc.fat_t2_ratio):
                e = self._echoes(np.array([key * ratio]), physics.T1_FAT_3T,
                                 f if shift else 0.0, self._psi_fat)
                tabs.append(e[0])
            self._fat_cache[key] = np.ascontiguousarray(np.stack(tabs))
        return self._fat_cache[key]

    def _coords(self, b1, psi, psi_grid):
        y = (np.clip(np.asarray(b1, float), _B1[0], _B1[-1]) - _B1[0]) / (_B1[1] - _B1[0])
        if psi_grid.size == 1:
            z = np.zeros_like(y)
        else:
            z = (np.clip(np.asarray(psi, float), psi_grid[0], psi_grid[-1]) - psi_grid[0]) \
                / (psi_grid[1] - psi_grid[0])
        return np.ascontiguousarray(y, dtype=np.float64), np.ascontiguousarray(z, np.float64)

    def water(self, t2, b1, psi) -> np.ndarray:
        """Water echo trains, (V, n_echoes) complex, for M0 = 1.

        Parameters
        ----------
        t2, b1, psi : (V,) array-like
            Water T2 (s), relative B1, off-resonance (Hz). Values outside the tables
            are clipped to them: T2 to 4–500 ms, B1 to 0.5–1.3, |ψ| to 300 Hz.

        Returns
        -------
        (V, n_echoes) complex ndarray
            Echo amplitudes at ``echo_spacing``, 2·``echo_spacing``, … for water M0 = 1,
            interpolated (trilinearly in log T2, B1 and |ψ|) from the Bloch-simulated
            table; a negative ψ gives the complex conjugate of +ψ.
        """
        t2 = np.asarray(t2, float)
        x = (np.log(np.clip(t2, np.exp(_LOG_T2[0]), np.exp(_LOG_T2[-1]))) - _LOG_T2[0]) \
            / (_LOG_T2[1] - _LOG_T2[0])
        psi = np.asarray(psi, float)
        y, z = self._coords(b1, np.abs(psi), self._psi_water)
        out = _interp3(self._water, np.ascontiguousarray(x, dtype=np.float64), y, z)
        # on resonance the profile is even: an offset −ψ gives the complex conjugate of +ψ
        neg = np.broadcast_to(psi, y.shape) < 0
        out[neg] = np.conj(out[neg])
        return out

    def water_weight(self, psi) -> np.ndarray:
        """See :meth:`ScannerPhysics.water_weight`.

        Parameters
        ----------
        psi : array-like, shape (...)
            Off-resonance, Hz.

        Returns
        -------
        ndarray, shape (...)
            Fraction of water magnetisation CHESS leaves (Haase 1985, Phys Med Biol), or
            1 where the scanner does not model water saturation.
        """
        return self.scanner.water_weight(psi)

    def fat_weights(self, psi) -> np.ndarray:
        """See :meth:`ScannerPhysics.fat_weights`.

        Parameters
        ----------
        psi : array-like, shape (...)
            Off-resonance, Hz.

        Returns
        -------
        ndarray, shape (..., P)
            Relative amplitude a_p (1 − saturation(f_p + ψ)) of each of the P peaks of
            the scanner's spin-echo fat spectrum.
        """
        return self.scanner.fat_weights(psi)

    def fat(self, fat_t2: float, b1, psi) -> np.ndarray:
        """Fat echo trains after CHESS, (V, n_echoes) complex, for M0 = 1 of fat.

        Σ_p a_p · (1 − saturation(f_p + ψ)) · E_p(ratio_p · fat_t2, B1, f_p + ψ).

        Parameters
        ----------
        fat_t2 : float
            The subject's fat T2, s; peak p relaxes with ``fat_t2_ratio[p] · fat_t2``
            (the echo trains are simulated once per value and cached).
        b1 : (V,) array-like
            Relative transmit field (clipped to 0.5–1.3).
        psi : (V,) array-like
            Off-resonance (B0), Hz (clipped to ±300 Hz about each peak).

        Returns
        -------
        (V, n_echoes) complex ndarray
            Summed fat echo amplitudes for fat M0 = 1.
        """
        tabs = self._fat_tables(fat_t2)
        weights = np.ascontiguousarray(self.fat_weights(psi), dtype=np.float64)
        y, z = self._coords(b1, psi, self._psi_fat)
        return _interp_peaks(tabs, weights, y, z)


@lru_cache(maxsize=4)
def mese_simulator(scanner: ScannerPhysics, echo_spacing: float, n_echoes: int
                   ) -> MeseSimulator:
    """The (cached) :class:`MeseSimulator` of a scanner and echo train.

    Parameters
    ----------
    scanner : ScannerPhysics
        The simulated scanner (hashable; the four latest simulators are kept).
    echo_spacing : float
        ΔTE, s (rounded to 1 ns for the cache key).
    n_echoes : int
        Echoes per train.

    Returns
    -------
    MeseSimulator
        Water tables computed; fat tables computed on first use per fat T2.
    """
    return MeseSimulator(scanner, round(float(echo_spacing), 9), int(n_echoes))


def scanner_vs_fit_assumptions(scanner: ScannerPhysics = DEFAULT_SCANNER):
    """What the simulated scanner does and what each fit assumes, side by side.

    Parameters
    ----------
    scanner : ScannerPhysics
        The simulated scanner (default :data:`DEFAULT_SCANNER`).

    Returns
    -------
    pandas.DataFrame
        One row per aspect: ``series``, ``aspect``, ``simulated_scanner``,
        ``fit_assumes``, ``fit`` (which fit makes the assumption).
    """
    import pandas as pd

    from ..t2.epg_model import DEFAULT_SLICE_PROFILE

    exc, ref = scanner.excitation, scanner.refocusing
    d = DEFAULT_SLICE_PROFILE
    n_peaks = scanner.mese_fat_spectrum.ppm.size

    def pulse(p, role):
        return (f"{np.degrees(p.flip_angle):.0f}° {p.window}-windowed sinc, TBW "
                f"{p.time_bandwidth:g}, {p.duration * 1e3:g} ms, slice {p.width:g}× "
                f"the excitation's" if role == "refocusing" else
                f"{np.degrees(p.flip_angle):.0f}° {p.window}-windowed sinc, TBW "
                f"{p.time_bandwidth:g}, {p.duration * 1e3:g} ms")

    bloch = scanner.mese_model == "bloch"
    rows = [
        ("MEGRE", "fat spectrum",
         f"{scanner.megre_fat_spectrum.ppm.size} peaks ({scanner.megre_fat_spectrum.name})",
         f"{DEFAULT_FAT_SPECTRUM.ppm.size} peaks ({DEFAULT_FAT_SPECTRUM.name})",
         "fat-water (Dixon)"),
        ("MEGRE", "signal decay", "one R2* for water and fat", "one R2* for water and fat",
         "fat-water (Dixon)"),
        ("MESE", "excitation pulse", pulse(exc, "excitation") if bloch else "the fit's model",
         f"90° {d['window']}-windowed sinc, TBW {d['time_bandwidth']:g}", "EPG water T2"),
        ("MESE", "refocusing pulses", pulse(ref, "refocusing") if bloch else "the fit's model",
         f"180° {d['window']}-windowed sinc, TBW {d['time_bandwidth']:g}, slice "
         f"{d['refocusing_width']:g}× the excitation's", "EPG water T2"),
        ("MESE", "slice profile at B1",
         "Bloch simulation of the pulse scaled by B1" if bloch else "scaled flip profile",
         "nominal flip profile scaled by B1, b1·θ(z)", "EPG water T2"),
        ("MESE", "phase across the slice",
         "full rotation; complex extended phase graph per sub-slice" if bloch
         else "real flip angles", "flip angles only (CPMG condition everywhere)",
         "EPG water T2"),
        ("MESE", "slice shift off resonance",
         "each pulse's slice shifts by offset / bandwidth (fat peaks, B0)"
         if bloch and scanner.off_resonance_slice_shift else "none", "none", "EPG water T2"),
        ("MESE", "T1 recovery during the train", "included" if bloch else "neglected",
         "neglected", "EPG water T2"),
        ("MESE", "fat signal",
         f"{n_peaks} peaks, T2 = ratio × subject fat T2 (ratios "
         f"{min(scanner.fat_t2_ratio):.2f}–{max(scanner.fat_t2_ratio):.2f}); subject fat "
         f"T2 {physics.T2_FAT_3T * 1e3:.0f} ms ± 10 %",
         f"one fat T2, {physics.T2_FAT_3T * 1e3:.0f} ms", "EPG water T2"),
        ("MESE", "residual fat after CHESS",
         f"Gaussian CHESS band on the {n_peaks}-peak spectrum at the local B0",
         f"Gaussian CHESS band on the {DEFAULT_FAT_SPECTRUM.ppm.size}-peak spectrum at "
         "the Dixon field map", "EPG water T2 (fat share from Dixon)"),
        ("MESE", "water saturated by CHESS",
         "yes, where B0 moves water into the band" if scanner.chess_water_saturation
         else "no", "no", "EPG water T2 (fat share from Dixon)"),
        ("all", "noise", "complex Gaussian, magnitude images (Rician)",
         "Gaussian residuals; late echoes below 3σ dropped (EPG)", "all"),
    ]
    return pd.DataFrame(rows, columns=["series", "aspect", "simulated_scanner",
                                       "fit_assumes", "fit"])
