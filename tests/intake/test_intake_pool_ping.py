"""PostgreSQL's pooled connections are pinged only after sitting idle (`bot.db.PING_IDLE_SECONDS`).

A ping per checkout cost a round trip per intake transaction during a storm. These tests see that
a connection used again at once is not pinged, and that a connection the server dropped while it
sat in the pool is found dead by the ping and replaced before a transaction uses it. Real PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

import bot.db
from bot.db import make_engine


def _counting_pings(engine: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    real = engine.dialect.do_ping

    def do_ping(dbapi_conn: Any) -> bool:
        pings.append(1)
        return bool(real(dbapi_conn))

    monkeypatch.setattr(engine.dialect, "do_ping", do_ping)
    return pings


def test_a_connection_used_again_at_once_is_not_pinged(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.db, "PING_IDLE_SECONDS", 3600.0)
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
    pings = _counting_pings(engine, monkeypatch)
    try:
        for _ in range(5):
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar() == 1
        assert pings == []
    finally:
        engine.dispose()


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.db, "PING_IDLE_SECONDS", 0.0)  # every connection counts as idle
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
    pings = _counting_pings(engine, monkeypatch)
    killer = make_engine(postgres_url, pool_pre_ping=False)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with killer.connect() as other:
            assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar() is True
        with engine.connect() as conn:  # the pooled connection is dead: pinged, replaced, then used
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
        assert pings
    finally:
        engine.dispose()
        killer.dispose()
