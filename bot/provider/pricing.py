"""What the provider charges (USD per second of output video, from its price list)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

HEAD_USD_PER_SECOND = 0.011469  # 1:1 (512×512)
HALF_BODY_USD_PER_SECOND = 0.022937  # 3:4 (512×704)


class Prices(BaseModel):
    """USD per second of video for each framing (``EMO_PRICE_*`` settings)."""

    model_config = ConfigDict(frozen=True)

    head_usd_per_second: float = Field(default=HEAD_USD_PER_SECOND, ge=0)
    half_body_usd_per_second: float = Field(default=HALF_BODY_USD_PER_SECOND, ge=0)

    def per_second(self, ratio: str) -> float:
        if ratio == "1:1":
            return self.head_usd_per_second
        if ratio == "3:4":
            return self.half_body_usd_per_second
        raise KeyError(ratio)

    def cost(self, seconds: float, ratio: str) -> float:
        """The charge for ``seconds`` of video at ``ratio``."""
        return round(seconds * self.per_second(ratio), 6)


DEFAULT_PRICES = Prices()
