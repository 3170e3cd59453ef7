"""The outbox worker: sends queued chat operations in order, retrying until they get through.

Rows with the same key (one incident's channel, the alerts channel) go strictly in id
order: a row waits while an earlier one of its key is backing off. Rate limits are honoured
(`Retry-After`), server errors and outages back off exponentially, and a row is marked sent
only after the chat system accepted it, so after an outage everything is delivered once.
Run one worker per outbox (like the scheduler): two processes would race for the same rows.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.chat.delivery import BENIGN_ERRORS, Delivery, Outcome, RowRef
from bot.chat.models import FAILED, PENDING, SENDING, SENT, SUPERSEDED, OutboxMessage
from bot.chat.port import FinalChatError, RetryableChatError
from bot.db import transaction, utcnow

log = logging.getLogger(__name__)

# A bug in an operation (not a chat error) is retried this often before the row is given up.
MAX_UNEXPECTED_ATTEMPTS = 5
# Delivered rows are kept this long (for inspection), then deleted; the timeline keeps the history.
KEEP_DELIVERED = timedelta(days=7)
PURGE_EVERY_SECONDS = 3600.0
# Longer than any chat call can take (the Slack client times out after 10 s).
STALE_SENDING = timedelta(minutes=2)


class OutboxWorker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        delivery: Delivery,
        *,
        poll_interval: float = 1.0,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        batch: int = 500,
    ) -> None:
        self.sessions = sessions
        self.delivery = delivery
        self.poll_interval = poll_interval
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.batch = batch
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._recover_interrupted()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="chat-outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def _recover_interrupted(self) -> int:
        """Rows left 'sending' long ago (a process died mid-call) are tried again: at-least-once there.

        A row is 'sending' only for the length of one chat call, so one still 'sending' after
        `STALE_SENDING` was abandoned; a younger one may belong to a live worker and is left alone.
        """
        with transaction(self.sessions) as s:
            result = s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == SENDING, OutboxMessage.next_attempt_at < utcnow() - STALE_SENDING)
                .values(status=PENDING)
            )
        return int(cast(CursorResult[Any], result).rowcount or 0)

    def purge(self, older_than: timedelta = KEEP_DELIVERED) -> int:
        """Delete rows delivered (or given up) before `older_than` ago; pending rows are never touched."""
        with transaction(self.sessions) as s:
            result = s.execute(
                delete(OutboxMessage).where(
                    OutboxMessage.status.in_((SENT, FAILED, SUPERSEDED)),
                    OutboxMessage.created_at < utcnow() - older_than,
                )
            )
        return int(cast(CursorResult[Any], result).rowcount or 0)

    def _loop(self) -> None:
        last_purge = float("-inf")
        while not self._stop.is_set():
            if time.monotonic() - last_purge > PURGE_EVERY_SECONDS:
                last_purge = time.monotonic()
                try:
                    self.purge()
                    self._recover_interrupted()
                except Exception:
                    log.exception("outbox housekeeping failed")
            try:
                sent, next_due = self.run_once()
            except Exception:  # the worker must outlive a database hiccup
                log.exception("chat outbox pass failed")
                sent, next_due = 0, self.poll_interval
            if sent:
                continue
            self._idle.set()
            self._wake.wait(timeout=min(self.poll_interval, max(0.01, next_due)))
            self._wake.clear()
            self._idle.clear()

    # -- one pass ----------------------------------------------------------------------------
    def run_once(self) -> tuple[int, float]:
        """Send every row that is due and first in its key; returns (rows handled, seconds to next due)."""
        now = utcnow()
        with transaction(self.sessions) as s:
            # The first unsent row of each key: only it may go; later rows of its key wait for it.
            first_ids = (
                select(func.min(OutboxMessage.id))
                .where(OutboxMessage.status.in_((PENDING, SENDING)))
                .group_by(OutboxMessage.key)
            )
            heads: Sequence[OutboxMessage] = s.scalars(
                select(OutboxMessage).where(OutboxMessage.id.in_(first_ids)).order_by(OutboxMessage.id)
                .limit(self.batch)
            ).all()
            due = [RowRef.of(r) for r in heads if r.status == PENDING and r.next_attempt_at <= now]
            waits = [(r.next_attempt_at - now).total_seconds() for r in heads if r.next_attempt_at > now]
            superseded = {
                ref.id for ref in due if ref.op == "update_card" and s.scalar(
                    select(OutboxMessage.id).where(
                        OutboxMessage.key == ref.key, OutboxMessage.op == "update_card",
                        OutboxMessage.id > ref.id, OutboxMessage.status == PENDING,
                    ).limit(1)
                ) is not None
            }
        handled = 0
        for ref in due:
            if self._stop.is_set():
                break
            if ref.id in superseded:
                # A later update of the same card renders the then-current state: this one is moot.
                self._finish(ref, SUPERSEDED, None)
                handled += 1
                continue
            if self._send(ref):
                handled += 1
        return handled, (min(waits) if waits else self.poll_interval)

    def _claim(self, ref: RowRef) -> bool:
        with transaction(self.sessions) as s:
            result = s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == ref.id, OutboxMessage.status == PENDING)
                .values(status=SENDING, attempts=OutboxMessage.attempts + 1, next_attempt_at=utcnow())
            )
        return bool(cast(CursorResult[Any], result).rowcount)

    def _send(self, ref: RowRef) -> bool:
        if not self._claim(ref):
            return False
        attempt = ref.attempts + 1
        try:
            with transaction(self.sessions) as s:
                ctx = self.delivery.load(s, ref)
            outcome = self.delivery.call(ref, ctx)
        except RetryableChatError as exc:
            delay = exc.retry_after if exc.retry_after is not None else self._backoff(attempt)
            log.warning("chat %s (row %s) failed, retrying in %.1fs: %s", ref.op, ref.id, delay, exc)
            self._retry_later(ref, delay, str(exc))
            return True
        except FinalChatError as exc:
            if exc.code in BENIGN_ERRORS:  # e.g. already_in_channel: what the row wanted is true
                self._finish(ref, SENT, None, {"benign": exc.code})
                return True
            log.warning("chat %s (row %s) refused: %s", ref.op, ref.id, exc)
            with transaction(self.sessions) as s:
                self._mark(s, ref, FAILED, {"error": exc.code}, str(exc))
                self.delivery.note_failure(s, ref, exc)
            return True
        except Exception as exc:
            log.exception("chat %s (row %s) crashed", ref.op, ref.id)
            if attempt >= MAX_UNEXPECTED_ATTEMPTS:
                self._finish(ref, FAILED, f"{type(exc).__name__}: {exc}")
            else:
                self._retry_later(ref, self._backoff(attempt), f"{type(exc).__name__}: {exc}")
            return True
        if outcome.defer:
            # Waiting for an earlier row of another key (the channel): not an attempt.
            with transaction(self.sessions) as s:
                s.execute(
                    update(OutboxMessage).where(OutboxMessage.id == ref.id).values(
                        status=PENDING, attempts=OutboxMessage.attempts - 1,
                        next_attempt_at=utcnow() + timedelta(seconds=min(self.base_delay, 1.0)),
                    )
                )
            return False
        self._record_sent(ref, outcome)
        return True

    def _record_sent(self, ref: RowRef, outcome: Outcome) -> None:
        """Slack has the message: record it, insisting, so a database hiccup does not make it go twice."""
        for attempt in range(5):
            try:
                with transaction(self.sessions) as s:
                    self._mark(s, ref, SENT, outcome.result, None)
                    self.delivery.apply(s, ref, outcome)
                return
            except Exception:
                log.exception("recording chat %s (row %s) as sent failed (attempt %d)", ref.op, ref.id, attempt + 1)
                time.sleep(0.2 * (attempt + 1))
        # Left 'sending': housekeeping retries it later (it may then be posted a second time).

    def _backoff(self, attempt: int) -> float:
        delay = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        return delay * random.uniform(0.8, 1.0)

    def _retry_later(self, ref: RowRef, delay: float, error: str) -> None:
        with transaction(self.sessions) as s:
            s.execute(
                update(OutboxMessage).where(OutboxMessage.id == ref.id).values(
                    status=PENDING, next_attempt_at=utcnow() + timedelta(seconds=delay), last_error=error[:2000],
                )
            )

    def _finish(self, ref: RowRef, status: str, error: str | None, result: dict[str, Any] | None = None) -> None:
        with transaction(self.sessions) as s:
            self._mark(s, ref, status, result, error)

    @staticmethod
    def _mark(s: Session, ref: RowRef, status: str, result: dict[str, Any] | None, error: str | None) -> None:
        values: dict[str, Any] = {"status": status, "last_error": error[:2000] if error else None}
        if result is not None:
            values["result"] = result
        if status == SENT:
            values["sent_at"] = utcnow()
        s.execute(update(OutboxMessage).where(OutboxMessage.id == ref.id).values(**values))

    # -- waiting (CLI one-shots and tests) -------------------------------------------------------
    def pending(self) -> int:
        with transaction(self.sessions) as s:
            return len(s.scalars(
                select(OutboxMessage.id).where(OutboxMessage.status.in_((PENDING, SENDING)))
            ).all())

    def drain(self, timeout: float = 30.0) -> bool:
        """Block until nothing is pending (sending in this thread if the worker is not running)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._thread is None:
                sent, next_due = self.run_once()
                if not sent and self.pending() and next_due > 0:
                    time.sleep(min(next_due, 0.05))
            else:
                self.wake()
                time.sleep(0.02)
            if not self.pending():
                return True
        return False
