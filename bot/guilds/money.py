"""Amounts of money as members read them."""

from __future__ import annotations


def usd(value: float) -> str:
    """``value`` dollars with cents, or tenths of cents below one dollar (a video costs
    cents), without the sign: ``12.50``, ``0.115``."""
    if value == 0 or abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"
