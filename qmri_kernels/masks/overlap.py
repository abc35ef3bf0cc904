"""Overlap of two readers' labels: Dice per muscle, per subject.

Two readers correct the network's labels independently (mask QA,
:class:`~qmri_kernels.masks.MaskSession`); how much their muscles overlap afterwards is the
Dice coefficient of each label,

    Dice = 2 |A ∩ B| / (|A| + |B|)

(Dice 1945), A and B the voxels that carry the label in one reader's and in the other's
volume: 1 when they agree voxel for voxel, 0 when they share none. Dice counts voxels, not
the values measured inside them; how far the readers' measurements differ is a separate
question (:func:`qmri_kernels.stats.bland_altman.bland_altman`).

:func:`label_dice` works on two arrays; :func:`reader_dice_table` reads the readers' saved
labels (``labels_<reader>`` on the T2-weighted grid, ``labels_auto`` for the network) from
the manifest's derivatives and tabulates every muscle of every subject.

References
----------
- Dice LR (1945). Measures of the amount of ecologic association between species. Ecology
  26(3):297–302. doi:10.2307/1932409
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import derivatives as D
from ..labels import label_by_index, label_index, muscle_labels
from .geometry import GridMismatchError, check_same_grid

__all__ = ["label_dice", "reader_dice_table", "DICE_COLUMNS"]

#: Columns of :func:`reader_dice_table`.
DICE_COLUMNS: tuple[str, ...] = ("subject", "reader_a", "reader_b", "muscle", "side",
                                 "label", "dice", "n_voxels_a", "n_voxels_b", "biopsied",
                                 "contralateral")
_MUSCLE_INDICES = tuple(sorted(lab.index for lab in muscle_labels()))


def label_dice(a: np.ndarray, b: np.ndarray, labels: Iterable[int] | None = None
               ) -> dict[int, tuple[float, int, int]]:
    """Dice overlap of each label between two label volumes of the same grid.

    Parameters
    ----------
    a, b : (nx, ny, nz) array-like of int
        Label volumes (indices of :data:`qmri_kernels.labels.LABELS`, 0 background) on the
        same voxels.
    labels : iterable of int, optional
        Label indices to compare. Default: every muscle label present in ``a`` or ``b``.

    Returns
    -------
    dict of int to (float, int, int)
        Label index → (Dice, voxels in ``a``, voxels in ``b``). Dice is NaN for a label
        present in neither.

    Raises
    ------
    GridMismatchError
        If the shapes differ.

    Examples
    --------
    >>> a = np.zeros((4, 4, 1), int); b = a.copy()
    >>> a[:2, :2] = 31; b[:2, :3] = 31           # 4 voxels and 6 voxels, 4 shared
    >>> label_dice(a, b)
    {31: (0.8, 4, 6)}
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise GridMismatchError(f"label volumes differ in shape: {a.shape} and {b.shape}")
    fa, fb = a.reshape(-1).astype(np.int64), b.reshape(-1).astype(np.int64)
    size = int(max(fa.max(initial=0), fb.max(initial=0))) + 1
    n_a = np.bincount(fa, minlength=size)
    n_b = np.bincount(fb, minlength=size)
    n_both = np.bincount(fa[fa == fb], minlength=size)
    if labels is None:
        wanted = [i for i in _MUSCLE_INDICES if i < size and (n_a[i] or n_b[i])]
    else:
        wanted = [int(i) for i in labels]
    out = {}
    for i in wanted:
        na = int(n_a[i]) if i < size else 0
        nb = int(n_b[i]) if i < size else 0
        both = int(n_both[i]) if i < size else 0
        out[i] = (2.0 * both / (na + nb) if na + nb else float("nan"), na, nb)
    return out


def _reader_labels(manifest: Any, subject: str, reader: str) -> tuple[np.ndarray, np.ndarray]:
    root = manifest.derivatives
    spec = D.label_spec(reader)
    if not D.map_exists(root, subject, spec):
        raise FileNotFoundError(f"{D.map_path(root, subject, spec).name}: reader {reader} has "
                                f"no saved labels for sub-{subject}")
    data, affine, _ = D.read_map(root, subject, spec)
    return np.asarray(data), np.asarray(affine)


def reader_dice_table(manifest: Any, pairs: Sequence[tuple[str, str]] = (("R1", "R2"),),
                      subjects: Iterable[str] | None = None) -> pd.DataFrame:
    """Dice of every muscle between pairs of readers, for every subject (a tidy table).

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        The cohort: derivative root, subjects, biopsy site.
    pairs : sequence of (str, str)
        Reader pairs, e.g. ``[("R1", "R2"), ("auto", "R1")]``; ``"auto"`` is the network.
        Each reader's labels are read once per subject.
    subjects : iterable of str, optional
        Default: every subject of the manifest.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DICE_COLUMNS`: one row per subject × pair × muscle label present in
        either volume; ``muscle`` the abbreviation (``"RF"``), ``side`` left/right,
        ``biopsied`` / ``contralateral`` flagged from the manifest; ``subject`` a string.

    Raises
    ------
    FileNotFoundError
        If a reader has no saved labels for a subject (the message names the file).
    GridMismatchError
        If two readers' labels of a subject lie on different grids.
    """
    entries = [manifest.subject(s) for s in (subjects if subjects is not None
                                             else [s.id for s in manifest.subjects])]
    rows = []
    for entry in entries:
        cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        biopsied = label_index(entry.biopsy_muscle, entry.biopsy_side)
        twin = label_index(entry.biopsy_muscle, entry.contralateral_side)
        for ra, rb in pairs:
            for r in (ra, rb):
                if r not in cache:
                    cache[r] = _reader_labels(manifest, entry.id, r)
            (la, aa), (lb, ab) = cache[ra], cache[rb]
            check_same_grid(la.shape, aa, lb.shape, ab, name_a=f"labels_{ra}",
                            name_b=f"labels_{rb}")
            for idx, (dice, na, nb) in label_dice(la, lb).items():
                lab = label_by_index(idx)
                rows.append({"subject": entry.id, "reader_a": ra, "reader_b": rb,
                             "muscle": lab.abbreviation.split("_")[0], "side": lab.side,
                             "label": idx,
                             "dice": dice, "n_voxels_a": na, "n_voxels_b": nb,
                             "biopsied": idx == biopsied, "contralateral": idx == twin})
    return pd.DataFrame(rows, columns=list(DICE_COLUMNS))
