"""Engine, sessions and schema migrations for the incident store.

SQLite is the zero-setup default and PostgreSQL the team store. SQLite gets WAL and
``BEGIN IMMEDIATE`` so that concurrent deliveries serialize their writes instead of failing
with "database is locked" halfway through a transaction.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, create_engine, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from bot.redact import known_secrets, redact

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0
_WRITER_FLAG = "mlresponder_sqlite_writer"
# Execution option of a connection whose transaction only reads (see `read_transaction`).
_READ_ONLY = "mlresponder_read_only"


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the incident store; use UTC-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def normalize_url(url: str) -> str:
    """Let users write ``postgresql://`` and still get psycopg 3."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    return url


def is_postgres(url: str) -> bool:
    return normalize_url(url).startswith("postgresql")


def libpq_url(url: str) -> str:
    """The same database as a libpq URI, for a psycopg connection of its own (outside any pool)."""
    from sqlalchemy.engine import make_url

    return make_url(normalize_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)


# Session-level advisory lock key serializing schema changes of replicas starting together.
MIGRATION_LOCK_KEY = 0x6D6C726D696772


@contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """On PostgreSQL, one process at a time (replicas starting together on a fresh database).

    Through SQLAlchemy, so that an unreachable server raises the same errors as everywhere else.
    """
    if not is_postgres(url):
        yield
        return
    from sqlalchemy import text
    from sqlalchemy.pool import NullPool

    engine = create_engine(normalize_url(url), poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
    finally:
        engine.dispose()


def strict_json(value: Any) -> str:
    """Every JSON column is written strict: PostgreSQL's `json` refuses NaN and Infinity (the whole
    transaction fails), and SQLite would keep them for strict readers to choke on. A figure that is
    not finite (a ratio against a zero rate) is stored as null (`diagnostics.strict_json`)."""
    from diagnostics.strict_json import dumps

    return dumps(value)


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    kwargs.setdefault("json_serializer", strict_json)
    if url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine)
        return engine
    ping_idle = "pool_pre_ping" not in kwargs
    # As many pooled connections as requests the server runs at once: overflow connections are
    # closed on check-in, and reconnecting per request costs more than the request itself.
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    if ping_idle:
        _ping_idle_connections(engine)
    return engine


# A pooled connection back for less than this is used again without a ping.
PING_IDLE_SECONDS = 1.0


def _ping_idle_connections(engine: Engine) -> None:
    """`pool_pre_ping`, only for connections that sat in the pool a while.

    SQLAlchemy's pre-ping costs a round trip on every checkout: on a busy server (an alert storm,
    a batch every few ms per writer) that is a round trip, and a wait for the server process to be
    scheduled, per transaction. A connection checked in a moment ago was alive a moment ago; one
    idle for longer (PostgreSQL restarted, a proxy dropped it) is pinged as before, and a dead one
    is replaced before anyone uses it (the pool's `DisconnectionError` protocol). A connection
    that dies while busy fails its transaction, which is then answered 503 and retried."""

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_conn: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN)
        if since is not None and time.monotonic() - since < PING_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError(f"pooled connection is gone: {type(exc).__name__}") from exc
        if not alive:
            raise DisconnectionError("pooled connection is gone")


_CHECKED_IN = "mlresponder_checked_in_at"


class _FifoLock:
    """A lock taken in the order it was asked for. With `threading.Lock` the thread that releases it
    usually takes it again at once: a runbook running transaction after transaction kept intake's
    one writer thread waiting (a third of its time during a storm of new incidents). Any thread may
    release it (the transaction may end on another thread than it began)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._held = False

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held and not self._waiters:
                self._held = True
                return True
            waiter = threading.Lock()
            waiter.acquire()
            self._waiters.append(waiter)
        if waiter.acquire(timeout=timeout):
            return True  # handed over by `release`
        with self._mutex:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                return False
        return True  # handed over just as the wait ended

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # still held: now by the longest waiter
            else:
                self._held = False


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cur.close()

    # SQLite admits one writer. The threads of this process queue on a lock of their own rather than
    # in SQLite's busy handler, which polls with sleeps of up to 100 ms (a p99 of a second under
    # load); other processes (the CLI) still meet the busy timeout. Taken first come, first served,
    # and released by whichever thread ends the transaction; a flag on the connection says that it holds it.
    writer = _FifoLock()

    def _release(info: dict[Any, Any]) -> None:
        if info.pop(_WRITER_FLAG, False):
            writer.release()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(_READ_ONLY):
            # A reader: a snapshot of the last commit (WAL), taken while the writer goes on writing.
            conn.exec_driver_sql("BEGIN")
            return
        if writer.acquire(timeout=SQLITE_BUSY_TIMEOUT_S):
            conn.info[_WRITER_FLAG] = True
        try:
            # One writer at a time, decided up front: no lock upgrades that fail mid-transaction.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn.info)
            raise

    def _end(conn: Any, finish: str) -> None:
        # The events fire just before SQLAlchemy ends the transaction: end it here, then let the
        # next writer in. SQLAlchemy's own commit/rollback right after finds no transaction: a no-op.
        if not conn.info.get(_WRITER_FLAG):
            return
        try:
            getattr(conn.connection.dbapi_connection, finish)()
        except Exception as exc:
            if finish == "commit":
                # SQLite may have rolled the transaction back (disk full, I/O error): the no-op commit
                # that follows must not pass for a success. Raised as SQLAlchemy raises it.
                raise DBAPIError.instance(None, None, exc, sqlite3.Error) from exc
        finally:
            _release(conn.info)

    @event.listens_for(engine, "commit")
    def _on_commit(conn: Any) -> None:
        _end(conn, "commit")

    @event.listens_for(engine, "rollback")
    def _on_rollback(conn: Any) -> None:
        _end(conn, "rollback")

    # A connection returned to the pool or invalidated mid-transaction must not keep the lock.
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        _release(record.info)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(_dbapi_conn: Any, record: Any, _exc: Any) -> None:
        _release(record.info)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    event.listen(factory, "before_flush", _redact_before_flush)
    return factory


def _redact_before_flush(session: Session, _context: Any, _instances: Any) -> None:
    """No secret is ever stored: timeline messages, mitigation errors and responses, audit
    details and queued chat messages are redacted as they are written, whoever wrote them.

    What a flush writes: every column of a new object, and the columns of a loaded object that
    were set since it was loaded (``committed_state``; an unchanged column is not written).
    """
    secrets = known_secrets()  # once per flush, not once per value
    if not secrets:
        return
    for obj in session.new:
        _redact_columns(obj, _column_keys(sa_inspect(obj).mapper), secrets)
    for obj in session.dirty:
        state = sa_inspect(obj)
        changed = state.committed_state
        if changed:
            _redact_columns(obj, [k for k in _column_keys(state.mapper) if k in changed], secrets)


_COLUMN_KEYS: dict[Any, tuple[str, ...]] = {}


def _column_keys(mapper: Any) -> tuple[str, ...]:
    keys = _COLUMN_KEYS.get(mapper)
    if keys is None:
        keys = _COLUMN_KEYS[mapper] = tuple(attr.key for attr in mapper.column_attrs)
    return keys


def _redact_columns(obj: Any, keys: Iterable[str], secrets: list[str]) -> None:
    for key in keys:
        value = getattr(obj, key, None)
        if isinstance(value, str | dict | list):
            cleaned = redact(value, secrets=secrets)
            if cleaned != value:
                setattr(obj, key, cleaned)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def read_transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work that only reads. On SQLite it does not take the one writer's slot: a long read
    (rendering an incident card reads all its alerts) no longer holds up intake's commits. Writing
    in it is an error (SQLite refuses to turn a reader into the writer once others have committed).
    """
    session = factory()
    try:
        session.connection(execution_options={_READ_ONLY: True})
        yield session
        session.rollback()  # nothing to commit; ends the snapshot
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Apply every migration. Domains may add their own migration branches, hence ``heads``."""
    from alembic import command

    with migration_lock(url):  # replicas starting together on a fresh database: one migrates
        command.upgrade(alembic_config(url), "heads")
