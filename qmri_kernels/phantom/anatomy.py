"""Randomised bilateral mid-thigh anatomy, evaluated at world points.

Each leg is a closed outer contour (skin) with a ring of subcutaneous fat of varying
thickness, a femoral shaft (cortex and fatty marrow) that is steady along z, and eleven
muscles that tile the fascial compartment. The muscle partition is a power diagram
(weighted Voronoi tessellation) in the leg's normalised lateral/anterior frame, whose
sites and weights follow the mid-thigh anatomy (quadriceps anterior, hamstrings posterior,
adductors medial; e.g. Gray's Anatomy, 42nd ed., thigh cross-sections) and drift with z:
adductor longus and rectus femoris shrink distally, vastus medialis grows, sartorius
crosses from anterolateral to medial. A smooth random wobble per muscle makes borders
organic; a thin layer of intermuscular fat/fascia separates neighbours. All of it is drawn
from one seed, so fresh subjects can feed segmentation training.

World coordinates are NIfTI RAS+ millimetres: the right leg lies at x > 0, anterior is +y,
proximal (towards the hip) is +z.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._random_fields import FourierField
from ..labels import MUSCLES, SIDES, label_index

__all__ = ["LegAnatomy", "ThighAnatomy", "random_anatomy", "Z_HALF_RANGE_MM"]

#: Half the z extent (mm) over which the tapering model is designed; the protocol's
#: series cover about ±80 mm around mid-thigh.
Z_HALF_RANGE_MM: float = 80.0

# Site (lateral u, anterior v) in the normalised compartment frame, weight, and the change
# of (u, v, weight) per unit of t = z / Z_HALF_RANGE_MM (positive t = proximal).
_SITES = {
    #        u      v      w       du     dv     dw
    "RF":  (0.08,  0.74,  0.030,  0.00,  0.02,  0.015),
    "VL":  (0.72,  0.12,  0.080,  0.00,  0.00,  0.000),
    "VI":  (0.24,  0.28,  0.035,  0.00,  0.00,  0.000),
    "VM":  (-0.40, 0.46,  0.020, -0.04, -0.04, -0.030),
    "SAR": (-0.62, 0.24, -0.080,  0.14,  0.18,  0.000),
    "GRA": (-0.84, -0.22, -0.085, 0.00,  0.00,  0.000),
    "AL":  (-0.44, 0.04, -0.010,  0.02,  0.04,  0.030),
    "AM":  (-0.40, -0.38, 0.045,  0.00,  0.00,  0.005),
    "BF":  (0.44, -0.56,  0.030,  0.00,  0.00,  0.000),
    "ST":  (0.04, -0.80, -0.020,  0.00,  0.00,  0.000),
    "SM":  (-0.22, -0.60,  0.020,  0.00,  0.00,  0.000),
}


@dataclass(frozen=True)
class LegAnatomy:
    """One leg's shape parameters (mm unless stated)."""

    side: str
    centre: np.ndarray            # (2,) x, y of the leg centre
    semi_axes: np.ndarray         # (2,) lateral, anterior outer semi-axes at z = 0
    contour_modes: np.ndarray     # (K, 3): harmonic, relative amplitude, phase
    taper_per_mm: float           # relative growth of the outline per mm towards +z
    fat_thickness: float          # mean subcutaneous fat + skin thickness
    fat_modulation: np.ndarray    # (2,): relative amplitude, angle of the thickest part
    skin_thickness: float
    femur_centre: np.ndarray      # (2,) u, v offset from the leg centre
    femur_radius: float
    cortex_thickness: float
    sites: np.ndarray             # (11, 6) per muscle: u, v, w, du, dv, dw
    wobble: tuple                 # per muscle FourierField over normalised (u, v)
    fascia_half_width: float      # half thickness of the intermuscular fat layer

    @property
    def lateral_sign(self) -> float:
        """+1 if lateral is +x (right leg), −1 otherwise."""
        return 1.0 if self.side == "right" else -1.0

    def local(self, points: np.ndarray) -> np.ndarray:
        """World (..., 3) → leg frame (..., 2): lateral u, anterior v in mm.

        Parameters
        ----------
        points : (..., 3) ndarray of float
            World RAS positions, mm; only x and y are used.

        Returns
        -------
        (..., 2) ndarray of float
            ``u`` (mm towards this leg's lateral side) and ``v`` (mm anterior) relative
            to the leg centre; z is dropped.
        """
        u = self.lateral_sign * (points[..., 0] - self.centre[0])
        v = points[..., 1] - self.centre[1]
        return np.stack([u, v], axis=-1)

    def outline_radius(self, theta: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Radius (mm) of the skin outline at polar angle ``theta`` (rad) and height ``z``.

        Parameters
        ----------
        theta : ndarray of float
            Polar angle in the leg frame, rad (0 = lateral, π/2 = anterior).
        z : ndarray of float
            World z, mm (+ proximal); broadcast against ``theta``.

        Returns
        -------
        ndarray of float
            Distance from the leg centre to the skin surface, mm: an ellipse of
            :attr:`semi_axes` modulated by the contour harmonics and scaled by
            ``1 + taper_per_mm * z``. Shape: ``theta`` and ``z`` broadcast.
        """
        a, b = self.semi_axes
        r = a * b / np.sqrt((b * np.cos(theta)) ** 2 + (a * np.sin(theta)) ** 2)
        mod = 1.0 + sum(amp * np.cos(k * theta + ph) for k, amp, ph in self.contour_modes)
        return r * mod * (1.0 + self.taper_per_mm * z)

    def fat_radius(self, theta: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Local subcutaneous fat (+ skin) thickness, mm.

        Parameters
        ----------
        theta : ndarray of float
            Polar angle in the leg frame, rad (0 = lateral, π/2 = anterior).
        z : ndarray of float
            World z, mm (+ proximal); broadcast against ``theta``.

        Returns
        -------
        ndarray of float
            Thickness in mm, measured inwards from the skin outline:
            ``fat_thickness * (1 + amp cos(theta - angle)) * (1 - 0.001 z)``, thickest at
            the angle of :attr:`fat_modulation` and thinning proximally.
        """
        amp, ang = self.fat_modulation
        return self.fat_thickness * (1.0 + amp * np.cos(theta - ang)) * (1.0 - 0.001 * z)

    def labels(self, points: np.ndarray) -> np.ndarray:
        """Label indices at world ``points`` (..., 3); 0 outside this leg.

        Parameters
        ----------
        points : (..., 3) ndarray of float
            World RAS positions, mm.

        Returns
        -------
        (...) ndarray of int16
            :mod:`qmri_kernels.labels` indices: 1 subcutaneous fat and skin, 2 femoral
            cortex, 3 marrow, 4 intermuscular fat/fascia, this side's muscles (11–21
            right, 31–41 left); 0 outside the skin outline.
        """
        lab = np.zeros(points.shape[:-1], dtype=np.int16)
        uv = self.local(points)
        z = points[..., 2]
        r = np.hypot(uv[..., 0], uv[..., 1])
        theta = np.arctan2(uv[..., 1], uv[..., 0])
        r_out = self.outline_radius(theta, z)
        r_fascia = r_out - self.fat_radius(theta, z)
        inside = r <= r_out
        lab[inside] = 1
        dfem = np.hypot(uv[..., 0] - self.femur_centre[0], uv[..., 1] - self.femur_centre[1])
        compartment = inside & (r < r_fascia) & (dfem > self.femur_radius)
        lab[inside & (dfem <= self.femur_radius)] = 2
        lab[inside & (dfem <= self.femur_radius - self.cortex_thickness)] = 3
        if np.any(compartment):
            lab[compartment] = self._muscle_labels(uv[compartment], z[compartment])
        return lab

    def skin_mask(self, points: np.ndarray) -> np.ndarray:
        """True in the outermost ``skin_thickness`` mm of the leg.

        Parameters
        ----------
        points : (..., 3) ndarray of float
            World RAS positions, mm.

        Returns
        -------
        (...) ndarray of bool
            True where the point lies inside the skin outline and less than
            :attr:`skin_thickness` mm (radially) from it.
        """
        uv = self.local(points)
        r = np.hypot(uv[..., 0], uv[..., 1])
        theta = np.arctan2(uv[..., 1], uv[..., 0])
        r_out = self.outline_radius(theta, points[..., 2])
        return (r <= r_out) & (r > r_out - self.skin_thickness)

    def compartment_scale(self, z: np.ndarray) -> np.ndarray:
        """(..., 2) lateral and anterior scale (mm) of the fascial compartment.

        Parameters
        ----------
        z : (...) ndarray of float
            World z, mm (+ proximal).

        Returns
        -------
        (..., 2) ndarray of float
            Lateral and anterior semi-axes of the compartment (outline semi-axes tapered
            to ``z`` minus the mean fat thickness), mm; the muscle sites live in
            coordinates divided by these.
        """
        s = 1.0 + self.taper_per_mm * z
        a = self.semi_axes[0] * s - self.fat_thickness
        b = self.semi_axes[1] * s - self.fat_thickness
        return np.stack([a, b], axis=-1)

    def _muscle_labels(self, uv: np.ndarray, z: np.ndarray) -> np.ndarray:
        scale = self.compartment_scale(z)
        q = uv / scale
        t = (z / Z_HALF_RANGE_MM)[:, None]
        su = self.sites[:, 0] + self.sites[:, 3] * t
        sv = self.sites[:, 1] + self.sites[:, 4] * t
        w = self.sites[:, 2] + self.sites[:, 5] * t
        d = (q[:, :1] - su) ** 2 + (q[:, 1:] - sv) ** 2 - w
        for m, field in enumerate(self.wobble):
            d[:, m] += field(q)
        order = np.argsort(d, axis=1)
        first, second = order[:, 0], order[:, 1]
        rows = np.arange(len(d))
        gap = d[rows, second] - d[rows, first]
        sep = np.hypot(su[rows, first] - su[rows, second], sv[rows, first] - sv[rows, second])
        # distance to the (power) bisector in normalised units, converted to mm
        dist_mm = gap / (2.0 * np.maximum(sep, 1e-6)) * scale.mean(axis=1)
        idx = np.array([label_index(m, self.side) for m in MUSCLES], dtype=np.int16)
        out = idx[first]
        out[dist_mm < self.fascia_half_width] = 4
        return out


@dataclass(frozen=True)
class ThighAnatomy:
    """Both legs of one subject."""

    legs: tuple[LegAnatomy, LegAnatomy]

    def labels(self, points: np.ndarray) -> np.ndarray:
        """Label indices at world ``points`` (..., 3), see :mod:`qmri_kernels.labels`.

        Parameters
        ----------
        points : (..., 3) ndarray of float
            World RAS positions, mm.

        Returns
        -------
        (...) ndarray of int16
            Labels of whichever leg contains the point (see :meth:`LegAnatomy.labels`;
            where outlines overlap the left leg wins); 0 outside both legs.
        """
        lab = np.zeros(points.shape[:-1], dtype=np.int16)
        for leg in self.legs:
            lab_leg = leg.labels(points)
            lab = np.where(lab_leg > 0, lab_leg, lab)
        return lab

    def skin_mask(self, points: np.ndarray) -> np.ndarray:
        """True in the skin of either leg.

        Parameters
        ----------
        points : (..., 3) ndarray of float
            World RAS positions, mm.

        Returns
        -------
        (...) ndarray of bool
            Union of the legs' :meth:`LegAnatomy.skin_mask`.
        """
        return self.legs[0].skin_mask(points) | self.legs[1].skin_mask(points)

    def leg(self, side: str) -> LegAnatomy:
        """The anatomy of one leg.

        Parameters
        ----------
        side : {"right", "left"}
            The subject's side.

        Returns
        -------
        LegAnatomy

        Raises
        ------
        ValueError
            If ``side`` is not ``"right"`` or ``"left"``.
        """
        return self.legs[SIDES.index(side)]


def random_anatomy(rng: np.random.Generator | int, sex: str = "M") -> ThighAnatomy:
    """Draw a subject's thigh anatomy.

    Parameters
    ----------
    rng : numpy.random.Generator or int
        Random generator or seed.
    sex : {"M", "F"}
        Women get thicker subcutaneous fat and slightly smaller limbs on average.

    Returns
    -------
    ThighAnatomy
        Right and left legs (in :data:`qmri_kernels.labels.SIDES` order), every shape
        parameter drawn from ``rng``; the same seed gives the same anatomy.

    Raises
    ------
    ValueError
        If ``sex`` is not ``"M"`` or ``"F"``.
    """
    rng = np.random.default_rng(rng)
    if sex not in ("M", "F"):
        raise ValueError(f"sex must be 'M' or 'F', got {sex!r}")
    female = sex == "F"
    a = rng.uniform(62, 80) * (0.95 if female else 1.0)
    b = a * rng.uniform(0.88, 1.0)
    fat = rng.uniform(11, 22) if female else rng.uniform(5, 13)
    taper = rng.uniform(0.0006, 0.0014)
    # legs must not touch even at the proximal end of the covered range
    separation = a * 1.1 * (1 + taper * 1.2 * Z_HALF_RANGE_MM) + rng.uniform(3, 12)
    y_centre = rng.uniform(-10, 10)
    legs = []
    for side in SIDES:
        sign = 1.0 if side == "right" else -1.0
        modes = np.array([[k, rng.uniform(-0.025, 0.025), rng.uniform(0, 2 * np.pi)]
                          for k in (2, 3, 4)])
        sites = np.array([_SITES[m] for m in MUSCLES], dtype=float)
        sites[:, :2] += rng.normal(0, 0.035, size=(len(MUSCLES), 2))
        sites[:, 2] += rng.normal(0, 0.012, size=len(MUSCLES))
        wobble = tuple(FourierField.draw(rng, n_modes=4, dim=2, wavelength=0.7, rms=0.012)
                       for _ in MUSCLES)
        legs.append(LegAnatomy(
            side=side,
            centre=np.array([sign * separation * rng.uniform(0.98, 1.02),
                             y_centre + rng.uniform(-3, 3)]),
            semi_axes=np.array([a, b]) * rng.uniform(0.97, 1.03, size=2),
            contour_modes=modes,
            taper_per_mm=taper,
            fat_thickness=fat * rng.uniform(0.93, 1.07),
            fat_modulation=np.array([rng.uniform(0.1, 0.35), rng.uniform(-np.pi, np.pi)]),
            skin_thickness=1.5,
            femur_centre=np.array([rng.uniform(2, 8), rng.uniform(-4, 4)]),
            femur_radius=rng.uniform(12.5, 15.0),
            cortex_thickness=rng.uniform(4.5, 6.5),
            sites=sites,
            wobble=wobble,
            fascia_half_width=rng.uniform(0.55, 0.8),
        ))
    return ThighAnatomy(tuple(legs))
