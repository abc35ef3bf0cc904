"""What every benchmark prints beside its numbers: a target's verdict, a ratio's direction,
and how busy the machine was (imported by the benchmark scripts in this folder)."""

from __future__ import annotations

import os


def verdict(ok: bool) -> str:
    """'met' or 'NOT MET' for a target."""
    return "met" if ok else "NOT MET"


def way(ratio: float) -> str:
    """'N× faster' for a speed ratio ≥ 1, else 'N× slower' (never a ratio below 1)."""
    return f"{ratio:,.1f}× faster" if ratio >= 1 else f"{1 / ratio:,.1f}× slower"


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, as text."""
    try:
        return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unavailable"
