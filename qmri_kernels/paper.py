"""The numbers Wang et al. 2023 report, in one place, for "paper vs this book" tables.

Wang F, Fang S, Li J, et al. (2023). Correlation analysis of quantitative MRI measurements
of thigh muscles with histopathology in patients with idiopathic inflammatory myopathy.
Eur Radiol Exp 7:45. doi:10.1186/s41747-023-00350-z. Values from the Results section;
fat fractions in percent, T2 in ms, scores on the 0–4 Likert scale (mean ± SD).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["REPORTED", "PROTOCOL_TABLE", "reported_table"]

#: measure → (mean, SD, min, max); None where the paper gives no value.
REPORTED: dict[str, tuple[float | None, float | None, float | None, float | None]] = {
    "ff_biopsy_percent": (7.3, 6.1, 0.8, 26.2),
    "t2_biopsy_ms": (54.7, 14.1, None, None),
    "ff_contra_percent": (7.5, 6.6, None, None),
    "t2_contra_ms": (44.5, 4.4, None, None),
    "ff_biopsy_percent_R1": (7.3, 5.8, None, None),
    "ff_biopsy_percent_R2": (7.3, 6.4, None, None),
    "t2_biopsy_ms_R1": (53.8, 12.8, None, None),
    "t2_biopsy_ms_R2": (56.8, 16.1, None, None),
    "score_fat": (1.73, 1.12, 1.0, 4.0),
    "score_myofiber_size_variation": (2.38, 1.18, None, None),
    "score_inflammatory_cells": (1.81, 1.42, None, None),
    "score_connective_tissue": (1.69, 1.20, None, None),
}

#: The paper's qMRI and structural axial protocol (Methods, "MRI protocol").
PROTOCOL_TABLE = pd.DataFrame(
    [
        ("megre", "Axial IDEAL-IQ", "1.5–9 (ΔTE 1.5), 6 echoes", 11.2, 6, 3, "320×192 → 512×512"),
        ("mese", "Axial T2 mapping, CHESS fat sat", "7–56 (ΔTE 7), 8 echoes", 1046, 6, 7, "320×160 → 512×512"),
        ("t2w", "Axial T2-weighted IDEAL", "120", 5250, 8, 10, "416×288"),
    ],
    columns=["role", "sequence", "te_ms", "tr_ms", "slice_thickness_mm", "gap_mm", "matrix"],
)


def reported_table() -> pd.DataFrame:
    """:data:`REPORTED` as a DataFrame indexed by measure (columns mean, sd, min, max)."""
    return pd.DataFrame.from_dict(REPORTED, orient="index", columns=["mean", "sd", "min", "max"])
