"""Thigh-muscle segmentation of axial T2-weighted images with a 2-D U-Net (chapter 5).

- :func:`segment_t2w` / :class:`Segmenter`: labels (the label table
  :mod:`qmri_kernels.labels`, side-specific muscles) for a T2-weighted volume and its
  affine, with the shipped weights or a user's;
- :func:`keep_largest_component`, :func:`fill_holes`, :func:`postprocess`: clean-up;
- the shipped weights were trained on fresh simulated subjects by
  ``python -m qmri_kernels.phantom.train_segmenter`` (the training data come from the
  simulated scanner, so the training program lives beside it);
- :func:`dice`, :func:`dice_per_label`: overlap with a reference.
"""

from .classes import CLASS_LABELS, N_CLASSES, class_names, classes_to_labels, labels_to_classes
from .inference import (DEFAULT_WEIGHTS, Segmenter, WeightsError, load_segmenter, read_sidecar,
                        segment_t2w)
from .metrics import dice, dice_per_label
from .network import UNet, count_parameters
from .postprocess import MUSCLE_LABELS, fill_holes, keep_largest_component, postprocess
from .preprocess import NETWORK_INPUT, network_input, normalise_volume

__all__ = ["segment_t2w", "Segmenter", "load_segmenter", "read_sidecar", "WeightsError",
           "DEFAULT_WEIGHTS", "keep_largest_component", "fill_holes", "postprocess",
           "MUSCLE_LABELS", "dice", "dice_per_label", "UNet", "count_parameters",
           "CLASS_LABELS", "N_CLASSES", "class_names", "labels_to_classes",
           "classes_to_labels", "NETWORK_INPUT", "network_input", "normalise_volume"]
