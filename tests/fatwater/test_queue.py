"""The growth's priority queue: its order is the sorted order, its pops a heap's, its peeks
its next pops; the prefetch hint changes no value."""

import heapq

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from qmri_kernels.fatwater._queue import (growth_order, prefetch, queue_discard,
                                          queue_layout, queue_peek, queue_pop, queue_push)


@pytest.mark.parametrize("case", ["distinct", "ties", "near", "one"])
def test_growth_order_is_quality_descending_then_index(case):
    rng = np.random.default_rng(4)
    if case == "distinct":
        q = np.sqrt(rng.gamma(2.0, 1e6, 50_000))
    elif case == "ties":
        # equal qualities, non-finite voxels (-1), zeros, and qualities that differ only
        # in the low bits that the packed sort key cuts off
        base = 1234.5678
        q = np.concatenate([np.full(300, -1.0), np.zeros(200), np.full(100, -0.0),
                            np.round(rng.gamma(2.0, 3.0, 5000), 1),
                            base * (1 + rng.integers(0, 8, 700) * np.finfo(float).eps)])
        q = q[rng.permutation(q.size)]
    elif case == "near":
        # one long run of qualities that differ only in the cut-off bits, rising with the
        # index (the growth order is the reverse of the index order)
        q = 1.0 + np.arange(3000) * np.finfo(float).eps
    else:
        q = np.array([3.0])
    rank, order = growth_order(q)
    expected = np.lexsort((np.arange(q.size), -q))
    np.testing.assert_array_equal(order, expected)
    np.testing.assert_array_equal(rank[order], np.arange(q.size))


@njit
def _replay(ops, n):
    """Apply pushes (ops ≥ 0: that rank) and pops (−1) to an empty tree over n ranks;
    each pop's rank, −1 for a push; the tree's words at the end; whether every peek
    before a pop returned that pop's rank and left the words as they were."""
    offsets = queue_layout(n)
    bits = np.zeros(offsets[-1], dtype=np.int64)
    out = np.empty(ops.shape[0], dtype=np.int64)
    peeks_ok = True
    for i in range(ops.shape[0]):
        if ops[i] >= 0:
            queue_push(bits, offsets, ops[i])
            out[i] = -1
        else:
            before = bits.copy()
            head = queue_peek(bits, offsets)
            peeks_ok &= np.array_equal(bits, before)
            out[i] = queue_pop(bits, offsets)
            peeks_ok &= head == out[i]
    return out, bits, peeks_ok


@pytest.mark.parametrize("n", [1, 64, 65, 4096, 4097, 300_000])
def test_queue_pops_what_a_binary_heap_pops(n):
    rng = np.random.default_rng(n)
    heap, present, ops, expected = [], set(), [], []
    for _ in range(4000):
        if heap and rng.random() < 0.45:
            r = heapq.heappop(heap)
            present.discard(r)
            ops.append(-1)
            expected.append(r)
        else:
            r = int(rng.integers(n))
            if r not in present:
                present.add(r)
                heapq.heappush(heap, r)
                ops.append(r)
                expected.append(-1)
    while heap:                                     # drain: the tree ends empty
        ops.append(-1)
        expected.append(heapq.heappop(heap))
    got, bits, peeks_ok = _replay(np.array(ops, dtype=np.int64), n)
    np.testing.assert_array_equal(got, expected)
    assert not bits.any()
    assert peeks_ok


@njit
def _discard_all(ranks, n):
    offsets = queue_layout(n)
    bits = np.zeros(offsets[-1], dtype=np.int64)
    for r in ranks:
        queue_push(bits, offsets, r)
    for r in ranks:
        queue_discard(bits, offsets, r)
    return bits


def test_discarding_every_queued_rank_empties_the_tree():
    ranks = np.random.default_rng(0).choice(300_000, 5000, replace=False)
    assert not _discard_all(ranks, 300_000).any()


def test_layout_has_one_top_word():
    for n, levels in ((1, 1), (64, 1), (65, 2), (4096, 2), (4097, 3), (262_144, 3),
                      (262_145, 4)):
        offsets = queue_layout(n)
        assert offsets.size - 1 == levels
        assert offsets[-1] - offsets[-2] == 1
        assert offsets[1] == -(-n // 64)


@njit
def _sum_with_prefetch(values, table, index):
    """Σ values and Σ table[index[i], 0], prefetching rows of ``table`` ahead (int32
    and int64 indices, 1-D and 2-D arrays)."""
    total = 0.0
    rows = 0
    for i in range(values.shape[0]):
        prefetch(values, min(i + 8, values.shape[0] - 1))
        if i + 1 < index.shape[0]:
            prefetch(table, index[i + 1])
        total += values[i]
        rows += table[index[i], 0]
    return total, rows


def test_prefetch_changes_no_value():
    rng = np.random.default_rng(3)
    values = rng.normal(size=1000)
    table = rng.integers(-5, 5, size=(1000, 10)).astype(np.int32)
    for index in (rng.integers(0, 1000, 1000).astype(np.int32),
                  rng.integers(0, 1000, 1000)):
        total, rows = _sum_with_prefetch(values, table, index)
        assert total == pytest.approx(values.sum(), rel=1e-12)
        assert rows == table[index, 0].sum()


def test_prefetch_takes_integer_indices_only():
    @njit
    def bad(a):
        prefetch(a, 1.5)
    with pytest.raises(TypingError):
        bad(np.zeros(4))

