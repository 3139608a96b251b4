"""Kept for older imports: the code lives in :mod:`bot.analytics.tallies` and ``.stats``."""

from bot.analytics.stats import *  # noqa: F403
from bot.analytics.tallies import *  # noqa: F403
