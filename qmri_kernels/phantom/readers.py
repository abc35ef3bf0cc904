"""Simulated readers: R1 and R2 review the network's labels through the mask-QA session.

In Wang et al. 2023 a radiologist (R1) and a physicist (R2) each segmented the biopsied
muscle independently with DAFNE, correcting its masks where needed. The synthetic cohort
has no humans, so two simulated readers make the same kind of edits through exactly the
calls the widget makes (:class:`qmri_kernels.masks.MaskSession`: ``paint``, ``erase``,
``fill``, ``save``):

- a **habit** along the biopsied muscle's border and its contralateral twin's: R1 trims
  about a pixel where the muscle meets fat or another tissue (a conservative ROI), R2
  takes in the fascia and a pixel of the neighbouring fat (a generous ROI); each reader
  applies the habit to a seeded share of the border pixels, slice by slice;
- **local corrections** where the network is wrong: on the slices where the network's
  biopsied muscle differs most from the true one, the reader paints the missed voxels and
  erases the spurious ones — a seeded share of them, as a human would catch most but not
  all.

Where the network is wrong is the simulator's knowledge (the true labels), as a reader
sees it on the image; nothing outside the simulator uses it. The readers' labels are
saved as ``labels_R1`` / ``labels_R2`` derivatives, which the pipeline's ROI table then
measures like any reader's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from .. import derivatives as D
from ..labels import label_index
from ..masks import MaskSession

__all__ = ["ReaderHabit", "READERS", "simulate_reader", "simulate_readers"]

#: Marks a saved label file as the simulation's (and with which settings).
_MARK = "qmri_kernels.phantom.readers"


@dataclass(frozen=True)
class ReaderHabit:
    """How one simulated reader edits.

    Attributes
    ----------
    reader : str
        Reader id (``"R1"``).
    border : {"trim", "extend"}
        Trim the muscle's border by a pixel, or extend it by a pixel into fat/fascia.
    border_share : float
        Share of the border pixels the habit touches, in [0, 1].
    n_corrected_slices : int
        Slices (the worst ones) on which the reader corrects the network.
    correction_share : float
        Share of the wrong voxels corrected on those slices.
    seed : int
    """

    reader: str
    border: str
    border_share: float
    n_corrected_slices: int
    correction_share: float
    seed: int


#: The two readers of the paper, simulated.
READERS: tuple[ReaderHabit, ...] = (
    ReaderHabit("R1", "trim", 0.55, 3, 0.8, seed=11),
    ReaderHabit("R2", "extend", 0.45, 2, 0.7, seed=12),
)


def _border(mask2d: np.ndarray, outward: bool) -> np.ndarray:
    """Pixels just inside (``outward`` False) or just outside (True) a 2-D mask."""
    if outward:
        return ndimage.binary_dilation(mask2d) & ~mask2d
    return mask2d & ~ndimage.binary_erosion(mask2d)


def simulate_reader(session: MaskSession, habit: ReaderHabit, true_labels: np.ndarray
                    ) -> dict[str, int]:
    """Apply one reader's habit and corrections to an open session (not saved).

    Parameters
    ----------
    session : MaskSession
        Opened on the network's labels.
    habit : ReaderHabit
        The reader's border habit and correction rate (e.g. an entry of :data:`READERS`).
    true_labels : (nx, ny, nz) ndarray of int
        The simulator's true labels on the T2-weighted grid.

    Returns
    -------
    dict
        Voxels changed by the habit and by the corrections.
    """
    rng = np.random.default_rng([habit.seed, int(session.subject, 36)])
    biopsy = label_index(session.biopsy_muscle, session.biopsy_side)
    twin = label_index(session.biopsy_muscle,
                       "left" if session.biopsy_side == "right" else "right")
    changed = {"habit": 0, "corrections": 0}
    # corrections first: where the network's biopsied muscle is most wrong
    auto = session.labels
    wrong = (auto == biopsy) != (true_labels == biopsy)
    per_slice = wrong.sum(axis=(0, 1))
    for k in np.argsort(per_slice)[::-1][:habit.n_corrected_slices]:
        if per_slice[k] == 0:
            continue
        missed = np.argwhere((true_labels[..., k] == biopsy) & (auto[..., k] != biopsy))
        extra = np.argwhere((auto[..., k] == biopsy) & (true_labels[..., k] != biopsy))
        with session.stroke():
            for (i, j) in missed[rng.random(len(missed)) < habit.correction_share]:
                changed["corrections"] += session.paint(int(k), (int(i), int(j)), 0.5,
                                                        biopsy)
            for (i, j) in extra[rng.random(len(extra)) < habit.correction_share]:
                changed["corrections"] += session.erase(int(k), (int(i), int(j)), 0.5)
    # the habit, along the border of the biopsied muscle and its twin
    for label in (biopsy, twin):
        for k in range(session.labels.shape[2]):
            current = session.labels[..., k]
            mask = current == label
            if not mask.any():
                continue
            if habit.border == "trim":
                # only where the muscle meets something that is not muscle
                touches = ndimage.binary_dilation(current < 11) & mask
                pixels = np.argwhere(_border(mask, False) & touches)
            else:
                pixels = np.argwhere(_border(mask, True) & (current < 11))
            pick = pixels[rng.random(len(pixels)) < habit.border_share]
            with session.stroke():
                for (i, j) in pick:
                    if habit.border == "trim":
                        changed["habit"] += session.erase(k, (int(i), int(j)), 0.5)
                    else:
                        changed["habit"] += session.paint(k, (int(i), int(j)), 0.5, label)
    return changed


def _already_simulated(manifest: Any, subject: str, habit: ReaderHabit) -> bool:
    root = manifest.derivatives
    name = D.label_spec(habit.reader).name
    if not D.map_exists(root, subject, name):
        return False
    side = D.read_sidecar(root, subject, name)
    return side.get("SimulatedReader") == _marker(manifest, subject, habit)


def _marker(manifest: Any, subject: str, habit: ReaderHabit) -> dict:
    """What made a simulated reader's file: the simulation, its settings and the network's
    labels it started from (their content digest)."""
    auto = D.map_path(manifest.derivatives, subject, "labels_auto")
    digest = hashlib.sha256(auto.read_bytes()).hexdigest() if auto.is_file() else None
    return {"By": _MARK, "Habit": dict(habit.__dict__), "AutoLabelsSHA256": digest}


def simulate_readers(manifest: Any, subjects=None, readers=READERS) -> list[dict]:
    """Replay the simulated readers over the cohort and save their labels.

    A reader's file made by the same simulation from the same network labels is kept; any
    other file of that reader is replaced (the simulation starts from the network's labels
    every time).

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        A simulated cohort (its truth decides where the network is wrong).
    subjects : iterable of str, optional
        Default: all.
    readers : sequence of ReaderHabit
        Simulated readers (default :data:`READERS`: R1 trims borders, R2 extends them).

    Returns
    -------
    list of dict
        One row per subject × reader: voxels changed, Dice of the biopsied muscle against
        the network's labels, whether it was computed or kept.
    """
    from ..validation import load_truth

    ids = [s.id for s in manifest.subjects] if subjects is None else list(subjects)
    rows = []
    for sid in ids:
        truth = None
        for habit in readers:
            if _already_simulated(manifest, sid, habit):
                side = D.read_sidecar(manifest.derivatives, sid, D.label_spec(habit.reader))
                rows.append({"subject": sid, "reader": habit.reader, "computed": False,
                             **side.get("SimulatedChanges", {})})
                continue
            path = D.map_path(manifest.derivatives, sid, D.label_spec(habit.reader))
            for p in (path, path.with_name(path.name.replace(".nii.gz", ".json")),
                      path.with_name(path.name.replace(".nii.gz", ".tsv"))):
                Path(p).unlink(missing_ok=True)
            session = MaskSession.open(manifest, sid, habit.reader)
            if truth is None:
                truth = load_truth(manifest, sid, "t2w")["labels"]
            changed = simulate_reader(session, habit, truth)
            session.save()
            _, affine, side = D.read_map(manifest.derivatives, sid, D.label_spec(habit.reader))
            side.update({"SimulatedReader": _marker(manifest, sid, habit),
                         "SimulatedChanges": changed})
            D.write_map(manifest.derivatives, sid, D.label_spec(habit.reader),
                        session.labels, affine, sidecar={
                            k: v for k, v in side.items() if k not in ("Units",)})
            rows.append({"subject": sid, "reader": habit.reader, "computed": True,
                         **changed})
    return rows
