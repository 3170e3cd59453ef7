"""Alembic sees every domain's tables: a fully migrated store matches the models exactly.

Before, the environment imported only `bot.models`, so autogenerate proposed dropping the
runbook, outbox and monitor tables, and `scripts/new_migration.py` stopped at "Multiple heads".
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.db import Base, alembic_config, make_engine, upgrade
from bot.migrations import target_metadata

ROOT = Path(__file__).resolve().parent.parent


def _pending_operations(url: str) -> list[Any]:
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
            return list(compare_metadata(context, target_metadata()))
    finally:
        engine.dispose()


def test_autogenerate_against_a_migrated_sqlite_store_finds_nothing_to_do(tmp_path: Path) -> None:
    assert _pending_operations(f"sqlite:///{tmp_path / 'store.db'}") == []


@pytest.mark.integration
def test_autogenerate_against_a_migrated_postgres_store_finds_nothing_to_do(postgres_url: str) -> None:
    assert _pending_operations(postgres_url) == []


def test_a_table_left_out_of_the_environment_would_show_as_a_drop(tmp_path: Path) -> None:
    # what the test above guards against: the comparison does see a table the models lack
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            metadata = target_metadata()
            partial = type(metadata)()
            for table in metadata.tables.values():
                if table.name != "runbook_steps":
                    table.to_metadata(partial)
            diffs = compare_metadata(MigrationContext.configure(conn), partial)
    finally:
        engine.dispose()
    assert ("remove_table", "runbook_steps") in [(d[0], d[1].name) for d in diffs if isinstance(d, tuple)]
    assert {d[1].name for d in diffs if isinstance(d, tuple) and d[0] == "remove_table"} == {"runbook_steps"}


def test_the_environment_imports_every_module_that_defines_tables() -> None:
    # a fresh interpreter: only what `target_metadata()` imports is registered there
    code = ("import json; from bot.migrations import target_metadata; "
            "print(json.dumps(sorted(target_metadata().tables)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    seen_by_alembic = set(json.loads(out.stdout))
    for package in ("bot", "runbooks", "diagnostics", "postmortems"):
        for path in (ROOT / package).rglob("models.py"):
            importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
    assert seen_by_alembic == set(Base.metadata.tables)
    expected = {"incidents", "mitigations", "runbook_runs", "runbook_steps", "chat_outbox", "monitor_runs"}
    assert expected <= seen_by_alembic


def _run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "scripts/new_migration.py", *args], cwd=ROOT,
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_new_migration_extends_the_named_head_with_no_spurious_operations(tmp_path: Path) -> None:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) > 1  # one branch per domain: the case that used to fail
    head = sorted(heads)[-1]
    done = _run_script("check nothing is pending", "9999_test", "--head", head, "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    (written,) = tmp_path.glob("9999_test_*.py")
    text = written.read_text()
    assert f"down_revision = '{head}'" in text
    body = text.split("def upgrade() -> None:")[1].split("def downgrade")[0]
    assert "op." not in body  # no drop_table of a table the environment did not see


def test_new_migration_with_several_heads_and_no_choice_says_which_to_name(tmp_path: Path) -> None:
    refused = _run_script("x", "9998_test", "--out", str(tmp_path))
    assert refused.returncode == 2
    assert "several heads" in refused.stderr and "--head" in refused.stderr
    assert list(tmp_path.iterdir()) == []
