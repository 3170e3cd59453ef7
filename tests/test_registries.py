"""Registries are the extension points: every other list (chat, schema, routes) derives from them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from bot.intake import ALERT_SOURCES, alert_source
from bot.wiring import chat_responder
from runbooks.actions import ACTIONS, Action, ActionContext, hand_proposable, register_action
from runbooks.executor import _HANDLERS, step_handler
from runbooks.schema import STEP_KINDS, Runbook


class _Noop(Action):
    name: ClassVar[str] = "noop_for_test"
    description: ClassVar[str] = "changes nothing"

    def plan(self, ctx: ActionContext) -> dict[str, Any]:
        return {"summary": "nothing"}

    def execute(self, ctx: ActionContext, plan: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        return {}, {}

    def verify(self, ctx: ActionContext, plan: dict[str, Any]) -> bool | None:
        return True

    def revert(self, ctx: ActionContext, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
        return {}


@pytest.fixture
def noop_action() -> Iterator[type[Action]]:
    register_action(_Noop)
    try:
        yield _Noop
    finally:
        del ACTIONS[_Noop.name]


def _runbook(action: str) -> dict[str, Any]:
    return {"name": "r", "description": "d", "match": {"alertname": "A"},
            "steps": [{"mitigate": {"action": action, "target": "m"}}]}


def test_the_chat_offers_exactly_the_actions_a_person_may_propose() -> None:
    assert chat_responder().mitigations == hand_proposable() == ("rollback", "naive_model")
    assert "http" in ACTIONS and "http" not in hand_proposable()  # its request comes from a runbook


def test_a_registered_action_is_known_to_runbooks_and_the_chat(noop_action: type[Action]) -> None:
    assert Runbook.model_validate(_runbook("noop_for_test")).steps[0].kind == "mitigate"
    assert "noop_for_test" in chat_responder().mitigations


def test_an_unregistered_action_is_a_validation_error() -> None:
    with pytest.raises(ValueError, match="unknown action 'noop_for_test'"):
        Runbook.model_validate(_runbook("noop_for_test"))


def test_two_actions_of_one_name_are_refused() -> None:
    class Other(_Noop):
        name: ClassVar[str] = "rollback"

    with pytest.raises(ValueError, match="two mitigation actions are named 'rollback'"):
        register_action(Other)
    assert ACTIONS["rollback"].__name__ == "RollbackAction"


def test_every_step_kind_of_the_schema_has_its_handler() -> None:
    assert set(_HANDLERS) == set(STEP_KINDS)
    assert STEP_KINDS == ("diagnose", "notify", "mitigate", "verify", "escalate", "wait")
    with pytest.raises(ValueError, match="no step kind 'reboot'"):
        step_handler("reboot")


def test_the_api_serves_one_route_per_alert_source() -> None:
    from bot.api.routes.intake import router

    assert {s.path for s in ALERT_SOURCES.values()} == {"/alerts/alertmanager", "/alerts/grafana", "/alerts"}
    assert {getattr(r, "path", None) for r in router.routes} == {s.path for s in ALERT_SOURCES.values()}


def test_an_alert_source_path_cannot_be_taken_twice() -> None:
    with pytest.raises(ValueError, match="already registered"):
        alert_source("other", "/alerts/grafana", "x")(lambda data: [])
    assert "other" not in ALERT_SOURCES


def test_the_chat_port_is_chosen_from_the_registry() -> None:
    from bot.chat.console import ConsolePort
    from bot.chat.port import CHAT_PORTS, choose_port
    from bot.chat.signing import ButtonSigner
    from bot.chat.slack_port import SlackPort
    from bot.config import Settings

    assert set(CHAT_PORTS) == {"console", "slack"}
    signer = ButtonSigner("k")
    console, no_client = choose_port(Settings(), signer)
    assert isinstance(console, ConsolePort) and no_client is None  # the fallback, whatever the order
    slack, client = choose_port(Settings(slack_bot_token="xoxb-test", slack_api_url="http://127.0.0.1:9/api/"), signer)
    assert isinstance(slack, SlackPort) and client is not None
