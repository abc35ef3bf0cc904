"""Table 1 of the paper from the cohort's clinical table, made to fit a book page.

The paper's Table 1 has ten columns, two of them free text; as one HTML table it runs off
a page. :func:`table1` splits it: the numbers and short codes in one table, the free text
(chief complaint, electromyography) in a second, both indexed by the paper's patient
number. Columns a cohort's clinical table does not have are left out.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["TABLE1_COLUMNS", "TABLE1_TEXT_COLUMNS", "table1"]

#: clinical-table column → heading of the first part (short values).
TABLE1_COLUMNS: dict[str, str] = {
    "sex": "sex", "age_years": "age (years)", "course_months": "course (months)",
    "ck_u_per_l": "CK (U/L)", "mri_to_biopsy_days": "MRI to biopsy (days)",
    "biopsy_site": "biopsy site", "diagnosis": "diagnosis",
}
#: clinical-table column → heading of the second part (free text).
TABLE1_TEXT_COLUMNS: dict[str, str] = {
    "chief_complaint": "chief complaint", "electromyography": "electromyography",
}


def table1(clinical: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The clinical table as the paper's Table 1, in two parts.

    Parameters
    ----------
    clinical : pandas.DataFrame
        One row per subject (index ``subject``); the columns of the synthetic cohort's
        ``clinical.csv`` (``patient``, ``sex``, ``age_years``, ``chief_complaint``,
        ``course_months``, ``ck_u_per_l``, ``electromyography``, ``mri_to_biopsy_days``,
        ``biopsy_side``, ``biopsy_muscle``, ``diagnosis``) or any subset.

    Returns
    -------
    numbers : pandas.DataFrame
        Index ``N`` (the ``patient`` column, else the subject); the columns of
        :data:`TABLE1_COLUMNS` that can be made, CK with a thousands separator, the
        biopsy site as "Left RF".
    text : pandas.DataFrame
        Same index; the columns of :data:`TABLE1_TEXT_COLUMNS` present ("-" where the
        paper prints a dash stays as it is).

    Examples
    --------
    >>> c = pd.DataFrame({"patient": [1], "sex": ["M"], "ck_u_per_l": [2146],
    ...                   "biopsy_side": ["left"], "biopsy_muscle": ["RF"]}, index=["01"])
    >>> table1(c)[0].to_dict("records")
    [{'sex': 'M', 'CK (U/L)': '2,146', 'biopsy site': 'Left RF'}]
    """
    df = clinical.copy()
    if {"biopsy_side", "biopsy_muscle"} <= set(df.columns):
        df["biopsy_site"] = (df["biopsy_side"].astype(str).str.capitalize() + " "
                             + df["biopsy_muscle"].astype(str))
    if "ck_u_per_l" in df.columns:
        df["ck_u_per_l"] = df["ck_u_per_l"].map(
            lambda v: f"{int(v):,}" if pd.notna(v) else "")
    index = (df["patient"].astype(str) if "patient" in df.columns
             else pd.Series(df.index.astype(str), index=df.index))

    def part(columns: dict[str, str]) -> pd.DataFrame:
        keep = [c for c in columns if c in df.columns]
        out = df[keep].rename(columns=columns)
        out.index = pd.Index(index.to_numpy(), name="N")
        return out

    return part(TABLE1_COLUMNS), part(TABLE1_TEXT_COLUMNS)
