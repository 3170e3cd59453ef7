"""The mitigation actions a runbook may name, by name (Robusta-style typed registry).

Each action's ``Params`` model validates the runbook's ``params:`` at load time, so a typo in a
parameter is a load error with file and line, not a failure mid-incident.
"""

from __future__ import annotations

from runbooks.actions.base import Action, ActionContext, ActionError
from runbooks.actions.http import HttpAction
from runbooks.actions.registry_actions import NaiveModelAction, RollbackAction

ACTIONS: dict[str, type[Action]] = {
    RollbackAction.name: RollbackAction,
    NaiveModelAction.name: NaiveModelAction,
    HttpAction.name: HttpAction,
}

__all__ = ["ACTIONS", "Action", "ActionContext", "ActionError", "get_action"]


def get_action(name: str) -> Action:
    try:
        return ACTIONS[name]()
    except KeyError:
        raise ActionError(f"unknown action {name!r} (expected one of {', '.join(ACTIONS)})") from None
