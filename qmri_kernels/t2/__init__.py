"""Water T2 mapping of the fat-saturated multi-echo spin echo (chapter 4).

``epg`` holds the extended-phase-graph forward model (hard pulses and slice profile) that
the phantom simulates with and the fits invert.
"""

from . import epg
from .epg import cpmg_signal, cpmg_signal_slice_profile, slice_profile

__all__ = ["epg", "cpmg_signal", "cpmg_signal_slice_profile", "slice_profile"]
