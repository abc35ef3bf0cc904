"""A small synthetic DICOM study for the ingest tests, written with the book's GE-style writer.

Tiny grids (32×24 in-plane, 3–4 slices) keep each test fast; the images are smooth so that
magnitude, phase and the rescale are all exercised: a bright ellipse with T2*/T2 decay and,
for the gradient echo, an off-resonance phase ramp of ±150 Hz across the field of view.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qmri_kernels.phantom.dicom_writer import Identity, write_study
from qmri_kernels.grids import Grid, axial_grid
from qmri_kernels.phantom.protocol import PROTOCOL, SeriesProtocol

MATRIX = (32, 24)
N_SLICES = {"megre": 4, "mese": 4, "t2w": 3}

IDENTITY = Identity(
    patient_name="Zabriskie-Quint^Ottoline", patient_id="PXQ4471920", birth_date="19580923",
    sex="F", age_years=63, accession_number="ACC58830217",
    institution_name="Harrowgate Fictional Infirmary", referring_physician="Lowenthal^Cyprian",
    operator="Ndiaye-Brummel^Sunniva", study_date="20211104", study_time="101733")

#: Every identity string that must never appear in ingest output.
IDENTITY_STRINGS = (
    "Zabriskie-Quint", "Ottoline", "PXQ4471920", "19580923", "ACC58830217",
    "Harrowgate Fictional Infirmary", "Harrowgate", "Lowenthal", "Cyprian", "Ndiaye-Brummel",
    "Sunniva", "20211104")


@dataclass(frozen=True)
class Study:
    """A written study: DICOM folder, the identity in it, and what was written per role."""

    dicom: Path
    out: Path
    identity: Identity
    protocols: dict[str, SeriesProtocol]
    grids: dict[str, Grid]
    images: dict[str, np.ndarray]

    def series_files(self, series_number: int) -> list[Path]:
        """The files of one series, in InstanceNumber order (slice-major, echo-minor)."""
        dirs = [d for d in self.dicom.rglob(f"SE{series_number:04d}") if d.is_dir()]
        assert len(dirs) == 1, dirs
        return sorted(p for p in dirs[0].iterdir())


def _images(role: str, protocol: SeriesProtocol, grid: Grid) -> np.ndarray:
    nx, ny, nz = grid.shape
    x, y = np.meshgrid(np.linspace(-1, 1, nx), np.linspace(-1, 1, ny), indexing="ij")
    body = np.clip(1.2 - (x / 0.8) ** 2 - (y / 0.6) ** 2, 0, None)
    base = 200.0 + 1500.0 * body[..., None] * (1 + 0.1 * np.arange(nz))[None, None, :]
    te = np.asarray(protocol.echo_times)
    if role == "megre":
        freq = 150.0 * x[..., None, None]
        decay = np.exp(-40.0 * te)
        return (base[..., None] * decay * np.exp(2j * np.pi * freq * te)
                * np.exp(0.3j)).astype(np.complex64)
    if role == "mese":
        return (base[..., None] * np.exp(-te / 0.045)).astype(np.float32)
    return base.astype(np.float32)


def make_study(root: Path, identity: Identity = IDENTITY, uid_seed: str = "ingest-tests",
               roles: tuple[str, ...] = ("megre", "mese", "t2w")) -> Study:
    """Write the small study under ``root / "dicom"``; ingest output goes to ``root / "out"``."""
    protocols, grids, images, series = {}, {}, {}, []
    for role in roles:
        protocol = dataclasses.replace(PROTOCOL[role], n_slices=N_SLICES[role])
        grid = axial_grid(matrix=MATRIX, fov_mm=420.0, slice_thickness=protocol.slice_thickness,
                          gap=protocol.gap, n_slices=protocol.n_slices, z_centre=protocol.z_offset)
        data = _images(role, protocol, grid)
        protocols[role], grids[role], images[role] = protocol, grid, data
        series.append((protocol, grid, data))
    write_study(root / "dicom", identity, series, uid_seed=uid_seed)
    return Study(root / "dicom", root / "out", identity, protocols, grids, images)
