"""Drafting a postmortem for a stored incident, and recording it with the incident.

The draft is made from the incident's API projection (timeline and change events merged),
written to files, stored in ``incident.postmortem_md`` / ``postmortem_path`` and announced
with a ``postmortem_drafted`` timeline event, which the chat adapter posts to the channel.
Reading and recording are two short transactions; rendering and drawing happen between
them, outside any lock.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from bot.db import transaction
from bot.incidents import audit, get_incident, incident_to_dict, log_event
from postmortems.drafter import Draft, draft
from postmortems.trackers import tracking

if TYPE_CHECKING:
    from bot.runtime import Runtime


def default_out_dir(runtime: Runtime, ref: str) -> Path:
    return Path(runtime.settings.postmortem_dir) / ref


def team_template_dirs(runtime: Runtime) -> list[str]:
    folders = runtime.settings.postmortem_templates or ""
    return [part for part in str(folders).split(",") if part.strip()]


def draft_postmortem_full(
    runtime: Runtime,
    incident_id: str | int,
    actor: str,
    out_dir: str | Path | None = None,
    prediction_log: str | Path | None = None,
) -> Draft:
    """Like `draft_postmortem`, returning the whole `Draft` (figures, blame review)."""
    with transaction(runtime.sessions) as session:
        incident = get_incident(session, incident_id)
        record = incident_to_dict(session, incident, change_scope=runtime.catalog.change_scope(
            incident.catalog_service, incident.service))
        service = runtime.catalog.get(incident.catalog_service)
    catalog_log: str | None = None
    if service is not None and prediction_log is None:
        with contextlib.suppress(KeyError):  # a secret unset since the catalog loaded: no figures
            catalog_log = service.prediction_log_source()
    result = draft(
        record,
        out_dir if out_dir is not None else default_out_dir(runtime, str(record["id"])),
        prediction_log=prediction_log,
        catalog_log=catalog_log,
        team_dirs=team_template_dirs(runtime),
        secrets=[*runtime.settings.secrets(), *runtime.catalog.secret_values()],
        tracking=tracking(runtime.settings, record),
    )
    path = result.path.resolve()
    with transaction(runtime.sessions) as session:
        incident = get_incident(session, incident_id)
        incident.postmortem_md = result.markdown
        incident.postmortem_path = str(path)
        figures = ", ".join(p.name for p in result.figures) or "no figures"
        log_event(
            session, incident, "postmortem_drafted",
            f"postmortem drafted: {path.name} ({figures}"
            + (f"; {len(result.blame_review)} note(s) reworded for blameless language" if result.blame_review else "")
            + ")",
            actor=actor,
            # the chat uploads the files named here (the draft first, then its figures)
            data={"path": str(path), "figures": [str(p.resolve()) for p in result.figures],
                  "markdown": result.markdown, "upload": True},
        )
        audit(session, actor, "postmortem.draft", incident.ref, incident_id=incident.id,
              detail={"path": str(path), "figures": [p.name for p in result.figures]})
    return result


def draft_postmortem(
    runtime: Runtime,
    incident_id: str | int,
    actor: str,
    out_dir: str | Path | None = None,
    prediction_log: str | Path | None = None,
) -> Path:
    """Draft, store and announce the postmortem of ``incident_id``; return the markdown's path."""
    return draft_postmortem_full(runtime, incident_id, actor, out_dir, prediction_log).path.resolve()
