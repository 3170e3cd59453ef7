"""What a step reads or changes comes from the catalog: find what is missing, fill in secrets.

A step whose data source or target templates ``service.…`` cannot run for an incident whose
service is not in the catalog (or whose entry lacks that field): it is skipped with one timeline
line instead of failing the run, so the incident is still announced and escalated. Rendered
sources keep the catalog's ``${MLRESPONDER_SECRET_…}`` references; `open_source` fills them in
at the moment of use, so no secret is stored, shown or logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.secrets import MissingSecret, resolve_refs
from runbooks.schema import Step
from runbooks.templating import referenced_paths

# The fields without which a step has nothing to read or act on.
REQUIRED_SOURCES: dict[str, tuple[str, ...]] = {
    "diagnose": ("log",),
    "verify": ("log", "prometheus"),
    "mitigate": ("target",),
}


def missing_catalog_data(step: Step, ctx: Mapping[str, Any]) -> str | None:
    """Why ``step`` cannot run for this incident, or None when the catalog has what it needs."""
    body = step.body
    service = ctx.get("service")
    for field_name in REQUIRED_SOURCES.get(step.kind, ()):
        template = getattr(body, field_name, None)
        if not isinstance(template, str):
            continue
        for path in referenced_paths(template):
            if path[0] != "service":
                continue
            if service is None:
                shown = ctx.get("incident", {}).get("service") or "unknown"
                return f"service {shown!r} is not in the catalog, so there is nothing to read or change for it"
            value: Any = service
            for part in path[1:]:
                value = value.get(part) if isinstance(value, Mapping) else None
                if value in (None, "", [], {}):
                    return f"service {service['name']!r} has no {'.'.join(path[1:])} in the catalog"
    return None


def open_source(rendered: str, environ: Mapping[str, str] | None = None) -> str:
    """The source to open: the catalog's secret references filled in from the environment."""
    try:
        return resolve_refs(rendered, environ)
    except MissingSecret as exc:
        raise ValueError(f"cannot open the source: {exc}") from None
