"""Maps of a fat-water fit computed from its packed parameters in one parallel pass."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def pdff_kernel(params):
    """Proton-density fat fraction of packed fit parameters, magnitude discrimination.

    The arithmetic of :func:`~qmri_kernels.fatwater.proton_density_fat_fraction` (Liu CY,
    McKenzie CA, Yu H, Brittain JH, Reeder SB. Fat quantification with IDEAL gradient echo
    imaging: correction of bias from T1 and noise. Magn Reson Med 2007;58:354-364) per
    voxel: PDFF = 1 − |W| / |W + F| where |W| ≥ |F|, else |F| / |W + F|; NaN where
    |W + F| is 0 or a parameter is NaN. The same values to rounding (Numba's complex
    modulus and NumPy's can differ in the last bit). One pass over the voxels, on the
    Numba threads, without the whole-volume temporaries of the array form.

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
        w = complex(params[v, 0], params[v, 1])
        f = complex(params[v, 2], params[v, 3])
        aw = abs(w)
        af = abs(f)
        total = abs(w + f)
        x = np.nan
        if total > 0.0:
            x = 1.0 - aw / total if aw >= af else af / total
        out[v] = x
    return out
