"""The scanner's own fat fraction against the book's fit, muscle by muscle.

Where a site exported both the IDEAL-IQ echoes and the scanner's fat-fraction map
(``desc-scanner_PDFFmap``, converted at ingest: :mod:`qmri_kernels.dicom.vendor_maps`),
the two can be compared in the same muscles, with no ground truth: the mean fat fraction
of each muscle ROI (the transferred, eroded labels :func:`~.stages.roi_table` uses) from
each map, and their agreement in the manner of Bland and Altman (1986, Lancet 1:307):
the mean difference (bias) and the 95 % limits of agreement, bias ± 1.96 SD.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .. import derivatives as D
from .stages import ROI_ERODE_MM, ensure_ingested, fat_water_maps, transferred_labels

__all__ = ["scanner_ff_table", "scanner_ff_agreement", "SCANNER_FF_COLUMNS"]

#: Columns of :func:`scanner_ff_table`.
SCANNER_FF_COLUMNS: tuple[str, ...] = (
    "subject", "muscle", "side", "biopsied", "n_voxels", "fit_ff_percent",
    "scanner_ff_percent", "difference_pp")


def scanner_ff_table(manifest, subjects: Iterable[str] | None = None, *, reader: str = "auto",
                     erode_mm: float = ROI_ERODE_MM) -> pd.DataFrame:
    """Mean fat fraction of every muscle ROI from the book's fit and from the scanner's map.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort.
    subjects : iterable of str, optional
        Default: every subject of the manifest. Subjects without both a fit (complex
        echoes) and the scanner's fat-fraction map are left out.
    reader : str
        Whose labels define the ROIs (``"auto"``: the network's).
    erode_mm : float
        In-plane erosion of the labels before measuring, mm (default: the pipeline's).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SCANNER_FF_COLUMNS`, one row per subject × muscle × side with
        voxels: ``fit_ff_percent`` and ``scanner_ff_percent`` the ROI means (%),
        ``difference_pp`` scanner minus fit (percentage points).

    Raises
    ------
    qmri_kernels.masks.GridMismatchError
        If the scanner's map is not on the grid of the echoes.
    """
    from ..masks import erode_labels, roi_statistics

    ids = [manifest.subject(s).id for s in (subjects if subjects is not None
                                            else [s.id for s in manifest.subjects])]
    root = manifest.derivatives
    frames = []
    for sid in ids:
        entry = manifest.subject(sid)
        ensure_ingested(manifest, sid)
        if not D.map_exists(root, entry.id, "scanner_pdff"):
            continue
        fw = fat_water_maps(manifest, sid)
        if "fieldmap" not in fw.maps:          # no echoes: the "fit" is the scanner's map
            continue
        scanner, affine, _ = D.read_map(root, entry.id, "scanner_pdff")
        labels, lab_affine = transferred_labels(manifest, sid, reader=reader).maps[
            f"labels_{reader}_megre"]
        spacing = tuple(np.linalg.norm(lab_affine[:3, :2], axis=0))
        labels = erode_labels(labels, erode_mm, spacing) if erode_mm > 0 else labels
        stats = roi_statistics((labels, lab_affine),
                               {"pdff": fw.maps["pdff"], "scanner_pdff": (scanner, affine)},
                               subject=entry, reader=reader,
                               units={"scanner_pdff": ("scanner_ff_percent", 100.0)})
        wide = stats.pivot_table(index=["muscle", "side", "biopsied"], columns="map",
                                 values="mean").reset_index()
        wide.columns.name = None
        counts = stats[stats["map"] == "ff_percent"].set_index(["muscle", "side"])["n_voxels"]
        wide["n_voxels"] = [int(counts.loc[(m, s)]) for m, s in zip(wide["muscle"],
                                                                     wide["side"])]
        wide["subject"] = entry.id
        frames.append(wide.rename(columns={"ff_percent": "fit_ff_percent"}))
    if not frames:
        return pd.DataFrame(columns=list(SCANNER_FF_COLUMNS))
    table = pd.concat(frames, ignore_index=True)
    table = table[table["n_voxels"] > 0].copy()
    table["difference_pp"] = table["scanner_ff_percent"] - table["fit_ff_percent"]
    return table[list(SCANNER_FF_COLUMNS)].reset_index(drop=True)


def scanner_ff_agreement(table: pd.DataFrame) -> pd.DataFrame:
    """Bland–Altman agreement of the scanner's and the fit's ROI fat fractions.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`scanner_ff_table`.

    Returns
    -------
    pandas.DataFrame
        Index ``all muscles`` and ``biopsied muscle``; columns ``n`` (ROIs),
        ``bias_pp`` (mean of scanner − fit), ``sd_pp``, ``loa_low_pp``, ``loa_high_pp``
        (bias ∓ 1.96 SD) and ``max_abs_pp``; NaN where there are fewer than two ROIs.

    Examples
    --------
    >>> t = pd.DataFrame({"difference_pp": [0.1, 0.3, 0.2], "biopsied": [True, False, False]})
    >>> scanner_ff_agreement(t).loc["all muscles", ["n", "bias_pp"]].tolist()
    [3.0, 0.2]
    """
    rows = {}
    for name, sel in (("all muscles", np.ones(len(table), bool)),
                      ("biopsied muscle", table["biopsied"].to_numpy(bool))):
        d = table["difference_pp"].to_numpy(float)[sel]
        d = d[np.isfinite(d)]
        bias = float(d.mean()) if d.size else np.nan
        sd = float(d.std(ddof=1)) if d.size > 1 else np.nan
        rows[name] = {"n": float(d.size), "bias_pp": round(bias, 10), "sd_pp": sd,
                      "loa_low_pp": bias - 1.96 * sd, "loa_high_pp": bias + 1.96 * sd,
                      "max_abs_pp": float(np.abs(d).max()) if d.size else np.nan}
    return pd.DataFrame.from_dict(rows, orient="index")


def scanner_ff_sentence(table: pd.DataFrame) -> str:
    """One plain sentence on which way the scanner's map differs from the fit, and by how much.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`scanner_ff_table` (columns ``difference_pp`` = scanner − fit,
        percentage points, and ``fit_ff_percent``).

    Returns
    -------
    str
        The mean difference, in how many muscles the scanner reads higher, and whether the
        difference grows with fat fraction (Spearman's ρ of the difference against the
        fit's fat fraction, shown when at least five ROIs have both).

    Examples
    --------
    >>> t = pd.DataFrame({"difference_pp": [0.5, 1.0, 1.5], "fit_ff_percent": [2., 5., 9.]})
    >>> scanner_ff_sentence(t)
    "On this cohort the scanner's map reads higher than this book's fit by 1.0 percentage points on average (in 3 of 3 muscle ROIs)."
    """
    from scipy.stats import spearmanr

    ok = table[np.isfinite(table["difference_pp"])]
    n = len(ok)
    if n == 0:
        return "No muscle ROI has both the scanner's fat fraction and this book's fit."
    bias = float(ok["difference_pp"].mean())
    higher = int((ok["difference_pp"] > 0).sum())
    way = "higher" if bias > 0 else "lower"
    sentence = (f"On this cohort the scanner's map reads {way} than this book's fit by "
                f"{abs(bias):.1f} percentage points on average (in "
                f"{higher if bias > 0 else n - higher} of {n} muscle ROIs)")
    if n >= 5:
        rho = float(spearmanr(ok["fit_ff_percent"], ok["difference_pp"]).statistic)
        if abs(rho) >= 0.3:
            trend = "grows" if rho * np.sign(bias) > 0 else "shrinks"
            sentence += (f"; the difference {trend} with fat fraction (Spearman's ρ = "
                         f"{rho:.2f} against the fit's fat fraction)")
    return sentence + "."
