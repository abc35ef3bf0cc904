"""Masked extraction of the voxels to fit and scatter of the fitted values back to volumes.

``signal[mask]`` and ``out[mask] = values`` are single-threaded NumPy passes over the whole
volume (and the NaN fill of the output another); on a 256 × 256 × 18 acquisition they cost
about a tenth of the fit itself. Here the flat volume is cut into blocks, the mask is
counted per block in parallel, and each block then copies its own voxels — the rows of the
masked array are the block's offset plus the running count, i.e. the C order of
``numpy.nonzero`` — so the results equal the NumPy ones element for element, in one pass.
The arrays are allocated by NumPy (which asks for huge pages on large allocations; a
fresh allocation inside a Numba kernel pages in 4 kB at a time, three times slower to
fill) and filled by the kernels.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# Flat voxels per parallel block (a few hundred kB of signal).
_BLOCK = 8192

# Signal dtypes the kernels take; any other complex dtype goes through NumPy.
_KERNEL_DTYPES = (np.dtype(np.complex64), np.dtype(np.complex128))


@njit(cache=True, parallel=True)
def block_offsets(flat_mask, block):
    """(n_blocks + 1,) int64 running count of ``True`` voxels at the start of each block."""
    n = flat_mask.shape[0]
    n_blocks = (n + block - 1) // block
    offsets = np.zeros(n_blocks + 1, dtype=np.int64)
    for b in prange(n_blocks):
        c = 0
        for p in range(b * block, min(n, (b + 1) * block)):
            c += np.int64(flat_mask[p])
        offsets[b + 1] = c
    for b in range(n_blocks):
        offsets[b + 1] += offsets[b]
    return offsets


@njit(cache=True, parallel=True)
def gather_kernel(flat_sig, flat_mask, offsets, block, out):
    """Write the rows of ``flat_sig`` (P, N) where ``flat_mask`` (P,) is True into ``out``
    (V, N) complex64."""
    n, n_echo = flat_sig.shape
    n_blocks = offsets.shape[0] - 1
    for b in prange(n_blocks):
        v = offsets[b]
        for p in range(b * block, min(n, (b + 1) * block)):
            if flat_mask[p]:
                for k in range(n_echo):
                    out[v, k] = flat_sig[p, k]
                v += 1


@njit(cache=True, parallel=True)
def scatter_kernel(flat_mask, offsets, block, params, psi, how, params_vol, psi_vol, how_vol):
    """Fill the volumes ``params_vol`` (P, K) float64, ``psi_vol`` (P,) float64 and
    ``how_vol`` (P,) int8 with the per-voxel ``params`` (V, K), ``psi`` (V,) and ``how``
    (V,) where ``flat_mask`` (P,) is True, and NaN, NaN and 0 elsewhere."""
    n = flat_mask.shape[0]
    n_par = params.shape[1]
    n_blocks = offsets.shape[0] - 1
    for b in prange(n_blocks):
        v = offsets[b]
        for p in range(b * block, min(n, (b + 1) * block)):
            if flat_mask[p]:
                for q in range(n_par):
                    params_vol[p, q] = params[v, q]
                psi_vol[p] = psi[v]
                how_vol[p] = how[v]
                v += 1
            else:
                for q in range(n_par):
                    params_vol[p, q] = np.nan
                psi_vol[p] = np.nan
                how_vol[p] = 0


class MaskedVolume:
    """The voxels of a mask in C order, for extracting them and scattering results back.

    Parameters
    ----------
    mask : ndarray of bool, shape (...)
        Voxels to take (any number of axes, including none).
    """

    def __init__(self, mask: np.ndarray) -> None:
        self.shape = tuple(int(s) for s in mask.shape)
        self._flat = np.ascontiguousarray(mask, dtype=np.bool_).reshape(-1)
        self._offsets = block_offsets(self._flat, _BLOCK)

    @property
    def n_voxels(self) -> int:
        """Number of voxels in the mask."""
        return int(self._offsets[-1])

    def gather(self, signal: np.ndarray) -> np.ndarray:
        """``signal[mask]`` as C-contiguous complex64.

        Parameters
        ----------
        signal : ndarray, complex, shape mask.shape + (n_echoes,)
            Multi-echo signal, in signal units.

        Returns
        -------
        ndarray, complex64, shape (n_voxels, n_echoes)
            The masked voxels in C order, equal to
            ``np.ascontiguousarray(signal[mask], dtype=np.complex64)``.
        """
        if signal.dtype not in _KERNEL_DTYPES or not signal.dtype.isnative:
            mask = self._flat.reshape(self.shape)
            return np.ascontiguousarray(signal[mask], dtype=np.complex64)
        flat = signal.reshape(-1, signal.shape[-1])
        out = np.empty((self.n_voxels, flat.shape[1]), dtype=np.complex64)
        gather_kernel(flat, self._flat, self._offsets, _BLOCK, out)
        return out

    def scatter(self, params: np.ndarray, psi: np.ndarray, how: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Volumes holding the per-voxel results inside the mask.

        Parameters
        ----------
        params : ndarray, float64, shape (n_voxels, K)
            Packed parameters per masked voxel.
        psi : ndarray, float64, shape (n_voxels,)
            Initial field map per masked voxel, Hz.
        how : ndarray, int8, shape (n_voxels,)
            Field-map source code per masked voxel.

        Returns
        -------
        params_vol : ndarray, float64, shape mask.shape + (K,)
            ``params`` inside the mask, NaN outside.
        psi_vol : ndarray, float64, shape mask.shape
            ``psi`` inside the mask (Hz), NaN outside.
        how_vol : ndarray, int8, shape mask.shape
            ``how`` inside the mask, 0 outside.
        """
        n = self._flat.shape[0]
        p = np.empty((n, params.shape[1]))
        s = np.empty(n)
        h = np.empty(n, dtype=np.int8)
        scatter_kernel(self._flat, self._offsets, _BLOCK,
                       np.ascontiguousarray(params, dtype=np.float64),
                       np.ascontiguousarray(psi, dtype=np.float64),
                       np.ascontiguousarray(how, dtype=np.int8), p, s, h)
        return (p.reshape(self.shape + (params.shape[1],)), s.reshape(self.shape),
                h.reshape(self.shape))
