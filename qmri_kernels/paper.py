"""The numbers Wang et al. 2023 report, in one place, for "paper vs this book" tables.

Wang F, Fang S, Li J, et al. (2023). Correlation analysis of quantitative MRI measurements
of thigh muscles with histopathology in patients with idiopathic inflammatory myopathy.
Eur Radiol Exp 7:45. doi:10.1186/s41747-023-00350-z. Values from the Results section;
fat fractions in percent, T2 in ms, scores on the 0–4 Likert scale (mean ± SD).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["REPORTED", "PROTOCOL_TABLE", "reported_table", "N_PATIENTS", "TABLE1", "ALPHA", "ICC_REPORTED",
           "KAPPA_REPORTED", "CORRELATIONS_REPORTED", "FIGURE_PATIENTS", "FIGURE_VALUES"]

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

#: Patients in the study.
N_PATIENTS: int = 13

#: Table 1 of the paper (clinical information), row by row as printed; biopsy site split
#: into side and muscle abbreviation.
TABLE1 = pd.DataFrame(
    [
        (1, "M", 50, "Myalgia, muscle weakness", 2, 2146, "Myogenic damage", 23, "left", "RF", "PM"),
        (2, "M", 51, "Skin rash, muscle weakness, SOB", 9, 27, "Myogenic damage", 9, "right", "RF", "DM"),
        (3, "M", 23, "Myalgia, muscle weakness, dysphagia", 2, 8225, "Myogenic damage", 25, "left", "RF", "DM"),
        (4, "M", 15, "Skin rash and muscle weakness", 2, 37, "Myogenic damage", 5, "left", "RF", "DM"),
        (5, "M", 50, "Myalgia, muscle weakness", 96, 1761, "-", 4, "left", "RF", "PM"),
        (6, "F", 24, "Muscle weakness", 1, 7792, "Myogenic damage", 25, "left", "RF", "IMNM"),
        (7, "F", 72, "Muscle weakness", 1, 256, "Myogenic damage", 30, "right", "RF", "PM"),
        (8, "F", 25, "Skin rash, muscle weakness", 108, 504, "Myogenic damage", 4, "left", "RF", "ASS"),
        (9, "M", 67, "Muscle weakness, SOB", 1, 17, "Normal", 8, "left", "RF", "DM"),
        (10, "F", 66, "Muscle weakness, SOB", 4, 26, "Myogenic damage", 3, "left", "RF", "PM"),
        (11, "M", 32, "Skin rash, muscle weakness", 5, 1762, "Myogenic damage", 10, "left", "RF", "DM"),
        (12, "F", 19, "Skin rash, muscle weakness", 2, 10378, "-", 29, "left", "RF", "DM"),
        (13, "M", 65, "Myalgia, muscle weakness", 36, 866, "Myogenic damage", 10, "right", "VL", "DM"),
    ],
    columns=["patient", "sex", "age_years", "chief_complaint", "course_months", "ck_u_per_l",
             "electromyography", "mri_to_biopsy_days", "biopsy_side", "biopsy_muscle",
             "diagnosis"],
)

#: Significance level of every test in the paper (Statistical analysis).
ALPHA: float = 0.05

#: R1/R2 intraclass correlation as printed (Results; SPSS 26, form not named).
ICC_REPORTED: dict[str, float] = {"ff_percent": 0.934, "water_t2_ms": 0.838}

#: R3/R4 linearly weighted kappa per item, as the text gives it: (low, high) of the range
#: reported for the item's group (one value: low == high). Table S1 itself is not public.
KAPPA_REPORTED: dict[str, tuple[float, float]] = {
    "myofiber_size_variation": (0.639, 0.753), "inflammatory_cells": (0.639, 0.753),
    "cd4": (0.639, 0.753), "cd68": (0.639, 0.753),
    "fat": (0.841, 0.927), "connective_tissue": (0.841, 0.927),
    "necrosis": (0.444, 0.589), "acp": (0.444, 0.589), "complement": (0.444, 0.589),
    "mhc1": (0.128, 0.128),
}

#: The ten Spearman tests as reported: (measure, item) → (rho or None, p as printed).
CORRELATIONS_REPORTED: dict[tuple[str, str], tuple[float | None, str]] = {
    ("ff_percent", "fat"): (0.597, "0.031"),
    ("water_t2_ms", "myofiber_size_variation"): (None, "≤ 0.008"),
    ("water_t2_ms", "inflammatory_cells"): (None, "≤ 0.008"),
    ("water_t2_ms", "connective_tissue"): (None, "≤ 0.008"),
    **{("water_t2_ms", item): (None, "0.063–0.522 (range of six)")
       for item in ("necrosis", "acp", "cd4", "cd68", "mhc1", "complement")},
}

#: Patients whose images the paper shows (Figs. 3–5).
FIGURE_PATIENTS: tuple[int, ...] = (8, 9, 13)

#: Biopsied-muscle values quoted in the figure legends: (patient, measure) → (value,
#: figure). FF in %, water T2 in ms.
FIGURE_VALUES: dict[tuple[int, str], tuple[float, str]] = {
    (8, "ff_percent"): (6.0, "Fig. 3"), (13, "ff_percent"): (26.1, "Fig. 3"),
    (9, "water_t2_ms"): (34.1, "Fig. 4"), (13, "water_t2_ms"): (69.7, "Fig. 4"),
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
    """:data:`REPORTED` as a table.

    Returns
    -------
    pandas.DataFrame
        Index: the measure names of :data:`REPORTED`; columns ``mean``, ``sd``, ``min``,
        ``max`` (% for FF, ms for T2, score points for scores; None where the paper gives
        no value).
    """
    return pd.DataFrame.from_dict(REPORTED, orient="index", columns=["mean", "sd", "min", "max"])
