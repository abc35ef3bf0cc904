"""The digital bilateral thigh phantom and the synthetic 13-patient cohort.

- :mod:`.protocol` — the paper's protocol (the label table and the grids are
  :mod:`qmri_kernels.labels` and :mod:`qmri_kernels.grids`, shared with the real-data path);
- :mod:`.anatomy` — randomised anatomy evaluated at world points;
- :mod:`.subject` — tissue properties, B0/B1/coil fields, image simulation;
- :mod:`.dicom_writer` — GE-style DICOM;
- :mod:`.synthetic_cohort` — the 13 subjects of Wang et al. 2023, Table 1, written to disk.
"""

from ..grids import Grid, axial_grid
from ..labels import LABELS, MUSCLES, label_index
from .protocol import PROTOCOL, series_grid
from .subject import DiseaseSpec, Subject, make_subject

__all__ = ["Grid", "axial_grid", "LABELS", "MUSCLES", "label_index", "PROTOCOL",
           "series_grid", "DiseaseSpec", "Subject", "make_subject"]
