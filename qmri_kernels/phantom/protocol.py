"""The acquisition protocol of Wang et al. 2023 (Methods, "MRI protocol"), as data.

Three axial series over the same thigh region, each on its own slice positions:

=========  =================================  =====  ===  =====  ============
role       sequence                           slice  gap  TE     TR
=========  =================================  =====  ===  =====  ============
megre      IDEAL-IQ, 6 echoes, mag + phase    6 mm   3    1.5–9  11.2 ms
mese       T2 map, CHESS fat sat, 8 echoes    6 mm   7    7–56   1046 ms
t2w        T2-weighted FSE IDEAL (water)      8 mm   10   120    5250 ms
=========  =================================  =====  ===  =====  ============

The paper's in-plane matrices (320×192 interpolated to 512×512 and similar) are replaced by
one parameter, ``matrix``: the default cohort uses 256×256 over the 42 cm field of view
(1.64 mm pixels) so that the whole book builds within its budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..grids import Grid, axial_grid

__all__ = ["SeriesProtocol", "PROTOCOL", "series_grid", "DEFAULT_MATRIX", "FOV_MM",
           "DerivedSeries", "IDEAL_IQ_MAPS"]

#: Field of view, mm (Wang 2023: "a 42-cm field of view").
FOV_MM: float = 420.0
#: Default in-plane matrix of the synthetic cohort.
DEFAULT_MATRIX: tuple[int, int] = (256, 256)


@dataclass(frozen=True)
class SeriesProtocol:
    """Acquisition parameters of one series (SI units: s; lengths in mm)."""

    role: str
    series_description: str
    sequence_name: str
    scanning_sequence: str
    echo_times: tuple[float, ...]
    repetition_time: float
    flip_angle_deg: float
    slice_thickness: float
    gap: float
    n_slices: int
    z_offset: float
    series_number: int
    extra: dict = field(default_factory=dict)

    @property
    def spacing_between_slices(self) -> float:
        """Centre-to-centre slice distance, mm."""
        return self.slice_thickness + self.gap

    @property
    def n_echoes(self) -> int:
        """Number of echoes (length of :attr:`echo_times`)."""
        return len(self.echo_times)


PROTOCOL: dict[str, SeriesProtocol] = {
    "megre": SeriesProtocol(
        role="megre", series_description="Ax IDEAL-IQ", sequence_name="IDEAL IQ",
        scanning_sequence="GR", echo_times=tuple(1.5e-3 * n for n in range(1, 7)),
        repetition_time=11.2e-3, flip_angle_deg=3.0, slice_thickness=6.0, gap=3.0,
        n_slices=18, z_offset=0.0, series_number=5),
    "mese": SeriesProtocol(
        role="mese", series_description="Ax T2 Map FS", sequence_name="T2MAP",
        scanning_sequence="SE", echo_times=tuple(7e-3 * n for n in range(1, 9)),
        repetition_time=1.046, flip_angle_deg=90.0, slice_thickness=6.0, gap=7.0,
        n_slices=12, z_offset=2.0, series_number=7,
        extra={"fat_saturation": "CHESS"}),
    "t2w": SeriesProtocol(
        role="t2w", series_description="Ax T2 FSE IDEAL", sequence_name="FSE-IDEAL",
        scanning_sequence="SE", echo_times=(0.120,), repetition_time=5.25,
        flip_angle_deg=90.0, slice_thickness=8.0, gap=10.0, n_slices=9, z_offset=-3.0,
        series_number=3),
}


@dataclass(frozen=True)
class DerivedSeries:
    """A series the scanner derives from an acquisition (no echoes of its own).

    Attributes
    ----------
    kind : str
        The map: ``"water"``, ``"fat"``, ``"pdff"`` or ``"r2star"``.
    series_description : str
        As the scanner names it.
    image_type : tuple of str
        ImageType values (DICOM CS: upper case, no ``*``).
    series_offset : int
        Series number = ``100 · source series number + series_offset``.
    """

    kind: str
    series_description: str
    image_type: tuple[str, ...]
    series_offset: int


#: The derived series a GE Discovery MR750w exports for an IDEAL-IQ acquisition
#: (``protocol.extra["derived"]`` of ``megre``): water, fat, fat fraction and R2*.
IDEAL_IQ_MAPS: tuple[DerivedSeries, ...] = (
    DerivedSeries("water", "IDEAL IQ WATER", ("DERIVED", "PRIMARY", "IDEAL", "WATER"), 1),
    DerivedSeries("fat", "IDEAL IQ FAT", ("DERIVED", "PRIMARY", "IDEAL", "FAT"), 2),
    DerivedSeries("pdff", "IDEAL IQ FF", ("DERIVED", "PRIMARY", "IDEAL", "FAT FRACTION"), 3),
    DerivedSeries("r2star", "IDEAL IQ R2*", ("DERIVED", "PRIMARY", "IDEAL", "R2STAR"), 4),
)


def series_grid(protocol: SeriesProtocol, matrix: tuple[int, int] = DEFAULT_MATRIX,
                fov_mm: float = FOV_MM, z_centre: float = 0.0) -> Grid:
    """The voxel grid of a series: the protocol's slices around ``z_centre`` (mm).

    Parameters
    ----------
    protocol : SeriesProtocol
        The series (slice thickness, gap, number of slices and z offset are used), e.g.
        ``PROTOCOL["mese"]``.
    matrix : (2,) tuple of int
        In-plane (nx, ny).
    fov_mm : float
        Square field of view, mm.
    z_centre : float
        World z (mm, + proximal) of the stack centre before the protocol's
        ``z_offset`` is added.

    Returns
    -------
    Grid
        Axial grid (:func:`qmri_kernels.grids.axial_grid`) of shape
        ``(nx, ny, protocol.n_slices)``, centred on ``z_centre + protocol.z_offset``.

    Raises
    ------
    ValueError
        As :func:`qmri_kernels.grids.axial_grid` for a matrix below 2 × 2 or a
        non-positive field of view.
    """
    return axial_grid(matrix=matrix, fov_mm=fov_mm, slice_thickness=protocol.slice_thickness,
                      gap=protocol.gap, n_slices=protocol.n_slices,
                      z_centre=z_centre + protocol.z_offset)


def protocol_table(matrix: tuple[int, int] = DEFAULT_MATRIX, fov_mm: float = FOV_MM):
    """The synthetic protocol as a DataFrame (same columns as :data:`qmri_kernels.paper.PROTOCOL_TABLE`).

    Parameters
    ----------
    matrix : (2,) tuple of int
        In-plane (nx, ny), shown with the pixel size.
    fov_mm : float
        Square field of view, mm.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``role`` (megre, mese, t2w); columns ``sequence``, ``te_ms`` (text:
        range, spacing and echo count), ``tr_ms``, ``slice_thickness_mm``, ``gap_mm``
        and ``matrix`` (text).
    """
    import pandas as pd

    rows = []
    for role, p in PROTOCOL.items():
        te = np.asarray(p.echo_times) * 1000
        te_text = (f"{te[0]:g}–{te[-1]:g} (ΔTE {te[1] - te[0]:g}), {len(te)} echoes"
                   if len(te) > 1 else f"{te[0]:g}")
        rows.append((role, p.series_description, te_text, p.repetition_time * 1000,
                     p.slice_thickness, p.gap, f"{matrix[0]}×{matrix[1]} ({fov_mm / matrix[0]:.2f} mm)"))
    return pd.DataFrame(rows, columns=["role", "sequence", "te_ms", "tr_ms", "slice_thickness_mm",
                                       "gap_mm", "matrix"]).set_index("role")
