"""The network's classes and the phantom's label indices, one table.

The network predicts 27 classes: background, the four non-muscle labels (subcutaneous fat
and skin, femoral cortex, marrow, intermuscular fat) and the eleven thigh muscles on each
side (:mod:`qmri_kernels.labels`). Class ``c`` is label ``CLASS_LABELS[c]``; the
muscles are side-specific classes, so the right and left rectus femoris are different
outputs (the image's left and right are fixed by the affine, see
:func:`qmri_kernels.segment.canonical_orientation`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..labels import LABELS, label_by_index

__all__ = ["CLASS_LABELS", "N_CLASSES", "labels_to_classes", "classes_to_labels",
           "class_names"]

#: Label index of each class; class 0 is background.
CLASS_LABELS: tuple[int, ...] = (0,) + tuple(lab.index for lab in LABELS)
#: Number of network outputs.
N_CLASSES: int = len(CLASS_LABELS)

_LUT_SIZE = max(CLASS_LABELS) + 1
_LABEL_TO_CLASS = np.full(_LUT_SIZE, -1, dtype=np.int64)
_LABEL_TO_CLASS[list(CLASS_LABELS)] = np.arange(N_CLASSES)
_CLASS_TO_LABEL = np.asarray(CLASS_LABELS, dtype=np.int16)


def labels_to_classes(labels: Any) -> np.ndarray:
    """Map label indices (phantom label table) to class indices 0..N_CLASSES-1.

    Parameters
    ----------
    labels : array-like of int
        Any shape.

    Returns
    -------
    ndarray of int64, same shape
        Class indices (position of the label in :data:`CLASS_LABELS`).

    Raises
    ------
    ValueError
        If a value is not a label of the table (naming the offending values), or a float
        array holds non-integer or non-finite values.
    """
    lab = np.asarray(labels)
    if not np.issubdtype(lab.dtype, np.integer):
        if not np.all(np.isfinite(lab)) or np.any(lab != np.rint(lab)):
            raise ValueError("labels must hold integer label indices")
        lab = lab.astype(np.int64)
    bad = (lab < 0) | (lab >= _LUT_SIZE)
    out = np.full(lab.shape, -1, dtype=np.int64)
    out[~bad] = _LABEL_TO_CLASS[lab[~bad]]
    if np.any(out < 0):
        vals = np.unique(lab[out < 0])[:10]
        raise ValueError(f"labels contain values that are not in the label table: "
                         f"{vals.tolist()}; known labels: {list(CLASS_LABELS)}")
    return out


def classes_to_labels(classes: Any) -> np.ndarray:
    """Map class indices back to label indices (int16).

    Parameters
    ----------
    classes : array-like of int
        Class indices 0..N_CLASSES-1 (e.g. the argmax of the network's logits), any shape.

    Returns
    -------
    ndarray of int16, same shape
        :mod:`qmri_kernels.labels` indices (``CLASS_LABELS[c]``); class 0 → 0
        (background).

    Raises
    ------
    ValueError
        If a class index is outside 0..N_CLASSES-1.
    """
    cls = np.asarray(classes)
    if cls.size and (cls.min() < 0 or cls.max() >= N_CLASSES):
        raise ValueError(f"class indices must lie in 0..{N_CLASSES - 1}, got "
                         f"{int(cls.min())}..{int(cls.max())}")
    return _CLASS_TO_LABEL[cls]


def class_names() -> list[str]:
    """Abbreviation of each class (``"BG"``, ``"SCF"``, ..., ``"RF_R"``, ..., ``"SM_L"``).

    Returns
    -------
    list of str
        :data:`N_CLASSES` names, index = class; ``"BG"`` for background, else the label
        table's abbreviation.

    Examples
    --------
    >>> class_names()[:2], class_names()[5], len(class_names())
    (['BG', 'SCF'], 'RF_R', 27)
    """
    return ["BG"] + [label_by_index(i).abbreviation for i in CLASS_LABELS[1:]]
