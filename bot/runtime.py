"""The running service's parts, wired once: settings, store, event bus and the plug-ins.

The API, the CLI, the Slack app, the runbook engine and the scheduler all take a `Runtime`
instead of building their own engine, so one process has one pool and one event bus.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.db import make_engine, make_session_factory, upgrade
from bot.events import EventBus

log = logging.getLogger(__name__)

# Optional parts, installed in this order when their module exists. Each exposes
# ``install(runtime) -> None`` and registers itself in ``runtime.parts`` and/or on the bus.
PART_INSTALLERS: tuple[str, ...] = (
    "bot.scheduler",
    "bot.updates",
    "bot.chat.setup",
    "runbooks.setup",
    "bot.monitors.setup",
    "postmortems.setup",
)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    bus: EventBus
    parts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: Settings, *, migrate: bool = True, install_parts: bool = True) -> Runtime:
        if migrate:
            upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        sessions = make_session_factory(engine)
        bus = EventBus()
        bus.attach(sessions)
        runtime = cls(settings=settings, engine=engine, sessions=sessions, bus=bus)
        if install_parts:
            for module_name in PART_INSTALLERS:
                if not _module_exists(module_name):
                    continue
                importlib.import_module(module_name).install(runtime)
        return runtime

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


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # the parent package is not there either
        return False
