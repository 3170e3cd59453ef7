"""Electing the replica that runs the scheduled jobs: a PostgreSQL advisory lock on a session of its own.

Every `serve` process tries `pg_try_advisory_lock` every `CHECK_EVERY` seconds on a connection
it keeps for this alone. The holder leads until that session ends: a replica that dies (even
with SIGKILL) closes its socket, PostgreSQL drops the lock at once, and a follower takes it at
its next attempt, well within 15 s. A leader checks its session at the same pace and stops
running jobs the moment it cannot reach the database, before the server has given the lock to
someone else (TCP keepalives make the server notice a vanished host within about 15 s), so two
replicas never run jobs at the same time. The lock is scoped to the database, so several
deployments can share one PostgreSQL server.

SQLite is single-process: there the one scheduler always leads.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bot.db import is_postgres, libpq_url

log = logging.getLogger(__name__)

# pg_advisory_lock key of the scheduler election ("mlrsched" in ASCII, as a signed bigint).
LOCK_KEY = 0x6D6C7273636865
CHECK_EVERY = 2.0
# libpq options of a lock's session: a dead peer (either side) is noticed in about 10-15 s.
_SESSION_OPTIONS: dict[str, Any] = {
    "connect_timeout": 5, "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
    "keepalives_count": 3, "tcp_user_timeout": 10000,
    "options": "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3",
}


def lock_session(database_url: str, application_name: str) -> Any:
    """A psycopg connection of its own, outside any pool, for holding session-level advisory locks:
    they last exactly as long as this process can reach the server (see `runbooks.ownership`)."""
    import psycopg

    return psycopg.connect(libpq_url(database_url), autocommit=True, application_name=application_name,
                           **_SESSION_OPTIONS)


@contextmanager
def session_lock(database_url: str, lock_class: int, key: int, application_name: str) -> Iterator[bool]:
    """Hold the advisory lock ``(lock_class, key)`` for the block, on a session of its own: yields
    False (holding nothing) when another session holds it. The lock ends with the block, or with
    the process (SIGKILL closes its socket and PostgreSQL drops the lock at once). On SQLite (one
    process) it yields True: callers keep their own in-process exclusion."""
    if not is_postgres(database_url):
        yield True
        return
    conn = lock_session(database_url, application_name)
    try:
        row = conn.execute("SELECT pg_try_advisory_lock(%s::int4, %s::int4)", (lock_class, key)).fetchone()
        yield bool(row and row[0])
    finally:
        try:
            conn.close()  # ends the session: the server releases the lock
        except Exception:
            log.debug("closing the lock session (%s, %s) failed", lock_class, key, exc_info=True)


def identity() -> str:
    """How a replica names itself in the log: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Leadership:
    def __init__(self, database_url: str, *, on_elected: Callable[[], None], on_deposed: Callable[[], None],
                 on_tick: Callable[[], None] | None = None, check_every: float = CHECK_EVERY,
                 key: int = LOCK_KEY) -> None:
        self.database_url = database_url
        self.on_elected, self.on_deposed, self.on_tick = on_elected, on_deposed, on_tick
        self.check_every = check_every
        self.key = key
        self.leader = False
        self._announced = False
        self.single = not is_postgres(database_url)
        self._conn: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.single:
            self._become(True, "SQLite is single-process: this process runs the scheduled jobs")
            return
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="scheduler-election", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if self.leader:
            self._become(False, "shutting down: another replica takes over")
        self._close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
                if self.on_tick is not None:
                    self.on_tick()
            except Exception:  # the election must outlive anything a callback or the database does
                log.exception("scheduler election step failed")
            self._stop.wait(self.check_every)

    def step(self) -> None:
        """One attempt (follower) or one liveness check (leader)."""
        if self.leader:
            if not self._alive():
                self._close()
                self._become(False, "lost its database session; it stops running jobs")
            return
        if self._try_lock():
            self._become(True, "holds the scheduler lock: it runs the scheduled jobs")
        elif not self._announced:
            self._announced = True  # said once; a change of role is logged by `_become`
            log.info("scheduler: replica %s follows (another replica holds the scheduler lock)", identity())

    def _try_lock(self) -> bool:
        import psycopg

        try:
            if self._conn is None or self._conn.closed:
                self._conn = lock_session(self.database_url, "mlresponder-scheduler-election")
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        except psycopg.Error as exc:
            log.warning("scheduler election: database unreachable (%s); retrying", type(exc).__name__)
            self._close()
            return False
        return bool(row and row[0])

    def _alive(self) -> bool:
        import psycopg

        try:
            self._conn.execute("SELECT 1").fetchone()
        except (psycopg.Error, AttributeError):
            return False
        return True

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()  # ends the session: PostgreSQL releases the lock
            except Exception:
                log.debug("closing the election session failed", exc_info=True)

    def _become(self, leader: bool, why: str) -> None:
        self.leader = leader
        self._announced = True
        role = "leads" if leader else "follows"
        log.info("scheduler: replica %s %s (%s)", identity(), role, why)
        (self.on_elected if leader else self.on_deposed)()
