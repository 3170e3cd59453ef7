"""Jinja2 rendering of the draft, with team overrides and secret scrubbing.

Templates are looked up first in the team's folder (setting ``postmortem_templates``), then
in the built-in ``postmortems/templates``; a team overrides one section by dropping a file
of the same name (for example ``_action_items.md.j2``) without copying the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from bot.redact import redact

BUILTIN_TEMPLATES = Path(__file__).parent / "templates"
MAIN_TEMPLATE = "postmortem.md.j2"
REDACTED = "[redacted]"


def table_cell(value: Any) -> str:
    """Text safe inside a markdown table cell: no pipes, no line breaks."""
    text = "—" if value in (None, "") else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def make_environment(team_dirs: Iterable[str | Path] = ()) -> Environment:
    search = [Path(d) for d in team_dirs if d] + [BUILTIN_TEMPLATES]
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(p)) for p in search]),
        autoescape=False,  # markdown, not HTML
        undefined=StrictUndefined,  # a typo in a team template fails loudly instead of leaving a hole
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = table_cell
    return env


def scrub(value: Any, secrets: Iterable[str] = ()) -> Any:
    """``value`` (str, or nested dicts/lists of them) with every secret the core knows, and
    ``secrets``, replaced by ``[redacted]`` (``***`` would read as a markdown rule)."""
    return redact(value, mask=REDACTED, extra=secrets)


def render_markdown(context: dict[str, Any], *, team_dirs: Iterable[str | Path] = (),
                    secrets: Iterable[str] = ()) -> str:
    secrets = list(secrets)
    text = make_environment(team_dirs).get_template(MAIN_TEMPLATE).render(**scrub(context, secrets))
    return str(scrub(text, secrets))  # again on the output: a team template may print anything
