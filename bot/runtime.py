"""The running service's parts, wired once: settings, store, event bus and the plug-ins.

The API, the CLI, the Slack app, the runbook engine and the scheduler all take a `Runtime`
instead of building their own engine, so one process has one pool and one event bus.
`bot.wiring.create_runtime` builds one and installs the parts; this module knows none of them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.catalog import Catalog
from bot.config import Settings
from bot.events import EventBus

log = logging.getLogger(__name__)

T = TypeVar("T")


class Parts:
    """The installed parts, each found by its type: ``runtime.parts[ChatPart]`` is a `ChatPart`.

    Keyed by class rather than by a name, so every lookup is type-checked and a typo is an
    import error; core code knows no part, each caller imports the class it asks for. A part
    may stand under a base class (``parts[ModelRegistry] = MlflowRegistry(...)``).
    """

    def __init__(self) -> None:
        self._by_type: dict[type, object] = {}

    def __setitem__(self, key: type[T], part: T) -> None:
        if not isinstance(part, key):
            raise TypeError(f"{type(part).__name__} cannot stand for {key.__name__}")
        self._by_type[key] = part

    def __getitem__(self, key: type[T]) -> T:
        found = self.get(key)
        if found is None:
            raise LookupError(f"no {key.__name__} in this runtime")
        return found

    def get(self, key: type[T]) -> T | None:
        found = self._by_type.get(key)
        return found if isinstance(found, key) else None

    def setdefault(self, key: type[T], part: T) -> T:
        """The installed part of that type, installing ``part`` when there is none."""
        found = self.get(key)
        if found is None:
            self[key] = part
            return part
        return found

    def pop(self, key: type[T]) -> T | None:
        found = self.get(key)
        self._by_type.pop(key, None)
        return found

    def __contains__(self, key: object) -> bool:
        return key in self._by_type

    def values(self) -> list[object]:
        """Parts in the order they were installed."""
        return list(self._by_type.values())


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    bus: EventBus
    parts: Parts = field(default_factory=Parts)
    # What mlresponder may read, connect to or change, per service (never the alert).
    catalog: Catalog = field(default_factory=Catalog)

    def start(self) -> None:
        """Start background parts (workers, scheduler). Idempotent."""
        for part in self.parts.values():
            starter = getattr(part, "start", None)
            if callable(starter):
                starter()

    def close(self) -> None:
        for part in reversed(self.parts.values()):
            stopper = getattr(part, "stop", None)
            if callable(stopper):
                try:
                    stopper()
                except Exception:
                    log.exception("stopping %r failed", part)
        self.engine.dispose()
