"""The histopathology score sheet: the ten items and the 0–4 Likert scale.

Wang et al. 2023 had two neuropathologists (R3, R4), blinded to each other and to MRI, score
every biopsy on a 5-point Likert scale, "0 normal, 1 minor changes, 2 mild changes,
3 moderate changes, 4 severe changes", for ten histochemical and immunohistochemical
findings. :data:`ITEMS` are their names as stored (snake case, in the paper's order),
:data:`ITEM_LABELS` their names for people and :data:`SCALE` the words of each score.

References
----------
.. [1] Wang F, Fang S, Li J, et al. (2023) Correlation analysis of quantitative MRI
   measurements of thigh muscles with histopathology in patients with idiopathic
   inflammatory myopathy. Eur Radiol Exp 7:45. doi:10.1186/s41747-023-00350-z
"""

from __future__ import annotations

__all__ = ["ITEMS", "ITEM_LABELS", "SCALE", "SCORE_MIN", "SCORE_MAX", "DEFAULT_READERS"]

#: The ten scored findings, in the paper's order (stored names).
ITEMS: tuple[str, ...] = (
    "myofiber_size_variation", "necrosis", "inflammatory_cells", "connective_tissue", "fat",
    "acp", "cd4", "cd68", "mhc1", "complement",
)

#: Item name → name shown to readers.
ITEM_LABELS: dict[str, str] = {
    "myofiber_size_variation": "Myofiber size variation",
    "necrosis": "Necrotic fibers",
    "inflammatory_cells": "Inflammatory cells",
    "connective_tissue": "Connective tissue",
    "fat": "Fat tissue",
    "acp": "Acid phosphatase (ACP)",
    "cd4": "CD4",
    "cd68": "CD68",
    "mhc1": "MHC-1",
    "complement": "Complement (C5b-9)",
}

#: Score → its word on the Likert scale of Wang et al. 2023.
SCALE: dict[int, str] = {0: "normal", 1: "minor", 2: "mild", 3: "moderate", 4: "severe"}

#: Lowest and highest score.
SCORE_MIN, SCORE_MAX = 0, 4

#: The two blinded pathologists whose scores are compared (Wang et al. 2023).
DEFAULT_READERS: tuple[str, str] = ("R3", "R4")
