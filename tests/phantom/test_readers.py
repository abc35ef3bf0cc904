"""Simulated readers: their habits move the biopsied muscle's border the way they should,
their corrections move the network's labels towards the truth, and they are seeded."""

import numpy as np

from qmri_kernels.labels import label_index
from qmri_kernels.masks import MaskSession
from qmri_kernels.phantom.readers import READERS, ReaderHabit, simulate_reader

RF_L, RF_R = label_index("RF", "left"), label_index("RF", "right")


def _session(labels):
    s = MaskSession._blank(labels.shape)
    s._labels[...] = labels          # the network's labels of this toy subject
    return s


def _toy():
    truth = np.zeros((40, 40, 4), np.int16)
    yy, xx = np.mgrid[:40, :40]
    truth[((yy - 12) ** 2 + (xx - 12) ** 2 < 49)] = RF_L
    truth[((yy - 28) ** 2 + (xx - 28) ** 2 < 49)] = RF_R
    net = truth.copy()
    net[10:14, 5:8, 1] = 0                # the network misses a piece on slice 1
    return truth, net


def test_trim_and_extend_move_the_border_in_and_out():
    truth, net = _toy()
    trim = ReaderHabit("R1", "trim", 1.0, 0, 0.0, seed=1)
    extend = ReaderHabit("R2", "extend", 1.0, 0, 0.0, seed=1)
    a, b = _session(net), _session(net)
    simulate_reader(a, trim, truth)
    simulate_reader(b, extend, truth)
    n = (net == RF_L).sum()
    assert (a.labels == RF_L).sum() < n < (b.labels == RF_L).sum()
    assert not ((a.labels == RF_L) & (net != RF_L)).any()      # trimming only removes
    assert not ((b.labels != RF_L) & (net == RF_L)).any()      # extending only adds


def test_corrections_move_towards_the_truth_and_are_seeded():
    truth, net = _toy()
    habit = ReaderHabit("R1", "trim", 0.0, 1, 1.0, seed=3)
    s = _session(net)
    changed = simulate_reader(s, habit, truth)
    assert changed["corrections"] > 0
    assert ((s.labels == RF_L) != (truth == RF_L)).sum() < ((net == RF_L) != (truth == RF_L)).sum()
    again = _session(net)
    simulate_reader(again, habit, truth)
    np.testing.assert_array_equal(s.labels, again.labels)


def test_the_two_readers_differ():
    assert {h.reader for h in READERS} == {"R1", "R2"}
    assert {h.border for h in READERS} == {"trim", "extend"}
