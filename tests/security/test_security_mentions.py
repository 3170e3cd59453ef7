"""Mentions come only from fields meant to be people: never from an alert's `source`, labels or
annotations (the thread footer of an alert event used to ping a user group named by `source`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.chat import blocks
from bot.chat.views import TimelineLine


def _line(kind: str, actor: str, text: str = "alert fired: x", **data: object) -> TimelineLine:
    return TimelineLine(event_id=1, at=datetime(2026, 11, 27, 3, tzinfo=UTC), kind=kind, actor=actor,
                        message=text, data=dict(data))


@pytest.mark.parametrize("source", ["S0ONCALLGRP", "U0ALICE123", "W0ENTERPRISE", "slack:S0ONCALLGRP",
                                    "<!channel>", "<!subteam^S0ONCALLGRP>"])
def test_an_alert_source_is_never_a_mention(source: str) -> None:
    text = blocks.timeline_text(_line("alert_fired", source, f"alert fired: from {source}",
                                      labels={"owner": "U0BOB12345"}))
    assert "<@" not in text and "<!" not in text


def test_people_are_mentioned_where_they_are_meant() -> None:
    assert "<@U0ALICE123>" in blocks.timeline_text(_line("note", "slack:U0ALICE123", "note: checking"))
    assert "<@U0BOB12345>" in blocks.timeline_text(_line("commander_assigned", "slack:U0ALICE123",
                                                         "commander", to="slack:U0BOB12345"))
    escalation = blocks.timeline_text(_line("escalation", "runbook", "escalated", who=["S0ONCALLGRP"],
                                            message="page"))
    assert "<!subteam^S0ONCALLGRP>" in escalation  # paging a group is what escalation is for
    # A commander is a person: a user group given as commander is shown, not pinged.
    assert "<!subteam" not in blocks.timeline_text(_line("commander_assigned", "slack:U0ALICE123", "c",
                                                         to="S0WHOLEORG"))
