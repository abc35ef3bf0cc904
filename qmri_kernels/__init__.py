"""qmri_kernels: the library behind the thigh qMRI ↔ histopathology book.

One sub-module per stage of the analysis (see ``DESIGN.md``): ``physics`` (cited
constants), ``fatwater``, ``t2`` (with ``t2.epg``), ``phantom``, ``dicom``,
``segment``, ``masks``, ``manifest``. Units are SI throughout (s, 1/s, Hz, T;
fractions in [0, 1]).
"""

__version__ = "0.1.0"
