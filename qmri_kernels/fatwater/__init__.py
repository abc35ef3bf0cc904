"""Fat-water separation of multi-echo gradient echo (chapter 3).

``signal`` is the forward model the phantom simulates with and the fit inverts;
:class:`FatWaterModel` fits water, fat, PDFF, R2* and the B0 field map (variable projection,
region-grown field map, per-voxel Levenberg–Marquardt); :func:`combine_complex` builds the
complex input from magnitude + phase or real + imaginary images at the I/O edge;
:func:`pdff_crlb` gives the Cramér–Rao bound of PDFF, the noise floor of any voxel-wise fit;
:func:`load_megre` reads a subject's ingested echoes and :func:`measure_throughput` times
the fit against the SciPy reference (scoring against ground truth is
:mod:`qmri_kernels.validation.fatwater`).
"""

from ._complex import combine_complex
from ._crlb import background_noise_sigma, pdff_crlb
from ._fit import FatWaterFit, FatWaterModel, proton_density_fat_fraction
from ._io import MegreData, load_megre
from ._model import fat_phasor, signal
from ._throughput import Throughput, measure_throughput

#: |PDFF error| above which a voxel counts as fat-water swapped (fraction; 30 pp).
SWAP_THRESHOLD: float = 0.30

__all__ = ["signal", "fat_phasor", "FatWaterModel", "FatWaterFit",
           "proton_density_fat_fraction", "pdff_crlb", "combine_complex",
           "measure_throughput", "Throughput", "load_megre", "MegreData",
           "background_noise_sigma", "SWAP_THRESHOLD"]
