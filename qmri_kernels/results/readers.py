"""What the readers' mask corrections do to the biopsied muscle's FF and water T2.

In Wang et al. 2023 two readers (R1, R2) reviewed and corrected the network's masks before
measuring. How far apart the two readers' values are is
:func:`qmri_kernels.results.bland_altman` (and :func:`qmri_kernels.results.reader_icc`);
:func:`edit_shift` answers the other question of the mask QA: how far did each reader's
corrections move a patient's value away from the network's? It takes the pipeline's tidy
ROI table and returns a DataFrame, in the unit of each measurement; nothing here reads
files.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .measurements import MEASURES, biopsy_measurements

__all__ = ["edit_shift"]


def edit_shift(roi: pd.DataFrame, readers: Sequence[str] = ("R1", "R2"), *,
               where: str = "biopsied") -> pd.DataFrame:
    """How far each reader's corrected labels moved a patient's value from the network's.

    Parameters
    ----------
    roi : pandas.DataFrame
        The pipeline's tidy ROI table with rows of ``"auto"`` and of every reader.
    readers : sequence of str
        Readers compared with the network (R1, R2).
    where : {"biopsied", "contralateral"}
        Which muscle's values: the biopsied one or its twin on the other side.

    Returns
    -------
    pandas.DataFrame
        Index ``subject``; columns ``(measure, reader)`` with measures
        :data:`~qmri_kernels.results.measurements.MEASURES`: the reader's value minus the
        network's (``ff_percent`` in percentage points, ``water_t2_ms`` in ms).

    Raises
    ------
    ValueError
        As :func:`~qmri_kernels.results.biopsy_measurements` (a reader without rows, a
        subject without a value).
    """
    readers = list(readers)
    wide = biopsy_measurements(roi, ["auto", *readers], where=where)
    out = pd.concat({m: wide[m][readers].sub(wide[m]["auto"], axis=0) for m in MEASURES},
                    axis=1)
    out.columns.names = ["measure", "reader"]
    return out
