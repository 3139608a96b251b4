"""What every settings section shares: strict keys (an unknown key stops start-up), the
environment prefix, the demo database.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
)

ENV_PREFIX = "SURVEYBOT_"


CONFIG_ENV = "SURVEYBOT_CONFIG"


# Without a configuration file every command (demo, serve, import, report, staff…) uses the
# built-in demo settings and this database, so what is imported shows in the running demo.
DEMO_DATABASE_URL = "sqlite://survey-bot-demo.sqlite3"


class ConfigError(Exception):
    """The configuration cannot be used; the message says what and where."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _hhmm(v: Any) -> Any:
    if isinstance(v, str) and not re.fullmatch(r"\d{1,2}:\d{2}", v):
        raise ValueError("use HH:MM, e.g. \"10:00\"")
    return v
