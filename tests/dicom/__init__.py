"""Tests of qmri_kernels.dicom (a package so that helper modules import relatively)."""
