"""Operations: Prometheus metrics and the internal /healthz, /readyz, /metrics server."""

from bot.ops.metrics import Metrics
from bot.ops.server import OpsServer

__all__ = ["Metrics", "OpsServer"]
