"""Observability: Prometheus metrics (:mod:`.metrics`) and logging set-up (:mod:`.logs`)."""

from bot.observability.logs import AccessLog, configure, set_worker
from bot.observability.metrics import Metrics, paused_channels

__all__ = ["AccessLog", "Metrics", "configure", "paused_channels", "set_worker"]
