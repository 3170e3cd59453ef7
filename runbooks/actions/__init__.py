"""The mitigation actions a runbook may name, by name (Robusta-style typed registry).

An action is a class decorated with `register_action` (`runbooks.actions.base`); importing this
package imports the modules that define the built-in ones, so `ACTIONS` is complete. Every
list of actions elsewhere (runbook validation, the CLI, the chat's `mitigate`) derives from it.
Each action's ``Params`` model validates the runbook's ``params:`` at load time, so a typo in a
parameter is a load error with file and line, not a failure mid-incident.
"""

from __future__ import annotations

from runbooks.actions import http, registry_actions  # noqa: F401  (each registers its actions on import)
from runbooks.actions.base import (
    ACTIONS,
    Action,
    ActionContext,
    ActionError,
    get_action,
    hand_proposable,
    register_action,
)

__all__ = ["ACTIONS", "Action", "ActionContext", "ActionError", "get_action", "hand_proposable", "register_action"]
