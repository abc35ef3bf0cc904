"""Fat-water separation of multi-echo gradient echo (chapter 3).

``signal`` is the forward model the phantom simulates with and the fit inverts.
"""

from ._model import signal

__all__ = ["signal"]
