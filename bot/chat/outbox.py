"""The outbox worker: sends queued chat operations in order, retrying until they get through.

Rows with the same key (one incident's channel, the alerts channel) go strictly in id
order: a row waits while an earlier one of its key is backing off. Rate limits are honoured
(`Retry-After`), server errors and outages back off exponentially, and a row is marked sent
only after the chat system accepted it, so after an outage everything is delivered once.
Any number of replicas may run a worker on one PostgreSQL outbox: rows are claimed with
``FOR UPDATE SKIP LOCKED`` (see `_claim_heads`), so each goes out once, in order per key.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import JSON, CursorResult, Integer, Table, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.chat.delivery import BENIGN_ERRORS, Delivery, Outcome, RowRef
from bot.chat.flows import COALESCED_KINDS
from bot.chat.models import FAILED, PENDING, SENDING, SENT, SUPERSEDED, OutboxMessage
from bot.chat.port import FinalChatError, RetryableChatError
from bot.db import UTCDateTime, read_transaction, transaction, utcnow
from bot.foreground import Foreground
from bot.models import TimelineEvent

log = logging.getLogger(__name__)

# A bug in an operation (not a chat error) is retried this often before the row is given up.
MAX_UNEXPECTED_ATTEMPTS = 5
# Delivered rows are kept this long (for inspection), then deleted; the timeline keeps the history.
KEEP_DELIVERED = timedelta(days=7)
PURGE_EVERY_SECONDS = 3600.0
# At most this many alert lines, and this many characters of them, go out as one message.
COALESCE_MAX = 20
COALESCE_CHARS = 2000
# Longer than any chat call can take (the Slack client times out after 10 s).
STALE_SENDING = timedelta(minutes=2)
# At most this long before each pass and each message while alert deliveries are in flight: during
# a storm the chat sends at most some 30 messages per second (each carrying up to `COALESCE_MAX`
# alert lines, cards superseded by the latest), and the GIL goes to the requests meanwhile.
YIELD_SECONDS = 0.025


_TABLE = cast(Table, OutboxMessage.__table__)
# How a delivered or given-up row is recorded, built once (see `OutboxWorker._mark`).
_MARK = (
    update(_TABLE)
    .where(_TABLE.c.id.in_(bindparam("row_ids", expanding=True)))
    .values(status=bindparam("status"), last_error=bindparam("last_error"),
            sent_at=func.coalesce(bindparam("sent_at", type_=UTCDateTime()), _TABLE.c.sent_at))
)
_MARK_WITH_RESULT = _MARK.values(result=bindparam("result", type_=JSON()))
# Rows delivered in one pass, recorded by one statement run for each (psycopg sends them together).
_MARK_SENT_EACH = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("row_id"))
    .values(status=SENT, last_error=None, sent_at=bindparam("sent_at", type_=UTCDateTime()),
            result=bindparam("result", type_=JSON()))
)
# A row about an alert line (the kinds `_coalesce` folds), as a condition on the row's event.
_IS_ALERT_LINE = (
    select(TimelineEvent.id)
    .where(TimelineEvent.id == OutboxMessage.event_id, TimelineEvent.kind.in_(sorted(COALESCED_KINDS)))
    .exists()
)
# The statements of a pass, built once with bound parameters: a storm runs them several times a
# second, and building a SQLAlchemy statement costs more CPU than running it.
_HEADS = (
    select(func.min(OutboxMessage.id))
    .where(OutboxMessage.status.in_((PENDING, SENDING)))
    .group_by(OutboxMessage.key)
)
_NOW = bindparam("now", type_=UTCDateTime())
_DUE_HEADS = (
    select(OutboxMessage)
    .where(OutboxMessage.id.in_(_HEADS), OutboxMessage.status == PENDING,
           OutboxMessage.next_attempt_at <= _NOW,
           or_(OutboxMessage.op != "update_card",
               OutboxMessage.created_at <= bindparam("card_due", type_=UTCDateTime())),
           or_(OutboxMessage.op != "thread",
               OutboxMessage.created_at <= bindparam("lines_due", type_=UTCDateTime()), ~_IS_ALERT_LINE))
    .order_by(OutboxMessage.id).limit(bindparam("claim", type_=Integer()))
    .with_for_update(skip_locked=True)
)
_CLAIM = (
    update(_TABLE).where(_TABLE.c.id.in_(bindparam("row_ids", expanding=True)))
    .values(status=SENDING, attempts=_TABLE.c.attempts + 1,
            next_attempt_at=bindparam("b_now", type_=UTCDateTime()))
)
_SUPERSEDE = (
    update(_TABLE).where(_TABLE.c.key == bindparam("b_key"), _TABLE.c.op == "update_card",
                         _TABLE.c.status == PENDING, _TABLE.c.id > bindparam("b_row_id"))
    .values(status=SUPERSEDED)
)
_QUEUED_BEHIND = (
    select(OutboxMessage.id, OutboxMessage.op, OutboxMessage.payload, OutboxMessage.event_id,
           TimelineEvent.kind, func.length(TimelineEvent.message))
    .join(TimelineEvent, TimelineEvent.id == OutboxMessage.event_id)
    .where(OutboxMessage.key == bindparam("key"), OutboxMessage.status == PENDING,
           OutboxMessage.id >= bindparam("row_id"))
    .order_by(OutboxMessage.id).limit(COALESCE_MAX)
)
_WAITING_HEADS = (
    select(OutboxMessage.op, OutboxMessage.next_attempt_at, OutboxMessage.created_at, _IS_ALERT_LINE)
    .where(OutboxMessage.id.in_(_HEADS), OutboxMessage.status == PENDING)
)


class OutboxWorker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        delivery: Delivery,
        *,
        poll_interval: float = 1.0,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        claim: int = 20,
        card_every: float = 2.0,
        lines_every: float = 1.0,
        foreground: Foreground | None = None,
        yield_for: float = YIELD_SECONDS,
    ) -> None:
        self.sessions = sessions
        self.delivery = delivery
        self.poll_interval = poll_interval
        self.base_delay = base_delay
        self.max_delay = max_delay
        # Heads claimed per pass: small, so that replicas share the keys (and a claimed row is
        # sent long before `STALE_SENDING` would hand it to another replica).
        self.claim = claim
        # A card is updated at most once per this many seconds (see `_claim_heads`).
        self.card_every = card_every
        # An alert line (joined, re-fired, resolved) waits this long for the lines of the same storm,
        # then they go out as one thread message: at most about one per incident per this many
        # seconds, which is also what Slack allows a channel (see `_claim_heads`).
        self.lines_every = lines_every
        # Alert deliveries in flight in this process go first: before each pass and each message
        # the worker waits for them, at most `yield_for` seconds (`bot.foreground`).
        self.foreground = foreground
        self.yield_for = yield_for
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
        """Claim and send the rows that are due and first in their key; returns (rows handled, seconds to next due).

        Rows delivered in the pass whose outcome changes nothing else (a thread message, a card
        update: most of a storm's) are recorded together at the end of the pass, one transaction
        instead of one each; the heads claimed are of different keys, and a key's next row is
        claimed only once its head is recorded, so the order per key holds. One whose outcome
        later rows depend on (a channel, a card) is recorded at once, with those before it.
        """
        self._yield()
        refs, wait = self._claim_heads()
        handled = 0
        delivered: list[tuple[RowRef, Outcome]] = []
        try:
            for i, ref in enumerate(refs):
                if self._stop.is_set():
                    self._release(refs[i:])
                    break
                if i:
                    self._yield()
                if self._send(ref, delivered):
                    handled += 1
        finally:
            if delivered:
                self._record_sent(delivered)
        return handled, wait

    def _yield(self) -> None:
        if self.foreground is not None and self.foreground.held:
            self.foreground.wait_idle(self.yield_for)

    def _claim_heads(self) -> tuple[list[RowRef], float]:
        """Take the due head of each key, at most `claim` of them, in one transaction.

        A key's head is its first row not yet delivered; later rows of the key wait for it, so
        each key goes in order whichever replica sends it. On PostgreSQL the heads are locked
        with ``FOR UPDATE SKIP LOCKED``: replicas claiming at the same moment take different
        keys instead of waiting for each other, and a row is claimed (moved to 'sending') by one
        of them only. A card update is due once it is `card_every` old, and claiming it
        supersedes the later updates of the same card: it renders the state as of its sending,
        so during a storm each card gets one update every few seconds, and the last state shows.
        Likewise a thread message about an alert is due once it is `lines_every` old: the alert
        lines queued behind it by then go out with it (`_coalesce`).
        """
        now = utcnow()
        card_due = now - timedelta(seconds=self.card_every)
        lines_due = now - timedelta(seconds=self.lines_every)
        with transaction(self.sessions) as s:
            rows: Sequence[OutboxMessage] = s.scalars(_DUE_HEADS, {
                "now": now, "card_due": card_due, "lines_due": lines_due, "claim": self.claim,
            }).all()
            refs = [self._coalesce(s, r) for r in rows]
            if refs:
                s.execute(_CLAIM, {"row_ids": [i for r in refs for i in r.ids], "b_now": now})
                for ref in refs:
                    if ref.op == "update_card":
                        s.execute(_SUPERSEDE, {"b_key": ref.key, "b_row_id": ref.id})
            wait = self._next_due(s, now) if not refs else 0.0
        return refs, wait

    def _coalesce(self, s: Session, head: OutboxMessage) -> RowRef:
        """A thread message about an alert takes along the alert lines queued right behind it.

        During a storm each joined alert is a timeline event; posting one message per alert would
        cost a chat call each and run into the chat's rate limits. Only consecutive rows of the
        same key are folded (order is kept), only plain thread rows of `COALESCED_KINDS`, and only
        as many lines as one message shows in full.
        """
        ref = RowRef.of(head)
        if head.op != "thread" or head.payload or head.event_id is None:
            return ref
        queued = s.execute(_QUEUED_BEHIND, {"key": head.key, "row_id": head.id}).all()
        if not queued or queued[0][0] != head.id or queued[0][4] not in COALESCED_KINDS:
            return ref
        budget = COALESCE_CHARS - int(queued[0][5] or 0)
        batch: list[tuple[int, int]] = []
        for row_id, op, payload, event_id, kind, length in queued[1:]:
            budget -= int(length or 0) + 1
            if op != "thread" or payload or kind not in COALESCED_KINDS or budget < 0:
                break
            batch.append((row_id, event_id))
        return replace(ref, batch=tuple(batch))

    def _next_due(self, s: Session, now: datetime) -> float:
        """Seconds until the earliest waiting head is due (a backing-off row, a card in its window)."""
        pending = s.execute(_WAITING_HEADS).all()
        dues = [max(n, c + timedelta(seconds=self._window(op, line))) for op, n, c, line in pending]
        if not dues:
            return self.poll_interval
        return max(0.0, (min(dues) - now).total_seconds())

    def _window(self, op: str, alert_line: bool) -> float:
        """How long a head of this kind waits for what queues behind it (see `_claim_heads`)."""
        if op == "update_card":
            return self.card_every
        return self.lines_every if op == "thread" and alert_line else 0.0

    def _release(self, refs: Sequence[RowRef]) -> None:
        """Claimed rows this worker will not send (it is stopping): back to pending, no attempt counted."""
        with transaction(self.sessions) as s:
            s.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_([r.id for r in refs]),
                                            OutboxMessage.status == SENDING)
                .values(status=PENDING, attempts=OutboxMessage.attempts - 1)
            )
            self._unfold(s, refs)

    @staticmethod
    def _unfold(s: Session, refs: Sequence[RowRef]) -> None:
        """Rows folded into a message that did not go out wait again (behind their head), untouched."""
        folded = [row_id for r in refs for row_id, _ in r.batch]
        if folded:
            s.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_(folded), OutboxMessage.status == SENDING)
                .values(status=PENDING, attempts=OutboxMessage.attempts - 1)
            )

    def _send(self, ref: RowRef, delivered: list[tuple[RowRef, Outcome]]) -> bool:
        """Deliver one claimed row and record how it went (a plain delivery: appended to ``delivered``,
        recorded with the pass's others; one that changes the incident: recorded now with them)."""
        attempt = ref.attempts + 1
        try:
            with read_transaction(self.sessions) as s:  # reads only: intake's commits go on meanwhile
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
                self._finish(replace(ref, batch=()), FAILED, f"{type(exc).__name__}: {exc}")
                with transaction(self.sessions) as s:
                    self._unfold(s, [ref])
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
        delivered.append((ref, outcome))
        if self.delivery.changes_incident(ref, outcome):
            self._record_sent(delivered)
            delivered.clear()
        return True

    def _record_sent(self, delivered: list[tuple[RowRef, Outcome]]) -> None:
        """The chat has these messages: record them in one transaction, insisting, so a database
        hiccup does not make them go twice."""
        now = utcnow()
        params = [{"row_id": row_id, "sent_at": now, "result": outcome.result}
                  for ref, outcome in delivered for row_id in ref.ids]
        for attempt in range(5):
            try:
                with transaction(self.sessions) as s:
                    s.connection().execute(_MARK_SENT_EACH, params)
                    for ref, outcome in delivered:
                        self.delivery.apply(s, ref, outcome)
                return
            except Exception:
                log.exception("recording %d chat message(s) as sent failed (attempt %d; rows %s)", len(delivered),
                              attempt + 1, [ref.id for ref, _ in delivered])
                time.sleep(0.2 * (attempt + 1))
        # Left 'sending': housekeeping retries them later (they may then be posted a second time).

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
            self._unfold(s, [ref])

    def _finish(self, ref: RowRef, status: str, error: str | None, result: dict[str, Any] | None = None) -> None:
        with transaction(self.sessions) as s:
            self._mark(s, ref, status, result, error)

    @staticmethod
    def _mark(s: Session, ref: RowRef, status: str, result: dict[str, Any] | None, error: str | None) -> None:
        # A prebuilt Core statement: this runs once per message, and building an ORM update costs
        # more CPU than running it.
        params: dict[str, Any] = {"row_ids": ref.ids, "status": status, "last_error": error[:2000] if error else None,
                                  "sent_at": utcnow() if status == SENT else None}
        if result is None:
            s.execute(_MARK, params)
        else:
            s.execute(_MARK_WITH_RESULT, {**params, "result": result})

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
