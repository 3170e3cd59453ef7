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
from jinja2.exceptions import SecurityError

from bot.redact import redact
from bot.sandbox import LimitedSandbox, TemplateRefused, render_limited

BUILTIN_TEMPLATES = Path(__file__).parent / "templates"
MAIN_TEMPLATE = "postmortem.md.j2"
REDACTED = "[redacted]"
MAX_POSTMORTEM_CHARS = 5_000_000
MAX_RENDER_SECONDS = 10.0


def table_cell(value: Any) -> str:
    """Text safe inside a markdown table cell: no pipes, no line breaks."""
    text = "—" if value in (None, "") else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def make_environment(team_dirs: Iterable[str | Path] = ()) -> Environment:
    """The core's limited sandbox: a team template is code a team wrote, not code the service trusts."""
    search = [Path(d) for d in team_dirs if d] + [BUILTIN_TEMPLATES]
    env = LimitedSandbox(
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
    try:
        template = make_environment(team_dirs).get_template(MAIN_TEMPLATE)
        text = render_limited(template, scrub(context, secrets), max_output=MAX_POSTMORTEM_CHARS,
                              max_seconds=MAX_RENDER_SECONDS)
    except SecurityError as exc:
        raise TemplateRefused(f"postmortem template refused: {exc}") from None
    return str(scrub(text, secrets))  # again on the output: a team template may print anything
