"""Who is acting on a mitigation right now: the replica that holds its lock.

A mitigation is ``approved`` or ``executing`` only while some process carries it from the claim
to the recorded outcome. Whoever does holds the mitigation's lock for that whole time: on
PostgreSQL a session-level advisory lock on a connection of its own, so the lock lives exactly as
long as that process can reach the database. A replica killed mid-call (SIGKILL, OOM, a lost
host) closes its session and the server drops the lock with it. Resumption (`runbooks.executor`)
therefore settles only mitigations whose lock it can take: one held by a live replica is left
alone, one whose owner is gone is settled, once, by the one replica that took the lock.

Within a process the lock is re-entrant per thread (an approval holds it across claim and
execute) and exclusive between threads. SQLite is single-process, so the in-process record alone
says who acts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from bot.leader import session_lock

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

# First key of the two-key advisory lock space ("mlrm"); the second is the mitigation id. The
# two-key space does not overlap the one-key space of the scheduler election.
LOCK_CLASS = 0x6D6C726D

_held: dict[int, tuple[int, int]] = {}  # mitigation id -> (holding thread, depth)
_guard = threading.Lock()


def _enter(mitigation_id: int) -> bool | None:
    """True: this thread already holds it; None: free in this process (now reserved); False: taken."""
    me = threading.get_ident()
    with _guard:
        holder = _held.get(mitigation_id)
        if holder is None:
            _held[mitigation_id] = (me, 1)
            return None
        if holder[0] == me:
            _held[mitigation_id] = (me, holder[1] + 1)
            return True
        return False


def _leave(mitigation_id: int) -> None:
    with _guard:
        thread, depth = _held[mitigation_id]
        if depth > 1:
            _held[mitigation_id] = (thread, depth - 1)
        else:
            del _held[mitigation_id]


def held_here(mitigation_id: int) -> bool:
    with _guard:
        return mitigation_id in _held


@contextmanager
def owning(runtime: Runtime, mitigation_id: int) -> Iterator[bool]:
    """Hold the mitigation's lock for the block; yields False (and holds nothing) when another
    thread or another live replica holds it."""
    mitigation_id = int(mitigation_id)
    entered = _enter(mitigation_id)
    if entered is False:
        yield False
        return
    if entered is True:  # re-entered by the thread that holds it
        try:
            yield True
        finally:
            _leave(mitigation_id)
        return
    try:
        with session_lock(runtime.settings.database_url, LOCK_CLASS, mitigation_id, "mlresponder-mitigation") as got:
            yield got
    finally:
        _leave(mitigation_id)
