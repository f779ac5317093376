"""What every route needs: the LogStore and the config, hung on ``app.state.lokipy``."""

from __future__ import annotations

from dataclasses import dataclass, field

from lokipy.config import Config
from lokipy.logstore import LogStore


@dataclass(slots=True)
class AppState:
    logstore: LogStore
    config: Config
    ready: bool = True
    started_ns: int = 0
    extra: dict[str, object] = field(default_factory=dict)
