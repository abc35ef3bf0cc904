"""Read a subject's multi-echo gradient echo for the fit (the I/O edge of this package)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MegreData", "load_megre"]


@dataclass(frozen=True)
class MegreData:
    """A subject's complex multi-echo gradient echo, ready for ``FatWaterModel.fit``.

    Attributes
    ----------
    signal : ndarray, complex64, (nx, ny, nz, n_echoes)
    echo_times : (n_echoes,) ndarray, s
    affine : (4, 4) ndarray, voxel centre → RAS mm
    field_strength : float, T (from the sidecar; NaN if it does not say)
    """

    signal: np.ndarray
    echo_times: np.ndarray
    affine: np.ndarray
    field_strength: float


def load_megre(manifest, subject: str) -> MegreData:
    """Load ``subject``'s MEGRE from the manifest's raw BIDS dataset, ingesting it first if needed.

    The ingested magnitude and phase (radians) or real and imaginary images
    (:func:`qmri_kernels.dicom.load_series` with ``part="complex"``) are the fit's input;
    when the subject has not been ingested yet, :func:`qmri_kernels.dicom.ingest` writes it
    from the manifest's DICOM root.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort; images are read from (and ingested into) ``manifest.rawdata``.
    subject : str
        ``"13"`` or ``"sub-13"``.

    Returns
    -------
    MegreData
        Complex echoes (nx, ny, nz, n_echoes) complex64 in signal units, echo times (s),
        the affine (voxel centre → RAS mm) and B0 (T; NaN if the sidecar gives none).

    Raises
    ------
    KeyError
        If the subject is not in the manifest.
    qmri_kernels.dicom.DicomError
        If its DICOM cannot be ingested or holds no MEGRE.
    """
    from ..dicom import load_subject_series

    series = load_subject_series(manifest, subject, "megre", part="complex")
    b0 = float(series.sidecars[0].get("MagneticFieldStrength", np.nan))
    return MegreData(signal=np.ascontiguousarray(series.data, dtype=np.complex64),
                     echo_times=np.asarray(series.echo_times, dtype=float),
                     affine=np.asarray(series.affine, dtype=float), field_strength=b0)
