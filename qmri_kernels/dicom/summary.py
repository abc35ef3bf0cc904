"""Tables about DICOM and its ingest, for the book: series found, outputs, headers.

None of them prints an identifying value: :func:`header_listing` shows the *names* of the
attributes de-identification removes, never their values.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from .bids import parse_name, subject_label
from .deidentify import ALLOWED_KEYWORDS, deidentify
from .headers import read_header
from ._ingest import plan

__all__ = ["survey", "series_table", "header_listing", "orientation_label"]


def orientation_label(normal: np.ndarray) -> str:
    """``"axial"``, ``"coronal"``, ``"sagittal"`` or ``"oblique"`` from a slice normal.

    A stack is named after the axis its normal is within ~18° of (cos > 0.95).

    Parameters
    ----------
    normal : (3,) array-like
        Slice normal in patient coordinates (LPS or RAS: only absolute components are
        used), any length; need not be unit length.

    Returns
    -------
    str
        ``"sagittal"`` (x), ``"coronal"`` (y), ``"axial"`` (z) or ``"oblique"``.
    """
    n = np.abs(np.asarray(normal, dtype=float))
    n = n / np.linalg.norm(n)
    axis = int(np.argmax(n))
    if n[axis] < 0.95:
        return "oblique"
    return ("sagittal", "coronal", "axial")[axis]


def survey(source_dir: str | os.PathLike) -> pd.DataFrame:
    """Every series in a DICOM folder, from headers only (no pixels read, nothing written).

    Parameters
    ----------
    source_dir : path-like
        Folder searched recursively for DICOM files (as the ingest plans it).

    Returns
    -------
    pandas.DataFrame
        One row per series and image part: ``series_number``, ``description``, ``part``,
        ``role`` (empty: left alone), ``reason``, ``images``, ``echoes``, ``slices``,
        ``orientation``, ``thickness_mm``, ``spacing_mm``, ``gap_mm``.
    """
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        planned = plan(source_dir)
    for p in planned:
        hs = p.series.headers
        geo = [h for h in hs if h.orientation is not None and h.position is not None]
        normal = (np.cross(geo[0].orientation[:3], geo[0].orientation[3:])
                  if geo else np.full(3, np.nan))
        pos = np.unique(np.round([h.position @ normal for h in geo], 2)) if geo else []
        spacing = float(np.median(np.diff(pos))) if len(pos) > 1 else np.nan
        thick = hs[0].dataset.get("SliceThickness")
        thick = float(thick) if thick not in (None, "") else np.nan
        echoes = {round(h.echo_time, 7) for h in hs if h.echo_time is not None}
        rows.append({
            "series_number": p.series.number, "description": p.series.description,
            "part": p.series.part, "role": p.classification.role or "",
            "reason": p.classification.reason, "images": len(hs),
            "echoes": max(len(echoes), 1), "slices": len(pos),
            "orientation": orientation_label(normal) if geo else "",
            "thickness_mm": thick, "spacing_mm": spacing, "gap_mm": spacing - thick,
        })
    return pd.DataFrame(rows)


def series_table(bids_dir: str | os.PathLike, subjects: list[str]) -> pd.DataFrame:
    """The ingested series per subject, from the written NIfTI headers and sidecars.

    Parameters
    ----------
    bids_dir : path-like
        Root of the BIDS dataset the ingest wrote (``sub-<label>/anat/*.nii.gz`` with
        ``.json`` sidecars).
    subjects : list of str
        Subject IDs, with or without the ``sub-`` prefix; a subject without files gives
        no rows.

    Returns
    -------
    pandas.DataFrame
        One row per subject × series (role, part, run): ``subject``, ``role``, ``part``,
        ``run``, ``echoes``, ``te_ms`` (first–last), ``slices``, ``matrix``,
        ``pixel_mm``, ``thickness_mm``, ``spacing_mm``, ``gap_mm``, ``orientation``,
        ``z_min_mm``, ``z_max_mm`` (world z of the first and last slice centre).
    """
    rows = []
    for subject in subjects:
        label = subject_label(subject)
        anat = Path(bids_dir) / f"sub-{label}" / "anat"
        groups: dict[tuple, list[Path]] = {}
        for path in sorted(anat.glob("*.nii.gz")):
            info = parse_name(path.name)
            if info is not None:
                groups.setdefault((info["role"], info["part"], info["run"]), []).append(path)
        for (role, part, run), paths in groups.items():
            img = nib.load(paths[0])
            meta = [json.loads(Path(str(p).replace(".nii.gz", ".json")).read_text())
                    for p in paths]
            tes = sorted(m.get("EchoTime", np.nan) * 1e3 for m in meta)
            aff = img.affine
            zooms = np.linalg.norm(aff[:3, :3], axis=0)
            nz = img.shape[2]
            z = [float((aff @ [0, 0, k, 1])[2]) for k in (0, nz - 1)]
            thick = float(meta[0].get("SliceThickness", np.nan))
            rows.append({
                "subject": f"sub-{label}", "role": role, "part": part, "run": run or 1,
                "echoes": len(paths),
                "te_ms": f"{tes[0]:.1f}" if len(tes) == 1 else f"{tes[0]:.1f}–{tes[-1]:.1f}",
                "slices": nz, "matrix": f"{img.shape[0]}×{img.shape[1]}",
                "pixel_mm": round(float(zooms[0]), 3), "thickness_mm": thick,
                "spacing_mm": round(float(zooms[2]), 3),
                "gap_mm": round(float(zooms[2]) - thick, 3),
                "orientation": orientation_label(aff[:3, 2]),
                "z_min_mm": round(float(min(z)), 2), "z_max_mm": round(float(max(z)), 2),
            })
    return pd.DataFrame(rows)


def header_listing(path: str | os.PathLike, pseudonym: str = "sub-01") -> pd.DataFrame:
    """One file's header before and after de-identification, without identifying values.

    Parameters
    ----------
    path : path-like
        A DICOM file.
    pseudonym : str
        The subject ID that replaces the identity.

    Returns
    -------
    pandas.DataFrame
        Columns ``tag``, ``name``, ``VR``, ``before``, ``after``. ``before`` shows the
        original value only for attributes that are kept; removed ones are shown as
        ``"(removed: N characters)"`` — the book never prints an identity, even a
        synthetic one, because the same page would print a real one on real data.
    """
    header = read_header(Path(path))
    ds = header.dataset
    clean, removed = deidentify(ds, pseudonym)
    cleaned = {name.split(" ")[0] for name in removed if name.endswith("(cleaned)")}
    rows = []

    def shown(value) -> str:
        text = str(value)
        return text if len(text) <= 48 else text[:45] + "..."

    for elem in ds:
        kept = (not elem.tag.is_private and elem.keyword in ALLOWED_KEYWORDS
                and elem.keyword not in cleaned)
        raw = elem.value
        size = len(str(raw)) if raw is not None else 0
        after_elem = clean.get(elem.tag) if not elem.tag.is_private else None
        rows.append({
            "tag": f"({elem.tag.group:04X},{elem.tag.element:04X})",
            "name": elem.keyword or elem.name, "VR": elem.VR,
            "before": shown(raw) if kept else f"(removed: {size} characters)",
            "after": shown(after_elem.value) if after_elem is not None else "—",
        })
    original_tags = {e.tag for e in ds}
    for elem in clean:
        if elem.tag not in original_tags:
            rows.append({"tag": f"({elem.tag.group:04X},{elem.tag.element:04X})",
                         "name": elem.keyword, "VR": elem.VR, "before": "—",
                         "after": shown(elem.value)})
    return pd.DataFrame(rows)
