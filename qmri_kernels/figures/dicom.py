"""Figures of the chapter "From DICOM to NIfTI": where the slices sit, and one echo per series."""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
from matplotlib.patches import Rectangle

from ..dicom.bids import parse_name, subject_label
from .synthetic import show_axial

__all__ = ["plot_slice_positions", "plot_echo_montage"]

_ROLE_NAME = {"megre": "MEGRE (IDEAL-IQ echoes)", "mese": "MESE (T2 map)", "t2w": "T2w"}


def _first_echoes(bids_dir: Path, subject: str) -> list[tuple[dict, Path]]:
    """(entities, path) of echo 1 of each ingested series, magnitude and phase."""
    anat = Path(bids_dir) / f"sub-{subject_label(subject)}" / "anat"
    out = []
    for path in sorted(anat.glob("*.nii.gz")):
        info = parse_name(path.name)
        if info is not None and (info["echo"] in (None, 1)):
            out.append((info, path))
    order = {"t2w": 0, "megre": 1, "mese": 2}
    return sorted(out, key=lambda item: (order[item[0]["role"]], item[0]["part"]))


def _sidecar(path: Path) -> dict:
    return json.loads(Path(str(path).replace(".nii.gz", ".json")).read_text())


def plot_slice_positions(bids_dir: str | os.PathLike, subject: str) -> plt.Figure:
    """Each series' slabs along the thigh (world z, mm): thickness, gap and offsets.

    One row per series (magnitude only); a slab is drawn from z − thickness/2 to
    z + thickness/2 around each slice centre, so the gaps between slabs are visible and
    the three protocols' different positions can be compared.

    Parameters
    ----------
    bids_dir : str or path-like
        Root of the ingested images (the manifest's ``rawdata``), holding
        ``sub-XX/anat/*.nii.gz`` with JSON sidecars.
    subject : str
        ``"13"`` or ``"sub-13"``.

    Returns
    -------
    matplotlib.figure.Figure
        x: world z of the slab extents, mm (slice centres from the affine, thickness
        from the sidecar's ``SliceThickness``); one row per series, labelled with
        thickness and gap (mm).

    Raises
    ------
    ValueError
        If the subject has no ingested magnitude series (nothing to draw) or the id is
        not a BIDS label.
    KeyError
        If a first echo's sidecar gives no ``SliceThickness``.
    """
    series = [(info, path) for info, path in _first_echoes(Path(bids_dir), subject)
              if info["part"] == "mag"]
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.7 * len(series)))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for row, (info, path) in enumerate(series):
        img = nib.load(path)
        aff = img.affine
        z = aff[2, 2] * np.arange(img.shape[2]) + aff[2, 3]
        thick = float(_sidecar(path)["SliceThickness"])
        for zk in z:
            ax.add_patch(Rectangle((zk - thick / 2, row - 0.35), thick, 0.7,
                                   color=colors[row % len(colors)], alpha=0.8, lw=0))
        gap = abs(aff[2, 2]) - thick
        ax.text(z.max() + abs(aff[2, 2]), row, f"{thick:.0f} mm + {gap:.0f} mm gap",
                va="center", fontsize="small")
    ax.set_yticks(range(len(series)), [_ROLE_NAME[i["role"]] for i, _ in series])
    ends = [(aff[2, 3], aff[2, 3] + aff[2, 2] * (img.shape[2] - 1))
            for img in (nib.load(p) for _, p in series) for aff in [img.affine]]
    ax.set_xlim(min(min(e) for e in ends) - 15, max(max(e) for e in ends) + 75)
    ax.set_ylim(-0.7, len(series) - 0.3)
    ax.set_xlabel("world z (mm, superior →)")
    ax.set_title(f"sub-{subject_label(subject)}: slice positions of each series")
    fig.tight_layout()
    return fig


def plot_echo_montage(bids_dir: str | os.PathLike, subject: str,
                      z_mm: float = 0.0) -> plt.Figure:
    """The first echo of every ingested series at the slice nearest world ``z_mm``.

    Magnitude in grey (1st–99th percentile window), phase in a cyclic map from −π to π;
    radiological view (patient right on the left, anterior up).

    Parameters
    ----------
    bids_dir : str or path-like
        Root of the ingested images (the manifest's ``rawdata``).
    subject : str
        ``"13"`` or ``"sub-13"``.
    z_mm : float
        World z (mm, superior positive) of the wanted slice; each series shows its slice
        centre nearest to it (from voxel (0, 0, k) of an axial stack).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per series and part (T2w, MEGRE magnitude and phase, MESE), titled
        with the echo time (ms) and the slice's z (mm).

    Raises
    ------
    ValueError
        If the subject has no ingested series or the id is not a BIDS label.
    """
    series = _first_echoes(Path(bids_dir), subject)
    fig, axes = plt.subplots(1, len(series), figsize=(3.2 * len(series), 3.4), squeeze=False)
    for ax, (info, path) in zip(axes[0], series):
        img = nib.load(path)
        aff = img.affine
        z = aff[2, 2] * np.arange(img.shape[2]) + aff[2, 3]
        k = int(np.argmin(np.abs(z - z_mm)))
        data = np.asarray(img.dataobj[..., k], dtype=np.float32)
        meta = _sidecar(path)
        if info["part"] == "phase":
            show_axial(ax, data, cmap="twilight", vmin=-np.pi, vmax=np.pi)
        else:
            lo, hi = np.percentile(data, [1, 99])
            show_axial(ax, data, cmap="gray", vmin=lo, vmax=hi)
        part = "" if info["role"] != "megre" else f" {info['part']}"
        ax.set_title(f"{_ROLE_NAME[info['role']].split(' ')[0]}{part}\n"
                     f"TE {meta['EchoTime'] * 1e3:.1f} ms, z = {z[k]:+.1f} mm",
                     fontsize="small")
    fig.tight_layout()
    return fig
