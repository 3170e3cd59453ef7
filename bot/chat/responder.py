"""What the chat asks of the other domains: diagnose, propose/approve/reject/revert a mitigation, draft a
postmortem.

The chat is a part beside the runbooks and the postmortems, so it imports neither; `bot.wiring`
hands it a `Responder` made of their functions, and the mitigations a person may name in
`/incident mitigate` come from the runbooks' action registry through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.runtime import Runtime


@dataclass(frozen=True)
class Responder:
    mitigations: tuple[str, ...]  # the actions a person may propose by name
    run_diagnosis: Callable[[Runtime, int, str], Any]
    propose_mitigation: Callable[[Runtime, int, str, str], Any]
    approve_mitigation: Callable[[Runtime, int, str], Any]
    reject_mitigation: Callable[[Runtime, int, str], Any]
    revert_mitigation: Callable[[Runtime, int, str], Any]
    draft_postmortem: Callable[[Runtime, int, str], Any]
