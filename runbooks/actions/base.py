"""One interface for every mitigation: plan → execute → verify → revert.

`plan` is a dry run: it reads the current state, decides what it would change and fails
(with a message a responder can act on) before anything is touched. `execute` applies
exactly that plan and refuses when the world moved since the plan was made, so a stale
approval cannot clobber a newer change. `verify` tells whether the planned change is in
place (the executor uses it to reconcile after a crash instead of running the action twice).
`revert` undoes an executed mitigation from its recorded before/after state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from bot.egress import EgressPolicy
from runbooks.registry.base import ModelRegistry


class ActionError(Exception):
    """The action cannot be planned or carried out; nothing was changed unless it says so."""


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class ActionContext:
    """What an action may look at: the target, its parameters and the incident's evidence."""

    target: str
    params: BaseModel
    registry: Callable[[], ModelRegistry]
    incident: dict[str, Any] = field(default_factory=dict)
    diagnosis: dict[str, Any] | None = None
    # Change events around the incident, oldest first (dicts as in bot.incidents.change_to_dict).
    changes: list[dict[str, Any]] = field(default_factory=list)
    # Where outbound requests may go (settings `egress_allow`); the default refuses internal addresses.
    egress: EgressPolicy = field(default_factory=EgressPolicy)


class Action(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[BaseModel]] = NoParams
    # A registry-backed action changes a model version (recorded as a model_deploy change).
    changes_model_version: ClassVar[bool] = True
    # May a person propose it by name alone (`/incident mitigate NAME`, `mitigation plan`)? An
    # action whose parameters only a runbook can give (an HTTP request) may not.
    proposable_by_hand: ClassVar[bool] = True

    @abstractmethod
    def plan(self, ctx: ActionContext) -> dict[str, Any]:
        """The change this action would make (JSON), with a one-line ``summary``; changes nothing."""

    @abstractmethod
    def execute(self, ctx: ActionContext, plan: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Apply the plan; returns (before, after) state."""

    @abstractmethod
    def verify(self, ctx: ActionContext, plan: dict[str, Any]) -> bool | None:
        """Is the planned change in place? None when the action cannot observe it."""

    @abstractmethod
    def revert(self, ctx: ActionContext, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
        """Undo an executed change; returns the state afterwards."""

    def reverted(self, ctx: ActionContext, before: dict[str, Any], after: dict[str, Any]) -> bool | None:
        """Is the target back at ``before`` (did a revert whose process died take effect)? False when
        the change is still in place, None when the action cannot tell."""
        return None


# ------------------------------------------------------------------ the registry of actions

A = TypeVar("A", bound=type[Action])

# name → action class; filled by `@register_action` when `runbooks.actions` imports its modules.
ACTIONS: dict[str, type[Action]] = {}


def register_action(cls: A) -> A:
    """Class decorator: the one way an action becomes known to runbooks, the CLI and the chat."""
    name = cls.name
    if name in ACTIONS and ACTIONS[name] is not cls:
        raise ValueError(f"two mitigation actions are named {name!r}: {ACTIONS[name].__name__} and {cls.__name__}")
    ACTIONS[name] = cls
    return cls


def get_action(name: str) -> Action:
    try:
        return ACTIONS[name]()
    except KeyError:
        raise ActionError(f"unknown action {name!r} (expected one of {', '.join(ACTIONS)})") from None


def hand_proposable() -> tuple[str, ...]:
    """Actions a person may propose by name, in registration order."""
    return tuple(name for name, cls in ACTIONS.items() if cls.proposable_by_hand)
