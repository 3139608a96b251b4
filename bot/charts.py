"""Kept for older imports: the code lives in :mod:`bot.analytics.charts`."""

from bot.analytics.charts import *  # noqa: F403
