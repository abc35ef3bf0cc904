"""Water T2 mapping of the fat-saturated multi-echo spin echo (chapter 4).

- :mod:`.epg` — extended-phase-graph forward model of a CPMG train (hard pulses and the
  slice profile of windowed-sinc pulses), which the phantom simulates with;
- :class:`MonoExpT2Model` — mono-exponential T2 (the scanner-style comparison);
- :class:`EPGT2Model` — stimulated-echo-corrected water T2 with a fat component and B1,
  fitted by dictionary search and variable-projection refinement in Numba;
- :func:`residual_fat_share` — Dixon PDFF → the fat signal share this sequence leaves;
  :func:`calibrate_fat_t2` — fat T2 from fat-rich voxels;
- :func:`mppca_denoise`, :func:`fit_with_smooth_b1` — denoising and B1 regularisation;
- :func:`map_water_t2` — all of it for one volume, as the pipeline runs it;
  :func:`water_t2_subject` — with the Dixon PDFF carried onto the spin-echo grid.
"""

from . import epg
from .b1 import fit_with_smooth_b1, smooth_b1
from .denoise import mp_noise_sigma, mppca_denoise
from .epg import cpmg_signal, cpmg_signal_slice_profile, slice_profile
from .epg_model import DEFAULT_SLICE_PROFILE, EPGT2Fit, EPGT2Model, uniform_echo_spacing
from .fat import FatT2Calibration, calibrate_fat_t2, residual_fat_share
from .mapping import WaterT2Maps, map_water_t2, resample_to_grid
from .monoexp import MonoExpT2Fit, MonoExpT2Model, monoexp_signal
from .subject import MeseData, SubjectT2, dixon_on_mese, load_mese, water_t2_subject
from .throughput import measure_throughput

__all__ = [
    "epg", "cpmg_signal", "cpmg_signal_slice_profile", "slice_profile",
    "MonoExpT2Model", "MonoExpT2Fit", "monoexp_signal",
    "EPGT2Model", "EPGT2Fit", "DEFAULT_SLICE_PROFILE", "uniform_echo_spacing",
    "residual_fat_share", "calibrate_fat_t2", "FatT2Calibration",
    "mppca_denoise", "mp_noise_sigma", "smooth_b1", "fit_with_smooth_b1",
    "map_water_t2", "WaterT2Maps", "resample_to_grid",
    "MeseData", "load_mese", "dixon_on_mese", "SubjectT2", "water_t2_subject",
    "measure_throughput",
]
