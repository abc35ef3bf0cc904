"""Maps of a fat-water fit computed from its packed parameters in one parallel pass."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# |z|² inside these bounds: sqrt(x² + y²) is within an ulp or two of the modulus (no
# overflow, and no underflow of the squares); outside, math.hypot.
_SQUARE_LO = 1e-290
_SQUARE_HI = 1e290


@njit(cache=True, inline="always")
def _modulus(x, y):
    """|x + iy|: √(x² + y²) (fast), or ``math.hypot`` where the squares would over- or
    underflow."""
    s = x * x + y * y
    if _SQUARE_LO < s < _SQUARE_HI:
        return math.sqrt(s)
    return math.hypot(x, y)


@njit(cache=True, parallel=True)
def pdff_kernel(params):
    """Proton-density fat fraction of packed fit parameters, magnitude discrimination.

    The arithmetic of :func:`~qmri_kernels.fatwater.proton_density_fat_fraction` (Liu CY,
    McKenzie CA, Yu H, Brittain JH, Reeder SB. Fat quantification with IDEAL gradient echo
    imaging: correction of bias from T1 and noise. Magn Reson Med 2007;58:354-364) per
    voxel: PDFF = 1 − |W| / |W + F| where |W| ≥ |F|, else |F| / |W + F|; NaN where
    |W + F| is 0 or a parameter is NaN. The same values to rounding: the moduli are
    √(x² + y²) (``_modulus``), within an ulp or two of NumPy's correctly rounded ones.
    One pass over the voxels, on the Numba threads, without the whole-volume
    temporaries of the array form.

    Parameters
    ----------
    params : (V, ≥ 4) float64
        Re W, Im W, Re F, Im F in the first four columns (``PARAMETER_NAMES``).

    Returns
    -------
    (V,) float64
        Fat fraction (fraction, not percent).
    """
    n = params.shape[0]
    out = np.empty(n)
    for v in prange(n):
        wr = params[v, 0]
        wi = params[v, 1]
        fr = params[v, 2]
        fi = params[v, 3]
        aw = _modulus(wr, wi)
        af = _modulus(fr, fi)
        total = _modulus(wr + fr, wi + fi)
        x = np.nan
        if total > 0.0:
            x = 1.0 - aw / total if aw >= af else af / total
        out[v] = x
    return out
