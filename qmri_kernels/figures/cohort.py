"""Figures and tables of the chapter "The synthetic cohort"."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap, to_rgb

from .. import paper
from ..phantom.labels import LABELS

__all__ = ["label_colormap", "show_axial", "plot_labels", "plot_truth_maps",
           "truth_vs_paper", "plot_truth_distributions"]


def label_colormap() -> ListedColormap:
    """Colours of the label table, indexed by label value (0 is black)."""
    colors = np.zeros((max(lab.index for lab in LABELS) + 1, 3))
    for lab in LABELS:
        colors[lab.index] = to_rgb(lab.color)
    return ListedColormap(colors)


def show_axial(ax, image: np.ndarray, **kwargs):
    """Show a (nx, ny) slice in radiological view: patient right on the left, anterior up.

    Arrays are in the NIfTI voxel order of :func:`qmri_kernels.phantom.axial_grid`
    (i → patient left, j → posterior), so the display is the transpose.
    """
    im = ax.imshow(np.asarray(image).T, **kwargs)
    ax.set_axis_off()
    return im


def _crop(image: np.ndarray, mask: np.ndarray, margin: int = 6) -> tuple[slice, slice]:
    ii, jj = np.nonzero(mask)
    return (slice(max(ii.min() - margin, 0), ii.max() + margin + 1),
            slice(max(jj.min() - margin, 0), jj.max() + margin + 1))


def plot_labels(labels: np.ndarray, z_mm: list[float], title: str = "") -> plt.Figure:
    """Label slices (nx, ny, n) side by side, each titled with its world z (mm)."""
    n = labels.shape[-1]
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 2.6), squeeze=False)
    cmap = label_colormap()
    crop = _crop(labels[..., n // 2], labels[..., n // 2] > 0)
    for k, ax in enumerate(axes[0]):
        show_axial(ax, labels[crop[0], crop[1], k], cmap=cmap, vmin=0, vmax=cmap.N - 1)
        ax.set_title(f"z = {z_mm[k]:+.0f} mm")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_truth_maps(truth: dict[str, np.ndarray], k: int) -> plt.Figure:
    """PDFF (%), water T2 (ms), B0 (Hz) and B1 of slice ``k`` of a truth dictionary."""
    body = truth["labels"][..., k] > 0
    crop = _crop(body, body)
    panels = [("pdff", 100, "PDFF (%)", "magma", (0, 100)),
              ("water_t2", 1000, "water T2 (ms)", "viridis", (20, 80)),
              ("b0", 1, "B0 (Hz)", "RdBu_r", (-250, 250)),
              ("b1", 1, "B1 (relative)", "cividis", (0.65, 1.15))]
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.2))
    for ax, (key, scale, label, cmap, (lo, hi)) in zip(axes, panels):
        img = np.where(body, truth[key][..., k] * scale, np.nan)[crop]
        im = show_axial(ax, img, cmap=cmap, vmin=lo, vmax=hi)
        fig.colorbar(im, ax=ax, shrink=0.8, label=label)
    fig.tight_layout()
    return fig


def truth_vs_paper(truth_dir: str | Path) -> pd.DataFrame:
    """Biopsied and contralateral muscle truth (mean over the muscle) beside the paper.

    FF from the MEGRE grid, water T2 from the MESE grid (where each is measured).
    """
    df = pd.read_csv(Path(truth_dir) / "cohort_truth.csv")
    rows = {
        "ff_biopsy_percent": df["megre_biopsy_ff_percent"],
        "t2_biopsy_ms": df["mese_biopsy_t2_ms"],
        "ff_contra_percent": df["megre_contra_ff_percent"],
        "t2_contra_ms": df["mese_contra_t2_ms"],
    }
    out = []
    for name, values in rows.items():
        mean, sd, lo, hi = paper.REPORTED[name]
        out.append({"measure": name, "paper_mean": mean, "paper_sd": sd, "paper_min": lo,
                    "paper_max": hi, "cohort_mean": values.mean(), "cohort_sd": values.std(ddof=1),
                    "cohort_min": values.min(), "cohort_max": values.max()})
    return pd.DataFrame(out).set_index("measure").round(1)


def plot_truth_distributions(truth_dir: str | Path) -> plt.Figure:
    """Strip plots of the cohort's true FF and water T2, biopsied vs contralateral,
    with the paper's mean ± SD drawn beside them."""
    df = pd.read_csv(Path(truth_dir) / "cohort_truth.csv")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, (col_b, col_c, key_b, key_c, unit) in zip(axes, [
            ("megre_biopsy_ff_percent", "megre_contra_ff_percent", "ff_biopsy_percent",
             "ff_contra_percent", "FF (%)"),
            ("mese_biopsy_t2_ms", "mese_contra_t2_ms", "t2_biopsy_ms", "t2_contra_ms",
             "water T2 (ms)")]):
        for x, (col, key) in enumerate(((col_b, key_b), (col_c, key_c))):
            vals = df[col].to_numpy()
            jitter = np.linspace(-0.12, 0.12, len(vals))
            ax.plot(x + jitter, vals, "o", alpha=0.8, label="cohort truth" if x == 0 else None)
            mean, sd = paper.REPORTED[key][:2]
            ax.errorbar(x + 0.3, mean, yerr=sd, fmt="s", color="k", capsize=4,
                        label="paper mean ± SD" if x == 0 else None)
        ax.set_xticks([0, 1], ["biopsied", "contralateral"])
        ax.set_ylabel(unit)
    axes[0].legend(frameon=False)
    fig.tight_layout()
    return fig


#: Header fields the excerpt shows (acquisition and geometry; nothing identifying).
EXCERPT_KEYWORDS = (
    "Manufacturer", "ManufacturerModelName", "MagneticFieldStrength", "SeriesDescription",
    "ImageType", "ScanningSequence", "EchoTime", "EchoNumbers", "RepetitionTime", "FlipAngle",
    "SliceThickness", "SpacingBetweenSlices", "ImagePositionPatient",
    "ImageOrientationPatient", "PixelSpacing", "Rows", "Columns", "RescaleSlope",
    "RescaleIntercept",
)
#: Identity fields the writer fills with made-up values; the excerpt names them only.
IDENTITY_KEYWORDS = ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber",
                     "InstitutionName", "ReferringPhysicianName", "StudyDate")


def dicom_header_excerpt(path: str | Path) -> pd.DataFrame:
    """Selected header fields of one DICOM file as a table (keyword, tag, VR, value).

    Identity fields are listed with their value withheld: the book never prints an
    identifier, synthetic or not (chapter "From DICOM to NIfTI" shows de-identification).
    """
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=True)
    rows = []
    for kw in EXCERPT_KEYWORDS + IDENTITY_KEYWORDS:
        elem = ds.data_element(kw)
        if elem is None:
            continue
        value = "(present; withheld)" if kw in IDENTITY_KEYWORDS else str(elem.value)
        rows.append({"keyword": kw, "tag": f"({elem.tag.group:04X},{elem.tag.element:04X})",
                     "VR": elem.VR, "value": value})
    return pd.DataFrame(rows).set_index("keyword")


def first_dicom_file(dicom_root: str | Path, series_description: str) -> Path:
    """The first file (by name) under ``dicom_root`` whose SeriesDescription matches."""
    import pydicom

    for path in sorted(p for p in Path(dicom_root).rglob("*") if p.is_file()):
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SeriesDescription", "ImageType"])
        if ds.get("SeriesDescription") == series_description and "PHASE" not in list(ds.get("ImageType", [])):
            return path
    raise FileNotFoundError(f"{dicom_root}: no series described {series_description!r}")
