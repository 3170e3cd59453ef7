"""Work a caller is waiting for goes before this process's background work.

An alert delivery holds an HTTP request open (Alertmanager waits, and times out) until it is
committed; a chat message can go out a moment later. Both run on threads of one process and share
one GIL (and, on SQLite, one writer slot): during an alert storm the chat outbox rendering cards
and recording deliveries took half the process's time, and the slowest alert answers came
exactly while it did. The intake writer counts the deliveries it holds (`enter` / `leave`);
background workers call `wait_idle` before each unit of work, which waits until none is held,
for at most a bounded time: a storm slows the chat down (its lines and cards coalesce, see
`bot.chat.outbox`), never stops it.
"""

from __future__ import annotations

import threading


class Foreground:
    """A runtime part: ``runtime.parts.setdefault(Foreground, Foreground())``."""

    def __init__(self) -> None:
        self._idle = threading.Condition(threading.Lock())
        self._held = 0

    @property
    def held(self) -> int:
        """Foreground units (alert deliveries) queued or in flight now."""
        return self._held

    def enter(self, count: int = 1) -> None:
        with self._idle:
            self._held += count

    def leave(self, count: int = 1) -> None:
        with self._idle:
            self._held = max(0, self._held - count)
            if not self._held:
                self._idle.notify_all()

    def wait_idle(self, limit: float) -> bool:
        """Wait until no foreground work is held, at most ``limit`` seconds; whether it is idle."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._held, timeout=limit)
