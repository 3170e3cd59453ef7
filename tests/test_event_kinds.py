"""Event kinds are one enumeration (`bot.events.EventKind`), each with its icon and its chat renderer."""

from __future__ import annotations

import ast
import functools
from datetime import UTC, datetime
from pathlib import Path

from bot.chat.blocks import KIND_ICON, RENDERERS, timeline_text
from bot.chat.views import TimelineLine
from bot.events import EventKind

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for package in ("bot", "runbooks", "postmortems") for p in (ROOT / package).rglob("*.py")]


@functools.cache
def _trees() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in SOURCES]


def test_every_kind_has_an_icon_and_a_renderer() -> None:
    assert set(KIND_ICON) == {k.value for k in EventKind}
    assert set(RENDERERS) == {k.value for k in EventKind}
    assert KIND_ICON[EventKind.REMINDER] != ":small_blue_diamond:"  # the reminder used to have none


def test_every_kind_the_code_logs_is_in_the_enumeration() -> None:
    logged: dict[str, str] = {}
    for path, tree in _trees():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or len(node.args) < 3:
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            kind = node.args[2]
            if name == "log_event" and isinstance(kind, ast.Constant) and isinstance(kind.value, str):
                logged[kind.value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    assert len(logged) > 15  # the walk found the calls
    unknown = {kind: where for kind, where in logged.items() if kind not in set(EventKind)}
    assert unknown == {}


def test_no_kind_is_listed_that_nothing_produces() -> None:
    # alert_repeated was handled by the chat but never logged; a kind must appear where it is made
    made: set[str] = set()
    for path, tree in _trees():
        if path.name in ("events.py", "blocks.py"):
            continue
        made |= {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        made |= {n.attr.lower() for n in ast.walk(tree)
                 if isinstance(n, ast.Attribute) and getattr(n.value, "id", None) == "EventKind"}
    assert {k.value for k in EventKind} - made == set()


def test_a_reminder_renders_with_its_icon() -> None:
    line = TimelineLine(event_id=1, kind="reminder", message="no update for 30 min", actor="mlresponder",
                        at=datetime(2026, 1, 1, tzinfo=UTC), data={})
    assert timeline_text(line).startswith(":alarm_clock: no update for 30 min")
