"""Alert intake on two real replicas sharing one PostgreSQL.

200 concurrent identical deliveries spread over both open exactly one incident; a burst of
distinct alerts during which one replica is killed with SIGKILL loses no alert that either
replica acknowledged (a 2xx is sent only after the commit).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from scale_support import TOKEN, alertmanager_body, base_env

from bot.db import make_engine, upgrade
from bot.models import Alert, Incident

HEADERS = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def two(tmp_path: Path, postgres_url: str, replicas: Any) -> Iterator[tuple[Any, Any, sa.Engine]]:
    upgrade(postgres_url)
    env = base_env(postgres_url, tmp_path, MLRESPONDER_SCHEDULER="false")
    a, b = replicas(env, "a"), replicas(env, "b")
    a.wait_ready(), b.wait_ready()
    engine = make_engine(postgres_url)
    yield a, b, engine
    engine.dispose()


@pytest.mark.integration
def test_200_identical_deliveries_over_two_replicas_open_one_incident(two: tuple[Any, Any, sa.Engine]) -> None:
    a, b, engine = two
    body = alertmanager_body("fp-same-0001", "ranker")

    async def blast() -> list[int]:
        async with httpx.AsyncClient(headers=HEADERS, timeout=60,
                                     limits=httpx.Limits(max_connections=200)) as client:
            return [r.status_code for r in await asyncio.gather(*(
                client.post(f"{(a, b)[i % 2].url}/alerts/alertmanager", json=body) for i in range(200)))]

    statuses = asyncio.run(blast())
    assert statuses.count(201) == 1 and statuses.count(202) == 199, sorted(set(statuses))
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Incident)).scalar() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(Alert)).scalar() == 1
        assert conn.execute(sa.select(Alert.deliveries)).scalar() == 200


@pytest.mark.integration
def test_a_replica_killed_mid_burst_loses_no_acknowledged_alert(two: tuple[Any, Any, sa.Engine]) -> None:
    a, b, engine = two
    acknowledged: set[str] = set()
    refused: list[str] = []
    lock = threading.Lock()
    sent = 0
    killed = threading.Event()

    def kill_a() -> None:
        a.kill()
        killed.set()

    def client_loop(offset: int) -> None:
        nonlocal sent
        with httpx.Client(headers=HEADERS, timeout=30) as client:
            for i in range(offset, 400, 8):
                fingerprint = f"burst-{i:04d}"
                replica = (a, b)[i % 2]
                with lock:
                    sent += 1
                    if sent == 120:
                        threading.Thread(target=kill_a).start()
                try:
                    response = client.post(f"{replica.url}/alerts/alertmanager",
                                           json=alertmanager_body(fingerprint, f"svc-{i % 10}"))
                except httpx.TransportError:
                    with lock:
                        refused.append(fingerprint)
                    continue
                with lock:
                    (acknowledged.add if response.status_code in (201, 202) else refused.append)(fingerprint)

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert killed.wait(30)
    assert refused, "the kill happened after the burst: nothing tested"
    assert len(acknowledged) > 200
    with engine.connect() as conn:
        stored = set(conn.execute(sa.select(Alert.fingerprint)).scalars())
    assert acknowledged <= stored, sorted(acknowledged - stored)[:10]
    # What the dead replica did not acknowledge, the sender retries on the survivor: then all are kept.
    with httpx.Client(headers=HEADERS, timeout=30) as client:
        for fingerprint in refused:
            i = int(fingerprint.rsplit("-", 1)[1])
            response = client.post(f"{b.url}/alerts/alertmanager", json=alertmanager_body(fingerprint, f"svc-{i % 10}"))
            assert response.status_code in (201, 202), response.text
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Alert)).scalar() == 400
        per_fp = conn.execute(sa.select(Alert.fingerprint, Alert.deliveries)).all()
    assert {fp for fp, _ in per_fp} == {f"burst-{i:04d}" for i in range(400)}
