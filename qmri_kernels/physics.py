"""Physical constants of the thigh qMRI protocol, each with its source.

Every number a kernel or the phantom uses lives here, once, so that a reader can check it
against the paper it comes from. Units are SI (s, 1/s, Hz, T) unless the name says ppm.

References
----------
.. [CODATA2018] Tiesinga E, Mohr PJ, Newell DB, Taylor BN (2021). CODATA recommended values
   of the fundamental physical constants: 2018. Rev Mod Phys 93:025010.
.. [Hamilton2011] Hamilton G, Yokoo T, Bydder M, et al. (2011). In vivo characterization of
   the liver fat 1H MR spectrum. NMR Biomed 24:784-790.
.. [Ren2008] Ren J, Dimitrov I, Sherry AD, Malloy CR (2008). Composition of adipose tissue
   and marrow fat in humans by 1H NMR at 7 Tesla. J Lipid Res 49:2055-2062.
.. [Gold2004] Gold GE, Han E, Stainsby J, et al. (2004). Musculoskeletal MRI at 3.0 T:
   relaxation times and image contrast. AJR 183:343-351.
.. [Marty2016] Marty B, Baudin PY, Reyngoudt H, et al. (2016). Simultaneous muscle water T2
   and fat fraction mapping using transverse relaxometry with stimulated echo compensation.
   NMR Biomed 29:431-443.
.. [Schwenzer2009] Schwenzer NF, Martirosian P, Machann J, et al. (2009). Aging effects on
   human calf muscle properties assessed by MRI at 3 Tesla. JMRI 29:1346-1354.
.. [Gajdosik2014] Gajdošík M, Chmelík M, Just-Kukurová I, et al. (2014). In vivo relaxation
   behavior of liver compounds at 7 Tesla, measured by single-voxel proton MR
   spectroscopy. J Magn Reson Imaging 40:1365-1374.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "GAMMA_BAR_HZ_PER_T",
    "WATER_PPM",
    "FAT_PPM_6PEAK",
    "FAT_AMPLITUDES_6PEAK",
    "FAT_PPM_9PEAK",
    "FAT_AMPLITUDES_9PEAK",
    "FatSpectrum",
    "DEFAULT_FAT_SPECTRUM",
    "REN2008_FAT_SPECTRUM",
    "triglyceride_spectrum",
    "T1_MUSCLE_3T",
    "T2_MUSCLE_3T",
    "T1_FAT_3T",
    "T2_FAT_3T",
    "R2STAR_MUSCLE_3T",
    "FAT_T2_RATIO_9PEAK",
]

#: Proton gyromagnetic ratio divided by 2π, in Hz/T: 42.577 478 518 MHz/T [CODATA2018]_.
GAMMA_BAR_HZ_PER_T: float = 42.577478518e6

#: Chemical shift of water at body temperature, in ppm, the reference of fat offsets
#: (Hamilton 2011 [Hamilton2011]_ reference the fat peaks to water at 4.7 ppm).
WATER_PPM: float = 4.7

#: Six-peak fat spectrum at 3 T, in ppm [Hamilton2011]_ (the default of the ISMRM
#: fat-water toolbox and of most IDEAL-type fits): methyl 0.90, methylene 1.30,
#: α-carboxyl/α-olefinic 2.10, diallylic 2.76, glycerol 4.31, olefinic 5.30.
FAT_PPM_6PEAK: np.ndarray = np.array([0.90, 1.30, 2.10, 2.76, 4.31, 5.30])

#: Relative amplitudes of :data:`FAT_PPM_6PEAK`, summing to 1 [Hamilton2011]_.
FAT_AMPLITUDES_6PEAK: np.ndarray = np.array([0.087, 0.693, 0.128, 0.004, 0.039, 0.048])


def triglyceride_spectrum(chain_length: float, n_double_bonds: float,
                          n_methylene_interrupted: float) -> tuple[np.ndarray, np.ndarray]:
    """Nine-peak triglyceride spectrum from the fatty-acid chemical model.

    The number of protons in each resonance follows from the mean chain length CL, the
    number of double bonds per triglyceride ndb and of methylene-interrupted double bonds
    nmidb (Hamilton 2011 [Hamilton2011]_, Table 1; peak positions of Ren 2008 [Ren2008]_).

    Parameters
    ----------
    chain_length : float
        Mean fatty-acid chain length CL (carbons).
    n_double_bonds : float
        Double bonds per triglyceride, ndb.
    n_methylene_interrupted : float
        Methylene-interrupted double bonds per triglyceride, nmidb.

    Returns
    -------
    ppm : (9,) ndarray
        Chemical shifts in ppm.
    amplitudes : (9,) ndarray
        Relative amplitudes, summing to 1.

    Raises
    ------
    ValueError
        If the composition gives a negative proton count in some resonance (e.g. more
        methylene-interrupted than total double bonds).
    """
    cl, ndb, nmidb = float(chain_length), float(n_double_bonds), float(n_methylene_interrupted)
    ppm = np.array([0.90, 1.30, 1.59, 2.02, 2.24, 2.75, 4.20, 5.19, 5.29])
    protons = np.array([
        9.0,                                   # -CH3 methyl
        (cl - 4.0) * 6.0 - ndb * 8.0 + nmidb * 2.0,  # -(CH2)n- methylene
        6.0,                                   # β-carboxyl
        (ndb - nmidb) * 4.0,                   # α-olefinic
        6.0,                                   # α-carboxyl
        nmidb * 2.0,                           # diallylic
        4.0,                                   # glycerol CH2
        1.0,                                   # glycerol CH
        ndb * 2.0,                             # olefinic
    ])
    if np.any(protons < 0):
        raise ValueError("chain_length, n_double_bonds and n_methylene_interrupted give a "
                         "negative proton count; check the composition")
    return ppm, protons / protons.sum()


#: Nine-peak spectrum of human subcutaneous adipose tissue: the chemical model of
#: :func:`triglyceride_spectrum` with CL = 17.3, ndb = 2.8, nmidb = 0.75, values of the order
#: Ren 2008 [Ren2008]_ measured in human adipose tissue at 7 T. Used to simulate data the
#: six-peak default did not make.
FAT_PPM_9PEAK, FAT_AMPLITUDES_9PEAK = triglyceride_spectrum(17.3, 2.8, 0.75)


class FatSpectrum:
    """A multi-peak fat spectrum: chemical shifts (ppm) and relative amplitudes.

    Parameters
    ----------
    ppm : (P,) array-like
        Peak positions in ppm.
    amplitudes : (P,) array-like
        Relative amplitudes; normalised to sum to 1.
    name : str
        Short label used in figures and sidecars.
    """

    def __init__(self, ppm, amplitudes, name: str = "custom") -> None:
        ppm = np.asarray(ppm, dtype=float).copy()
        amps = np.asarray(amplitudes, dtype=float).copy()
        if ppm.ndim != 1 or ppm.shape != amps.shape or ppm.size == 0:
            raise ValueError(f"ppm and amplitudes must be 1-D of equal length, got "
                             f"{ppm.shape} and {amps.shape}")
        if np.any(amps < 0) or amps.sum() <= 0:
            raise ValueError("amplitudes must be non-negative with a positive sum")
        self.ppm = ppm
        self.amplitudes = amps / amps.sum()
        self.name = name
        self.ppm.setflags(write=False)
        self.amplitudes.setflags(write=False)

    def frequencies_hz(self, field_strength: float) -> np.ndarray:
        """Peak offsets from water in Hz at ``field_strength`` tesla.

        f_p = γ̄ · B0 · (ppm_p − 4.7) · 1e−6 (DESIGN.md §5; γ̄ from [CODATA2018]_).
        Negative: fat resonates below water (about −434 Hz for methylene at 3 T).

        Parameters
        ----------
        field_strength : float
            Main field B0, T (e.g. 3.0); not checked for sign.

        Returns
        -------
        (P,) ndarray of float
            Offset of each peak of :attr:`ppm` from the water resonance (4.7 ppm), Hz,
            in the order of :attr:`ppm`.
        """
        return GAMMA_BAR_HZ_PER_T * float(field_strength) * (self.ppm - WATER_PPM) * 1e-6

    def __repr__(self) -> str:
        return f"FatSpectrum(name={self.name!r}, peaks={self.ppm.size})"


#: The default six-peak spectrum [Hamilton2011]_.
DEFAULT_FAT_SPECTRUM = FatSpectrum(FAT_PPM_6PEAK, FAT_AMPLITUDES_6PEAK, name="hamilton2011-6peak")
#: The nine-peak adipose spectrum used as "foreign" data in tests [Ren2008]_.
REN2008_FAT_SPECTRUM = FatSpectrum(FAT_PPM_9PEAK, FAT_AMPLITUDES_9PEAK, name="ren2008-9peak")

#: Skeletal-muscle T1 at 3 T, s: 1.42 s [Gold2004]_.
T1_MUSCLE_3T: float = 1.420
#: Skeletal-muscle T2 at 3 T, s: 31.7 ms [Gold2004]_ (healthy; IIM lengthens it).
T2_MUSCLE_3T: float = 0.0317
#: Subcutaneous-fat T1 at 3 T, s: 371 ms [Gold2004]_.
T1_FAT_3T: float = 0.371
#: Fat T2 at 3 T, s: 133 ms [Gold2004]_; EPG water/fat fits calibrate it per subject
#: (Marty 2016 [Marty2016]_).
T2_FAT_3T: float = 0.133
#: Muscle R2* at 3 T, 1/s: T2* ≈ 29 ms in healthy calf muscle [Schwenzer2009]_.
R2STAR_MUSCLE_3T: float = 34.0

#: T2 of each peak of :data:`FAT_PPM_9PEAK` relative to the methylene peak (1.30 ppm).
#: The resolved peaks take the ratios of Gajdošík 2014 [Gajdosik2014]_ (in vivo STEAM,
#: T2 with J-coupling modelled): methyl 34 ms, methylene 41 ms, α-olefinic (2.02 ppm)
#: 44 ms, α-carboxyl (2.24 ppm) 39 ms, diallylic (2.75 ppm) 44 ms. That study reports no
#: T2 for the β-carboxyl (1.59 ppm), glycerol (4.20, 5.19 ppm) and olefinic (5.29 ppm)
#: peaks; they take the methylene value (an assumption). Used by the phantom, whose fat
#: signal in the spin echo is a sum of peaks each with its own T2 (ratio × the subject's
#: fat T2), where the EPG fit assumes one fat T2.
FAT_T2_RATIO_9PEAK: np.ndarray = np.array([34.0, 41.0, 41.0, 44.0, 39.0, 44.0, 41.0, 41.0,
                                           41.0]) / 41.0
