"""`serve --workers N`: several processes behind one port on PostgreSQL; SQLite refuses."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from scale_support import REPO, TOKEN, alertmanager_body, base_env, wait_until

from bot.db import make_engine
from bot.models import Incident


def test_sqlite_says_it_is_single_process(tmp_path: Path) -> None:
    env = base_env(f"sqlite:///{tmp_path / 'one.db'}", tmp_path)
    done = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--workers", "2"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "SQLite is single-process" in done.stderr + done.stdout
    assert not (tmp_path / "one.db").exists()  # refused before touching anything


@pytest.mark.integration
def test_two_workers_share_the_port_and_elect_one_scheduler(
    tmp_path: Path, postgres_url: str, replicas: Any
) -> None:
    server = replicas(base_env(postgres_url, tmp_path), "workers", workers=2).wait_ready()
    # both workers have joined the election: one leads, the other follows
    wait_until(lambda: len(re.findall(r"scheduler: replica \S+ (leads|follows)", server.log())) >= 2, 120,
               "both workers to join the election")
    roles = re.findall(r"scheduler: replica (\S+) (leads|follows)", server.log())
    assert sorted(role for _, role in roles) == ["follows", "leads"]
    assert len({who for who, _ in roles}) == 2  # two processes

    body = alertmanager_body("fp-workers-1", "ranker")

    async def blast() -> list[int]:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as client:
            return [r.status_code for r in await asyncio.gather(*(
                client.post(f"{server.url}/alerts/alertmanager", json=body) for _ in range(100)))]

    statuses = asyncio.run(blast())
    assert statuses.count(201) == 1 and statuses.count(202) == 99
    engine = make_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Incident)).scalar() == 1
    engine.dispose()
