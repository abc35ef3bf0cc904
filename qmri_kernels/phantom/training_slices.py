"""Training and validation slices from freshly randomised phantom subjects.

The network is trained only on phantom subjects whose seeds are disjoint from the synthetic
cohort's (:data:`qmri_kernels.phantom.synthetic_cohort.COHORT_SEEDS`, all below 1000): training seeds
start at :data:`TRAIN_SEED_START`, validation seeds at :data:`VAL_SEED_START`. Each subject
gets the T2-weighted protocol's slice stack with its position jittered along z, so the
network sees the thigh at many levels, not only at the cohort's nine slab positions.

Disease is drawn per muscle (:func:`training_disease`) over a wider range than the cohort's
(fat fraction up to about 60 %, water T2 up to about 120 ms, each muscle independently), so
that a single strongly affected muscle — bright with edema or fatty on the T2-weighted
image, like a biopsied muscle — is something the network has seen beside healthy
neighbours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .protocol import PROTOCOL, series_grid
from .subject import DiseaseSpec, make_subject
from ..labels import MUSCLES, SIDES
from .subject import HEALTHY_FF, HEALTHY_WATER_T2
from .synthetic_cohort import COHORT_SEEDS
from ..segment._netgrid import to_canonical
from ..segment.classes import labels_to_classes
from ..segment.preprocess import in_plane_spacing, normalise_volume

__all__ = ["TRAIN_SEED_START", "VAL_SEED_START", "SliceSet", "phantom_slices",
           "check_disjoint_from_cohort", "training_disease"]

#: First seed of the training subjects.
TRAIN_SEED_START: int = 100_000
#: First seed of the validation subjects.
VAL_SEED_START: int = 200_000


@dataclass(frozen=True)
class SliceSet:
    """Axial slices in the canonical orientation.

    Attributes
    ----------
    images : (n, nx, ny) ndarray of float32
        Normalised per volume (:func:`~qmri_kernels.segment.normalise_volume`).
    classes : (n, nx, ny) ndarray of uint8
        Class indices (:data:`~qmri_kernels.segment.CLASS_LABELS`).
    spacing : (2,) tuple of float
        Pixel spacing, mm.
    seeds : tuple of int
        Phantom seed of each subject (slices are grouped by subject in this order).
    """

    images: np.ndarray
    classes: np.ndarray
    spacing: tuple[float, float]
    seeds: tuple[int, ...]


def check_disjoint_from_cohort(seeds: Iterable[int]) -> None:
    """Raise ``ValueError`` if a seed is one of the cohort's (the test set must stay unseen).

    Parameters
    ----------
    seeds : iterable of int
        Phantom seeds meant for training or validation (converted with ``int``).

    Raises
    ------
    ValueError
        If any seed is a value of
        :data:`qmri_kernels.phantom.synthetic_cohort.COHORT_SEEDS`; the message lists
        the overlapping seeds.
    """
    overlap = sorted(set(int(s) for s in seeds) & set(COHORT_SEEDS.values()))
    if overlap:
        raise ValueError(f"seeds {overlap} belong to the synthetic cohort "
                         "(qmri_kernels.phantom.synthetic_cohort.COHORT_SEEDS); use seeds >= "
                         f"{TRAIN_SEED_START} for training")


def training_disease(rng: np.random.Generator) -> DiseaseSpec:
    """Random per-muscle disease for a training subject.

    Per subject, a chronicity c and an activity a uniform in [0, 1]; per muscle and side,
    independently, PDFF = healthy + c·Gamma(1.2, 0.10) (clipped to 0.7) and water T2 =
    healthy + a·Gamma(1.5, 0.02 s) (clipped to 0.12 s); patchiness uniform in [0.2, 0.6].

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of every draw (2 + 2 × 22 + 1 values); :func:`phantom_slices` seeds it
        with ``[seed, 7]`` so the disease is a function of the subject's seed.

    Returns
    -------
    DiseaseSpec
        ``muscle_ff`` (fraction, healthy 0.03 up to 0.7) and ``muscle_t2`` (s, healthy
        0.035 up to 0.12) for all 22 (muscle, side) pairs, and the patchiness.
    """
    chronic, activity = rng.uniform(0, 1, size=2)
    ff, t2 = {}, {}
    for side in SIDES:
        for m in MUSCLES:
            ff[(m, side)] = float(min(HEALTHY_FF + chronic * rng.gamma(1.2, 0.10), 0.7))
            t2[(m, side)] = float(min(HEALTHY_WATER_T2 + activity * rng.gamma(1.5, 0.02), 0.12))
    return DiseaseSpec(ff, t2, patchiness=float(rng.uniform(0.2, 0.6)))


def phantom_slices(seeds: Iterable[int], *, z_jitter_mm: float = 9.0,
                   matrix: tuple[int, int] = (256, 256), rng=0) -> SliceSet:
    """Simulate the T2-weighted series of phantom subjects and their truth labels.

    Parameters
    ----------
    seeds : iterable of int
        Phantom seeds; must not be cohort seeds. The subject's sex alternates with the seed's
        parity (women have thicker subcutaneous fat in the phantom); the seed also draws the
        disease (:func:`training_disease`).
    z_jitter_mm : float
        The stack centre is drawn uniformly within ± this (mm) around the protocol position
        (half the 18 mm slice spacing covers every level between the slabs).
    matrix : (2,) tuple of int
        In-plane matrix (the cohort's default is 256 × 256 over 420 mm).
    rng : int or numpy.random.Generator
        Draws the z jitter and the image noise.

    Returns
    -------
    SliceSet
        All subjects' slices in canonical orientation, stacked along the first axis
        (subject by subject, ``n_slices`` of the T2-weighted protocol each), images
        normalised float32, classes uint8, spacing in mm.

    Raises
    ------
    ValueError
        If a seed is a cohort seed (:func:`check_disjoint_from_cohort`) or
        ``z_jitter_mm`` is negative or NaN.
    """
    seeds = tuple(int(s) for s in seeds)
    check_disjoint_from_cohort(seeds)
    if not z_jitter_mm >= 0:
        raise ValueError(f"z_jitter_mm must be non-negative, got {z_jitter_mm}")
    rng = np.random.default_rng(rng)
    proto = PROTOCOL["t2w"]
    images, classes = [], []
    spacing = None
    for seed in seeds:
        disease = training_disease(np.random.default_rng([seed, 7]))
        subject = make_subject(seed, sex="F" if seed % 2 else "M", disease=disease)
        grid = series_grid(proto, matrix=matrix,
                           z_centre=float(rng.uniform(-z_jitter_mm, z_jitter_mm)))
        truth = subject.truth(grid)
        vol = subject.simulate_t2w(grid, rng, echo_time=proto.echo_times[0],
                                   repetition_time=proto.repetition_time, truth=truth)
        vol, aff, _ = to_canonical(vol, grid.affine)
        lab, _, _ = to_canonical(truth["labels"], grid.affine)
        images.append(np.moveaxis(normalise_volume(vol), 2, 0))
        classes.append(np.moveaxis(labels_to_classes(lab).astype(np.uint8), 2, 0))
        spacing = in_plane_spacing(aff)
    return SliceSet(np.concatenate(images), np.concatenate(classes), spacing, seeds)
