"""The simulated cohort's ground truth beside the values the paper reports."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .. import paper
from .truth import cohort_truth_table

__all__ = ["truth_vs_paper"]


def truth_vs_paper(manifest: Any) -> pd.DataFrame:
    """Biopsied and contralateral muscle truth (mean over the muscle) beside the paper.

    FF from the MEGRE grid, water T2 from the MESE grid (where each is measured).

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        A cohort with ground truth.

    Returns
    -------
    pandas.DataFrame
        Index ``measure`` (``ff_biopsy_percent``, ``t2_biopsy_ms``, ``ff_contra_percent``,
        ``t2_contra_ms``); the paper's mean, SD, min, max beside the cohort's.
    """
    df = cohort_truth_table(manifest)
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
