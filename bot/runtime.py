"""The running service's parts, wired once: settings, store, event bus and the plug-ins.

The API, the CLI, the Slack app, the runbook engine and the scheduler all take a `Runtime`
instead of building their own engine, so one process has one pool and one event bus.
`bot.wiring.create_runtime` builds one and installs the parts; this module knows none of them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.catalog import Catalog
from bot.config import Settings
from bot.events import EventBus

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    bus: EventBus
    parts: dict[str, Any] = field(default_factory=dict)
    # What mlresponder may read, connect to or change, per service (never the alert).
    catalog: Catalog = field(default_factory=Catalog)

    def start(self) -> None:
        """Start background parts (workers, scheduler). Idempotent."""
        for part in list(self.parts.values()):
            starter = getattr(part, "start", None)
            if callable(starter):
                starter()

    def close(self) -> None:
        for part in reversed(list(self.parts.values())):
            stopper = getattr(part, "stop", None)
            if callable(stopper):
                try:
                    stopper()
                except Exception:
                    log.exception("stopping %r failed", part)
        self.engine.dispose()

