import numpy as np
import pytest

from qmri_kernels.labels import LABELS, label_index
from qmri_kernels.segment import (CLASS_LABELS, N_CLASSES, class_names, classes_to_labels,
                                  labels_to_classes)


def test_table_covers_background_and_every_label_once():
    assert N_CLASSES == 27 == len(set(CLASS_LABELS))
    assert CLASS_LABELS[0] == 0 and set(CLASS_LABELS[1:]) == {lab.index for lab in LABELS}
    names = class_names()
    assert names[0] == "BG" and names[CLASS_LABELS.index(label_index("RF", "left"))] == "RF_L"


def test_round_trip():
    labels = np.array([[0, 1, 4], [11, 21, 31], [41, 3, 2]], dtype=np.int16)
    classes = labels_to_classes(labels)
    assert classes.max() < N_CLASSES and classes.min() >= 0
    np.testing.assert_array_equal(classes_to_labels(classes), labels)
    np.testing.assert_array_equal(labels_to_classes(labels.astype(float)), classes)


def test_unknown_values_raise():
    with pytest.raises(ValueError, match=r"not in the label table: \[5, 22\]"):
        labels_to_classes(np.array([0, 5, 22, 11]))
    with pytest.raises(ValueError, match="integer"):
        labels_to_classes(np.array([0.5]))
    with pytest.raises(ValueError, match="0..26"):
        classes_to_labels(np.array([27]))
