"""A phantom subject: anatomy, tissue properties, fields, and simulated MR images.

:func:`make_subject` draws a subject from a seed; :meth:`Subject.truth` samples its
ground-truth maps on any :class:`~.grid.Grid`; the ``simulate_*`` methods produce the three
series of the protocol with a scanner's physics (:mod:`.scanner_physics`; by default
:data:`~.scanner_physics.DEFAULT_SCANNER`, which simulates more than the fits invert, so
that fitting its images is no "inverse crime"):

- multi-echo gradient echo: :func:`qmri_kernels.fatwater.signal` (common R2*,
  off-resonance) with the scanner's fat spectrum (nine peaks; the fit assumes six),
  proton-density weighted as IDEAL-IQ's low flip angle intends (Yu et al. 2008,
  MRM 60:1122), with a smooth receive phase;
- multi-echo spin echo: a Bloch simulation of the scanner's slice-selective excitation and
  refocusing pulses at the local B1 and off-resonance (:mod:`.bloch`), water plus the fat
  peaks that CHESS leaves (:mod:`qmri_kernels.fatsat`), each with its own T2, T1
  saturation at TR;
- T2-weighted fast spin echo: water and fat at the effective echo time.

All images carry the same receive-coil shading and complex Gaussian noise; magnitudes are
therefore Rician (Gudbjartsson & Patz 1995, MRM 34:910).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import physics
from ..fatwater import signal as gre_signal
from ._random_fields import BlobField, FourierField
from .anatomy import ThighAnatomy, random_anatomy
from .scanner_physics import DEFAULT_SCANNER, ScannerPhysics, mese_simulator
from ..grids import Grid
from ..labels import MUSCLES, SIDES, label_index

__all__ = ["DiseaseSpec", "Subject", "make_subject", "HEALTHY_WATER_T2", "HEALTHY_FF"]

#: Water T2 of unaffected muscle in this phantom, s. The paper's contralateral muscles
#: measured 44.5 ± 4.4 ms with the scanner's T2 map; healthy thigh muscle water T2 with
#: stimulated-echo correction is about 31–35 ms at 3 T (Gold 2004; Marty 2016).
HEALTHY_WATER_T2: float = 0.035
#: PDFF of unaffected thigh muscle (a few percent, e.g. Hernando 2017 / Bray 2018 reviews).
HEALTHY_FF: float = 0.03

# Per-tissue constants: PDFF, water T2 (s), R2* (1/s), proton density (relative).
_TISSUE = {
    "skin": (0.15, 0.035, 50.0, 0.70),
    1: (0.92, 0.035, 45.0, 0.95),   # subcutaneous fat
    2: (0.20, 0.002, 400.0, 0.05),  # femoral cortex
    3: (0.90, 0.040, 70.0, 0.95),   # marrow
    4: (0.85, 0.035, 50.0, 0.90),   # intermuscular fat / fascia
}
_MUSCLE_PD = 0.80


@dataclass(frozen=True)
class DiseaseSpec:
    """Mean PDFF and water T2 of every muscle, and how patchy they are.

    Parameters
    ----------
    muscle_ff : dict[(str, str), float]
        (muscle abbreviation, side) → mean PDFF in [0, 1]; missing muscles are healthy.
    muscle_t2 : dict[(str, str), float]
        (muscle abbreviation, side) → mean water T2, s.
    patchiness : float
        Log-normal spread of the within-muscle variation (0: homogeneous; IIM is patchy).
    """

    muscle_ff: dict = field(default_factory=dict)
    muscle_t2: dict = field(default_factory=dict)
    patchiness: float = 0.45

    def ff(self, muscle: str, side: str) -> float:
        """Mean PDFF of one muscle.

        Parameters
        ----------
        muscle : str
            Muscle abbreviation (one of :data:`qmri_kernels.labels.MUSCLES`).
        side : str
            Side (one of :data:`qmri_kernels.labels.SIDES`).

        Returns
        -------
        float
            PDFF as a fraction in [0, 1]; :data:`HEALTHY_FF` for a muscle not listed.
        """
        return float(self.muscle_ff.get((muscle, side), HEALTHY_FF))

    def t2(self, muscle: str, side: str) -> float:
        """Mean water T2 of one muscle.

        Parameters
        ----------
        muscle : str
            Muscle abbreviation (one of :data:`qmri_kernels.labels.MUSCLES`).
        side : str
            Side (one of :data:`qmri_kernels.labels.SIDES`).

        Returns
        -------
        float
            Water T2, s; :data:`HEALTHY_WATER_T2` for a muscle not listed.
        """
        return float(self.muscle_t2.get((muscle, side), HEALTHY_WATER_T2))


def _body_sample(anatomy: ThighAnatomy) -> np.ndarray:
    """World points (N, 3) on a coarse lattice inside both legs at z ∈ {−60, 0, 60} mm."""
    x, y, z = np.meshgrid(np.arange(-210, 211, 6.0), np.arange(-210, 211, 6.0),
                          [-60.0, 0.0, 60.0], indexing="ij")
    pts = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    return pts[anatomy.labels(pts) > 0]


@dataclass(frozen=True)
class Subject:
    """One phantom subject; sample it with :meth:`truth` and the ``simulate_*`` methods."""

    seed: int
    anatomy: ThighAnatomy
    disease: DiseaseSpec
    fat_t2: float
    b0_field: FourierField
    b0_poly: np.ndarray
    b0_scale: tuple
    b1_field: FourierField
    b1_scale: tuple
    coil_positions: np.ndarray
    coil_width: float
    coil_norm: float
    receive_phase: FourierField
    ff_pattern: FourierField
    t2_pattern: BlobField
    r2star_pattern: FourierField
    pattern_norm: dict = field(default_factory=dict)

    # -- fields -----------------------------------------------------------------------
    def b0(self, points: np.ndarray) -> np.ndarray:
        """Off-resonance (Hz) at world points (..., 3): a smooth shim residual.

        Parameters
        ----------
        points : (..., 3) ndarray
            World (RAS) coordinates, mm.

        Returns
        -------
        ndarray, shape (...)
            B0 offset, Hz: a second-order polynomial in x, y (first order in z, plus xz)
            plus a smooth random field, scaled by the subject's ``b0_scale``.
        """
        p = points / 200.0
        x, y, z = p[..., 0], p[..., 1], p[..., 2]
        c = self.b0_poly
        raw = (c[0] * x + c[1] * y + c[2] * z + c[3] * x * x + c[4] * x * y + c[5] * y * y
               + c[6] * x * z + self.b0_field(points))
        offset, scale = self.b0_scale
        return offset + scale * raw

    def b1(self, points: np.ndarray) -> np.ndarray:
        """Relative transmit field at world points (..., 3), spanning about 0.7–1.1.

        Parameters
        ----------
        points : (..., 3) ndarray
            World (RAS) coordinates, mm.

        Returns
        -------
        ndarray, shape (...)
            B1 relative to nominal (1 = nominal flip angle), clipped to [0.65, 1.15].
        """
        lo, span = self.b1_scale
        return np.clip(0.7 + 0.4 * (self.b1_field(points) - lo) / span, 0.65, 1.15)

    def coil_sensitivity(self, points: np.ndarray) -> np.ndarray:
        """Root-sum-of-squares receive sensitivity of the 8-channel array, mean ≈ 1.

        Parameters
        ----------
        points : (..., 3) ndarray
            World (RAS) coordinates, mm (only x and y are used: the coils are long in z).

        Returns
        -------
        ndarray, shape (...)
            Dimensionless sensitivity: Gaussian falloff (width ``coil_width``, mm) from each
            coil, combined as root sum of squares, divided by ``coil_norm``.
        """
        d2 = np.sum((points[..., None, :2] - self.coil_positions) ** 2, axis=-1)
        s = np.exp(-0.5 * d2 / self.coil_width ** 2)
        return np.sqrt(np.sum(s ** 2, axis=-1)) / self.coil_norm

    # -- ground truth -------------------------------------------------------------------
    def truth(self, grid: Grid) -> dict[str, np.ndarray]:
        """Ground-truth maps on ``grid``.

        Parameters
        ----------
        grid : Grid
            Voxel grid (shape and affine to world mm) sampled at voxel centres.

        Returns
        -------
        dict of ndarray, each of shape ``grid.shape``:
            ``labels`` (int16), ``pdff`` ([0, 1]), ``water_t2`` (s), ``fat_t2`` (s: the
            subject's fat T2, that of the methylene peak; in the spin echo each fat peak
            has its own, :data:`qmri_kernels.physics.FAT_T2_RATIO_9PEAK` × this),
            ``r2star`` (1/s), ``pd`` (relative proton density), ``b0`` (Hz), ``b1``.
        """
        pts = _grid_points(grid)
        return self._truth_at(pts)

    def _truth_at(self, pts: np.ndarray) -> dict[str, np.ndarray]:
        labels = self.anatomy.labels(pts)
        shape = labels.shape
        pdff = np.zeros(shape)
        wt2 = np.zeros(shape)
        r2s = np.zeros(shape)
        pd = np.zeros(shape)
        for lab, (ff, t2, r2, rho) in _TISSUE.items():
            if lab == "skin":
                continue
            sel = labels == lab
            pdff[sel], wt2[sel], r2s[sel], pd[sel] = ff, t2, r2, rho
        skin = self.anatomy.skin_mask(pts) & (labels == 1)
        ff, t2, r2, rho = _TISSUE["skin"]
        pdff[skin], wt2[skin], r2s[skin], pd[skin] = ff, t2, r2, rho
        muscle = labels > 10
        ffmod = np.zeros(shape)
        t2mod = np.zeros(shape)
        ffmod[muscle] = self.ff_pattern(pts[muscle])
        t2mod[muscle] = self.t2_pattern(pts[muscle])
        sig = self.disease.patchiness
        for side in SIDES:
            for m in MUSCLES:
                sel = labels == label_index(m, side)
                if not np.any(sel):
                    continue
                ff_m, t2_m = self.disease.ff(m, side), self.disease.t2(m, side)
                n_ff, n_t2 = self.pattern_norm.get(label_index(m, side), (1.0, 1.0))
                # log-normal patches, normalised to unit mean over the muscle: fatty infiltration
                pdff[sel] = np.clip(ff_m * np.exp(sig * ffmod[sel]) / n_ff, 0, 0.95)
                # edema: the excess over healthy T2 is concentrated in blobs (unit mean)
                excess = max(t2_m - HEALTHY_WATER_T2, 0.0)
                wt2[sel] = (HEALTHY_WATER_T2 + excess * t2mod[sel] / n_t2
                            + min(t2_m - HEALTHY_WATER_T2, 0))
                r2s[sel] = physics.R2STAR_MUSCLE_3T + 25.0 * pdff[sel]
                pd[sel] = _MUSCLE_PD
        body = labels > 0
        pb = pts[body]
        r2s[body] *= 1.0 + 0.08 * self.r2star_pattern(pb)
        b0 = np.zeros(shape)
        b1 = np.zeros(shape)
        b0[body] = self.b0(pb)
        b1[body] = self.b1(pb)
        return {
            "labels": labels.astype(np.int16),
            "pdff": pdff,
            "water_t2": wt2,
            "fat_t2": np.where(body, self.fat_t2, 0.0),
            "r2star": r2s,
            "pd": pd,
            "b0": b0,
            "b1": b1,
        }

    # -- simulation ---------------------------------------------------------------------
    def simulate_megre(self, grid: Grid, echo_times, rng, snr: float = 60.0,
                       field_strength: float = 3.0, truth: dict | None = None,
                       scanner: ScannerPhysics | None = None) -> np.ndarray:
        """Complex multi-echo gradient echo, shape grid.shape + (n_echoes,), complex64.

        ``snr`` is the first-echo magnitude of unaffected muscle at unit coil sensitivity
        over the noise standard deviation per real channel. The fat signal follows
        ``scanner.megre_fat_spectrum`` (default :data:`~.scanner_physics.DEFAULT_SCANNER`:
        nine peaks).

        Parameters
        ----------
        grid : Grid
            Voxel grid of the series.
        echo_times : (n_echoes,) array-like
            Echo times, s.
        rng : int or numpy.random.Generator
            Seed or generator of the complex Gaussian noise.
        snr : float
            Signal-to-noise ratio as defined above.
        field_strength : float
            Main field, T (sets the fat peaks' frequencies in Hz).
        truth : dict, optional
            The maps of :meth:`truth` on ``grid``, if already computed (saves resampling).
        scanner : ScannerPhysics, optional
            Scanner physics (default :data:`~.scanner_physics.DEFAULT_SCANNER`).

        Returns
        -------
        ndarray, complex64, shape grid.shape + (n_echoes,)
            Signal in arbitrary units (unaffected muscle's first echo ≈ 800 at unit coil
            sensitivity), with receive phase and complex Gaussian noise; zero-mean noise
            outside the body.
        """
        sc = DEFAULT_SCANNER if scanner is None else scanner
        pts = _grid_points(grid)
        t = self._truth_at(pts) if truth is None else truth
        amp = _SCALE * t["pd"] * self.coil_sensitivity(pts) * np.exp(1j * self.receive_phase(pts))
        s = gre_signal(amp * (1 - t["pdff"]), amp * t["pdff"], t["r2star"], t["b0"],
                       echo_times, field_strength, fat_spectrum=sc.megre_fat_spectrum)
        sigma = _SCALE * _MUSCLE_PD / snr
        return _add_noise(s, sigma, rng).astype(np.complex64)

    def simulate_mese(self, grid: Grid, echo_spacing: float, n_echoes: int,
                      repetition_time: float, rng, snr: float = 100.0,
                      truth: dict | None = None,
                      scanner: ScannerPhysics | None = None) -> np.ndarray:
        """Magnitude of the fat-saturated multi-echo spin echo, grid.shape + (n_echoes,).

        Water and each fat peak follow the scanner's spin-echo model
        (:class:`~.scanner_physics.MeseSimulator`) at the local B1 and off-resonance: by
        default a Bloch simulation of its excitation and refocusing pulses; the fat peaks
        are weighted by what CHESS leaves of them at the local B0, water by what CHESS
        leaves of it. Water and fat add as complex signals before the noise.

        Parameters
        ----------
        grid : Grid
            Voxel grid of the series.
        echo_spacing : float
            ΔTE, s; echo n at n·ΔTE.
        n_echoes : int
            Echoes per train.
        repetition_time : float
            TR, s: water and fat are T1-saturated by 1 − exp(−TR/T1).
        rng : int or numpy.random.Generator
            Seed or generator of the complex Gaussian noise.
        snr : float
            First-echo magnitude of unaffected muscle at unit coil sensitivity over the
            noise standard deviation per real channel.
        truth : dict, optional
            The maps of :meth:`truth` on ``grid``, if already computed.
        scanner : ScannerPhysics, optional
            Scanner physics (default :data:`~.scanner_physics.DEFAULT_SCANNER`).

        Returns
        -------
        ndarray, float32, shape grid.shape + (n_echoes,)
            Magnitude in arbitrary units (unaffected muscle's first echo ≈ 800 at unit
            coil sensitivity); Rician noise (Gudbjartsson 1995, Magn Reson Med), pure
            noise outside the body.
        """
        sc = DEFAULT_SCANNER if scanner is None else scanner
        pts = _grid_points(grid)
        t = self._truth_at(pts) if truth is None else truth
        body = t["labels"] > 0
        sim = mese_simulator(sc, round(echo_spacing, 9), int(n_echoes))
        sw = 1 - np.exp(-repetition_time / physics.T1_MUSCLE_3T)
        sf = 1 - np.exp(-repetition_time / physics.T1_FAT_3T)
        b0 = t["b0"][body]
        aw = t["pd"][body] * (1 - t["pdff"][body]) * sw * sim.water_weight(b0)
        af = t["pd"][body] * t["pdff"][body] * sf
        # unaffected muscle: first echo ≈ _SCALE·pd
        amp = _SCALE * self.coil_sensitivity(pts[body]) / sw
        ew = sim.water(t["water_t2"][body], t["b1"][body], b0)
        ef = sim.fat(self.fat_t2, t["b1"][body], b0)
        out = np.zeros(grid.shape + (n_echoes,), dtype=np.complex128)
        out[body] = (amp * aw)[:, None] * ew + (amp * af)[:, None] * ef
        sigma = _SCALE * _MUSCLE_PD / snr
        return np.abs(_add_noise(out, sigma, rng)).astype(np.float32)

    def simulate_t2w(self, grid: Grid, rng, echo_time: float = 0.120,
                     repetition_time: float = 5.25, snr: float = 25.0,
                     truth: dict | None = None,
                     fat_leak: float = 0.005) -> np.ndarray:
        """Water image of a T2-weighted FSE IDEAL, shape grid.shape, float32 magnitude.

        The protocol's structural series is the water image of a fast spin echo IDEAL
        (Wang et al. 2023, "Axial T2-weighted imaging with IDEAL"; the paper's figures call
        it fat-saturated): edema is bright, fat is dark. Fat keeps a long apparent T2 in a
        fast spin echo train (J-coupling suppressed; Henkelman et al. 1992, J Magn Reson
        Imaging 2:533), so
        without separation it would be the brightest tissue; the water image keeps only a
        fraction ``fat_leak`` of it. ``snr`` is that of unaffected muscle at unit coil
        sensitivity.

        Parameters
        ----------
        grid : Grid
            Voxel grid of the series.
        rng : int or numpy.random.Generator
            Seed or generator of the complex Gaussian noise.
        echo_time : float
            Effective echo time, s (water decays with its T2, fat with twice the subject's
            fat T2).
        repetition_time : float
            TR, s.
        snr : float
            Magnitude of unaffected muscle at unit coil sensitivity over the noise standard
            deviation per real channel.
        truth : dict, optional
            The maps of :meth:`truth` on ``grid``, if already computed.
        fat_leak : float
            Fraction of the fat signal left in the water image. Default 0.005, an assumption
            (a multi-peak IDEAL separation, Yu et al. 2008, leaves fat little beyond noise
            and spectral-model error), chosen so that subcutaneous fat, brightened by the
            surface coil, stays darker than even low-T2 muscle, as in the paper's
            fat-saturated T2-weighted figures (at 0.01 it matched a 30 ms muscle near the
            coil and the network took it in). A single-peak separation would leave the
            peaks near water (4.2 and 5.3 ppm, about 9 % of fat's signal; Hamilton et al.
            2011); 1.0 simulates no separation at all.

        Returns
        -------
        ndarray, float32, shape grid.shape
            Magnitude in arbitrary units, Rician noise outside and inside the body.

        Raises
        ------
        ValueError
            If ``fat_leak`` is not in [0, 1].
        """
        if not 0.0 <= fat_leak <= 1.0:
            raise ValueError(f"fat_leak must be in [0, 1], got {fat_leak}")
        pts = _grid_points(grid)
        t = self._truth_at(pts) if truth is None else truth
        body = t["labels"] > 0
        wt2 = np.where(body, t["water_t2"], 1.0)
        water = t["pd"] * (1 - t["pdff"]) * np.exp(-echo_time / wt2) * (
            1 - np.exp(-repetition_time / physics.T1_MUSCLE_3T))
        fat = t["pd"] * t["pdff"] * np.exp(-echo_time / (2.0 * self.fat_t2)) * (
            1 - np.exp(-repetition_time / physics.T1_FAT_3T))
        s = _SCALE * 4.0 * self.coil_sensitivity(pts) * (water + fat_leak * fat)
        healthy = _SCALE * 4.0 * _MUSCLE_PD * (1 - HEALTHY_FF) * np.exp(-echo_time / HEALTHY_WATER_T2) * (
            1 - np.exp(-repetition_time / physics.T1_MUSCLE_3T))
        sigma = healthy / snr
        return np.abs(_add_noise(s.astype(complex), sigma, rng)).astype(np.float32)

    def fat_share_mese(self, grid: Grid, repetition_time: float,
                       truth: dict | None = None,
                       scanner: ScannerPhysics | None = None) -> np.ndarray:
        """Truth of the fat signal share of the spin echo on ``grid``, in [0, 1].

        A_f / (A_w + A_f) with A_w = PD (1 − PDFF)(1 − e^{−TR/T1w}) × what CHESS leaves of
        water, A_f = PD · PDFF (1 − e^{−TR/T1f}) Σ_p a_p (1 − saturation(f_p + ψ)) over the
        scanner's fat peaks: the amplitudes before the echo train (the quantity the EPG
        fit's fat fraction estimates; :func:`qmri_kernels.fatsat.mese_fat_share` is the
        prediction the fit is given, with the six-peak spectrum and no water saturation).

        Parameters
        ----------
        grid : Grid
            Voxel grid to sample the truth on.
        repetition_time : float
            TR, s (> 0).
        truth : dict, optional
            The maps of :meth:`truth` on ``grid``, if already computed.
        scanner : ScannerPhysics, optional
            Scanner physics (default :data:`~.scanner_physics.DEFAULT_SCANNER`).

        Returns
        -------
        ndarray, float64, shape grid.shape
            Fat share of the spin-echo amplitude, in [0, 1]; 0 outside the body.

        Raises
        ------
        ValueError
            If ``repetition_time`` is not positive.
        """
        sc = DEFAULT_SCANNER if scanner is None else scanner
        t = self.truth(grid) if truth is None else truth
        sw = 1 - np.exp(-repetition_time / physics.T1_MUSCLE_3T)
        sf = 1 - np.exp(-repetition_time / physics.T1_FAT_3T)
        if repetition_time <= 0:
            raise ValueError(f"repetition_time must be positive, got {repetition_time}")
        aw = (1 - t["pdff"]) * sw * sc.water_weight(t["b0"])
        af = t["pdff"] * sf * sc.fat_weights(t["b0"]).sum(axis=-1)
        total = aw + af
        share = np.divide(af, total, out=np.zeros_like(total), where=total > 0)
        return np.where(t["labels"] > 0, share, 0.0)


#: Signal scale: unaffected muscle's first-echo magnitude is about _SCALE × 0.8.
_SCALE: float = 1000.0


def _grid_points(grid: Grid) -> np.ndarray:
    nx, ny, nz = grid.shape
    ijk = np.stack(np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij"),
                   axis=-1).astype(float)
    return ijk @ grid.affine[:3, :3].T + grid.affine[:3, 3]


def _add_noise(s: np.ndarray, sigma: float, rng) -> np.ndarray:
    rng = np.random.default_rng(rng)
    noise = rng.standard_normal(s.shape + (2,), dtype=np.float64) * sigma
    return s + noise[..., 0] + 1j * noise[..., 1]


def make_subject(seed: int, sex: str = "M", disease: DiseaseSpec | None = None) -> Subject:
    """Draw a phantom subject from ``seed``.

    Parameters
    ----------
    seed : int
        Seeds the anatomy, the fields and the disease pattern (not the noise: each
        ``simulate_*`` call takes its own ``rng``).
    sex : {"M", "F"}
        Sex of the anatomy drawn (body and muscle proportions).
    disease : DiseaseSpec, optional
        Per-muscle mean PDFF and water T2. Default: a random mild myopathy (training data).

    Returns
    -------
    Subject
        Anatomy, disease, fat T2 and smooth B0, B1, coil and pattern fields, all fixed by
        ``seed`` (the same seed gives the same subject).
    """
    seed = int(seed)
    rng = np.random.default_rng([seed, 20231])
    anatomy = random_anatomy(rng, sex)
    if disease is None:
        disease = _random_disease(rng)
    b0_field = FourierField.draw(rng, n_modes=5, dim=3, wavelength=260.0, rms=0.35)
    b0_poly = rng.normal(0, 1.0, size=7) * np.array([1, 1, 0.4, 0.8, 0.6, 0.8, 0.3])
    b1_field = FourierField.draw(rng, n_modes=5, dim=3, wavelength=300.0, rms=1.0)
    coil_angles = np.linspace(0, 2 * np.pi, 8, endpoint=False) + rng.uniform(0, 0.3)
    coil_positions = np.stack([190 * np.cos(coil_angles), 120 * np.sin(coil_angles)], axis=-1)
    legs = anatomy.legs
    lo = np.min([leg.centre - leg.semi_axes.max() for leg in legs], axis=0)
    hi = np.max([leg.centre + leg.semi_axes.max() for leg in legs], axis=0)
    blobs = 14
    t2_pattern = BlobField(
        centres=np.column_stack([rng.uniform(lo[0], hi[0], blobs), rng.uniform(lo[1], hi[1], blobs),
                                 rng.uniform(-90, 90, blobs)]),
        sigmas=rng.uniform(15, 35, blobs), heights=rng.uniform(0.5, 1.5, blobs))
    subject = Subject(
        seed=seed, anatomy=anatomy, disease=disease,
        fat_t2=physics.T2_FAT_3T * rng.uniform(0.9, 1.1),
        b0_field=b0_field, b0_poly=b0_poly, b0_scale=(0.0, 1.0),
        b1_field=b1_field, b1_scale=(0.0, 1.0),
        coil_positions=coil_positions, coil_width=float(rng.uniform(110, 140)), coil_norm=1.0,
        receive_phase=FourierField.draw(rng, n_modes=3, dim=3, wavelength=400.0, rms=0.6),
        ff_pattern=FourierField.draw(rng, n_modes=8, dim=3, wavelength=45.0, rms=1.0),
        t2_pattern=t2_pattern,
        r2star_pattern=FourierField.draw(rng, n_modes=4, dim=3, wavelength=120.0, rms=1.0),
    )
    # normalise the fields over the body: B0 spans ±~200 Hz, B1 0.7–1.1, coils mean 1
    pts = _body_sample(anatomy)
    b0_raw = subject.b0(pts[pts[:, 2] == 0.0])   # the in-plane span at mid-thigh
    centre = 0.5 * (b0_raw.max() + b0_raw.min())
    half = 0.5 * (b0_raw.max() - b0_raw.min())
    target = rng.uniform(180, 215)
    b1_raw = subject.b1_field(pts)
    t2_raw = t2_pattern(pts)
    t2_pattern = BlobField(t2_pattern.centres, t2_pattern.sigmas,
                           t2_pattern.heights / max(t2_raw.mean(), 1e-9))
    coil = subject.coil_sensitivity(pts)
    object.__setattr__(subject, "b0_scale", (-centre * target / half + rng.uniform(-20, 20),
                                             target / half))
    object.__setattr__(subject, "b1_scale", (float(b1_raw.min()), float(np.ptp(b1_raw))))
    object.__setattr__(subject, "coil_norm", float(coil.mean()))
    object.__setattr__(subject, "t2_pattern", t2_pattern)
    object.__setattr__(subject, "pattern_norm", _pattern_norm(subject))
    return subject


def _pattern_norm(subject: Subject) -> dict[int, tuple[float, float]]:
    """Mean of the disease patterns over each muscle (2 mm lattice, z every 8 mm), so that
    a muscle's mean PDFF and water T2 equal the :class:`DiseaseSpec` values."""
    x, y, z = np.meshgrid(np.arange(-200, 201, 2.0), np.arange(-150, 151, 2.0),
                          np.arange(-88, 89, 8.0), indexing="ij")
    pts = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    labels = subject.anatomy.labels(pts)
    keep = labels > 10
    pts, labels = pts[keep], labels[keep]
    ffmod = np.exp(subject.disease.patchiness * subject.ff_pattern(pts))
    t2mod = subject.t2_pattern(pts)
    out = {}
    for lab in np.unique(labels):
        sel = labels == lab
        out[int(lab)] = (float(ffmod[sel].mean()), float(t2mod[sel].mean()))
    return out


def _random_disease(rng: np.random.Generator) -> DiseaseSpec:
    """A random mild-to-moderate myopathy for training subjects."""
    ff, t2 = {}, {}
    activity, chronic = rng.uniform(0, 1), rng.uniform(0, 1)
    for side in SIDES:
        for m in MUSCLES:
            ff[(m, side)] = float(np.clip(HEALTHY_FF + chronic * rng.gamma(1.5, 0.05), 0, 0.6))
            t2[(m, side)] = float(HEALTHY_WATER_T2 + activity * rng.gamma(2.0, 0.006))
    return DiseaseSpec(ff, t2, patchiness=float(rng.uniform(0.2, 0.6)))
