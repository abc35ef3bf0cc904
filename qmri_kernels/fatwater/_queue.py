"""Priority queue of the field-map region growing: a 64-ary bit tree over growth ranks.

Every growth visits its voxels in one fixed total order: higher quality first, ties by
the lower voxel index. A voxel's place in that order (its rank) is therefore the same in
every growth of a fit, and is computed once by one sort (:func:`growth_order`). The
queue of a growth is then a set of ranks, and "pop the highest-priority voxel" becomes
"pop the smallest rank".

The set is a hierarchy of 64-bit words. Level 0 holds one bit per rank. Each bit of
level l + 1 says whether a word of level l is non-empty. The top level is a single word.

- A push sets at most one bit per level, and stops at the first word that was already
  non-empty.
- A pop reads one word per level, from the top down, and takes its lowest set bit (a
  trailing-zero count). It then clears bits upwards while words become empty.

That is L = ⌈log₆₄ V⌉ levels (3 for up to 262,144 voxels, 4 for up to 16.7 M). A binary
heap over the growth front instead needs about 2 log₂(front) comparisons whose outcomes
the processor cannot predict. Integer priority queues of this kind go back to
van Emde Boas (1975); the 64-ary bit tree is their word-parallel form.

The pop order is the heap's exactly, because both follow the same total order. The
field map is therefore the same bit for bit.

The growth order jumps about the volume, so a popped voxel's data are seldom in the
processor's caches: the wait for them was most of a growth's time. :func:`queue_peek`
reads the rank that would be popped next without removing it, and :func:`prefetch` asks
for that voxel's data while the current one is processed. The next pop is usually that
voxel (unless a neighbour just queued comes earlier in the order); either way the hint
changes no result, only when the data arrive.

References: van Emde Boas P. Preserving order in a forest in less than logarithmic time.
16th Annual Symposium on Foundations of Computer Science, IEEE 1975:75-84.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic

#: Bits per word of the tree.
_WORD = 64

#: Longest run of nearly equal qualities that ``_ranks`` puts in order by insertion.
_SHORT_RUN = 32


def growth_order(quality: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks of the voxels in the growth order: higher ``quality`` first, ties by index.

    One sort of 64-bit words that hold the quality's order-preserving bit pattern in their
    high bits and the voxel index in their low bits (NumPy's vectorised integer sort);
    voxels whose qualities differ only in the bits cut off to make room for the index
    (relative differences below 2⁻³² for 10⁶ voxels) are then put in exact order.

    Parameters
    ----------
    quality : (V,) float64
        Growth priority of each voxel (RMS signal; not NaN).

    Returns
    -------
    rank : (V,) int64
        Place of each voxel in the order (0 = popped first).
    order : (V,) int64
        The voxels in that order: ``order[rank[v]] == v``.
    """
    q = np.ascontiguousarray(quality, dtype=np.float64)
    shift = max(int(q.size - 1).bit_length(), 1)
    keys = _packed_keys(q, shift)
    keys.sort()
    return _ranks(keys, q, shift)


@njit(cache=True, parallel=True)
def _packed_keys(quality, shift):
    """(V,) uint64 sort keys: the bits of −quality mapped so that unsigned order is the
    float order (sign bit flipped for positive numbers, all bits for negative ones; −0
    as +0), cut to their high 64 − ``shift`` bits, with the voxel index in the low
    ``shift`` bits."""
    n = quality.shape[0]
    keys = np.empty(n, dtype=np.uint64)
    bits = quality.view(np.uint64)
    sign = np.uint64(1) << np.uint64(63)
    low = (np.uint64(1) << np.uint64(shift)) - np.uint64(1)
    for v in prange(n):
        b = bits[v] ^ sign                         # the bits of −quality
        if quality[v] == 0.0:
            b = np.uint64(0)                       # +0 and −0 are equal qualities
        b = ~b if b & sign else b | sign           # unsigned order = float order
        keys[v] = (b & ~low) | np.uint64(v)
    return keys


@njit(cache=True, parallel=True)
def _ranks(keys, quality, shift):
    """Voxel order from the sorted ``keys`` (``_packed_keys``), with each run of equal
    high bits put in exact order (quality descending, then index); (rank, order)."""
    n = keys.shape[0]
    low = (np.uint64(1) << np.uint64(shift)) - np.uint64(1)
    order = np.empty(n, dtype=np.int64)
    for r in prange(n):
        order[r] = np.int64(keys[r] & low)
    a = 0
    while a < n:
        b = a + 1
        while b < n and (keys[b] & ~low) == (keys[a] & ~low):
            b += 1
        if b - a > _SHORT_RUN:
            # a long run (many qualities within a relative 2^-30 or so): a stable sort by
            # quality keeps the run's index order among equal ones
            run = order[a:b].copy()
            order[a:b] = run[np.argsort(-quality[run], kind="mergesort")]
        else:
            # insertion sort of a short run
            for i in range(a + 1, b):
                v = order[i]
                j = i - 1
                while j >= a and (quality[order[j]] < quality[v]
                                  or (quality[order[j]] == quality[v] and order[j] > v)):
                    order[j + 1] = order[j]
                    j -= 1
                order[j + 1] = v
        a = b
    rank = np.empty(n, dtype=np.int64)
    for r in prange(n):
        rank[order[r]] = r
    return rank, order


@njit(cache=True)
def queue_layout(n):
    """Word offsets of the levels of a bit tree over ``n`` ranks.

    Returns
    -------
    (L + 1,) int64
        Level l occupies words ``offsets[l]:offsets[l + 1]``; level L − 1 is one word
        (L ≥ 1). The tree has ``offsets[L]`` words.
    """
    n_lev = 1
    words = (max(n, 1) + _WORD - 1) // _WORD
    while words > 1:
        words = (words + _WORD - 1) // _WORD
        n_lev += 1
    offsets = np.zeros(n_lev + 1, dtype=np.int64)
    words = (max(n, 1) + _WORD - 1) // _WORD
    for lev in range(n_lev):
        offsets[lev + 1] = offsets[lev] + words
        words = (words + _WORD - 1) // _WORD
    return offsets


@njit(cache=True, inline="always")
def queue_push(bits, offsets, r):
    """Add rank ``r`` (not in the set) to the bit tree ``bits`` (int64 words)."""
    for lev in range(offsets.shape[0] - 1):
        w = r >> 6
        i = offsets[lev] + w
        old = bits[i]
        bits[i] = old | (np.int64(1) << (r & 63))
        if old != 0:
            return
        r = w


@njit(cache=True, inline="always")
def queue_pop(bits, offsets):
    """Remove and return the smallest rank of the (non-empty) bit tree ``bits``."""
    n_lev = offsets.shape[0] - 1
    r = np.int64(0)
    for lev in range(n_lev - 1, -1, -1):
        r = (r << 6) | trailing_zeros(bits[offsets[lev] + r])
    x = r
    for lev in range(n_lev):
        i = offsets[lev] + (x >> 6)
        word = bits[i] & ~(np.int64(1) << (x & 63))
        bits[i] = word
        if word != 0:
            break
        x >>= 6
    return r


@njit(cache=True, inline="always")
def queue_peek(bits, offsets):
    """The smallest rank of the (non-empty) bit tree ``bits``, left in it: what
    ``queue_pop`` would return next, at the cost of one word read per level."""
    r = np.int64(0)
    for lev in range(offsets.shape[0] - 2, -1, -1):
        r = (r << 6) | trailing_zeros(bits[offsets[lev] + r])
    return r


@intrinsic
def prefetch(typingctx, array, index):
    """Ask the processor to load the cache line of ``array[index]`` (``array[index, 0, ...]``
    for more axes) ahead of its use: LLVM's ``llvm.prefetch`` (read, high temporal
    locality, data cache), one non-blocking instruction that changes no value. Integer
    indices only; the index is not checked, so pass one inside the array."""
    if not (isinstance(array, types.Array) and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        aryty, idxty = signature.args
        ary = context.make_array(aryty)(context, builder, args[0])
        first = context.cast(builder, args[1], idxty, types.intp)
        zero = context.get_constant(types.intp, 0)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary,
                                       [first] + [zero] * (aryty.ndim - 1),
                                       wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()
    return types.void(array, index), codegen


@njit(cache=True, inline="always")
def queue_discard(bits, offsets, r):
    """Clear the words on the path of rank ``r`` in every level: empties the tree when
    called for every rank it holds (used to drop the rest of an abandoned growth)."""
    for lev in range(offsets.shape[0] - 1):
        r >>= 6
        bits[offsets[lev] + r] = 0
