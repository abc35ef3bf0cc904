"""Thin interactive views (ipywidgets) over library objects: score entry, mask QA.

Each widget wraps a session object that does the work and that tests drive without a
browser; the widget only shows it and forwards clicks. Nothing is imported until used, so
``import qmri_kernels.widgets`` does not pull in ipywidgets or Matplotlib: the submodules
(``scores``, ``mask_qa``) and every name in their ``__all__`` are loaded on first access,
e.g. ``qmri_kernels.widgets.ScoreEntryWidget``.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

_SUBMODULES = ("scores", "mask_qa")


def _submodule(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{name}":
            return None
        raise


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = _submodule(name)
        if module is not None:
            return module
    elif not name.startswith("_"):
        for sub in _SUBMODULES:
            module = _submodule(sub)
            if module is not None and name in getattr(module, "__all__", ()):
                return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES))
