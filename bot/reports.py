"""Kept for older imports: the code lives in :mod:`bot.analytics.reports`."""

from bot.analytics.reports import *  # noqa: F403
