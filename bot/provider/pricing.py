"""What the provider charges (USD per second of output video, from its price list)."""

from __future__ import annotations

USD_PER_SECOND = {"1:1": 0.011469, "3:4": 0.022937}


def cost_usd(video_seconds: float, ratio: str) -> float:
    """The charge for ``video_seconds`` of video at ``ratio``."""
    return round(video_seconds * USD_PER_SECOND[ratio], 6)
