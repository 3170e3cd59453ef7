"""Load monitor YAML files, with errors that name the file, the line and the field.

pydantic reports a location as a path (``monitors[0].checks.drift.psi``); `bot.yamldoc` (shared
with runbooks and the catalog) maps it to the line of the deepest part of the path in the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from bot import safeyaml
from bot.monitors.schema import EscalationSpec, MonitorConfig, MonitorSpec
from bot.yamldoc import YamlDoc, doc_from_node, format_loc


class MonitorConfigError(ValueError):
    """One or more problems in monitor files; each line of the message is ``file:line: field: problem``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class LoadedConfig:
    monitors: dict[str, MonitorSpec] = field(default_factory=dict)
    escalation: EscalationSpec = field(default_factory=EscalationSpec)
    files: tuple[str, ...] = ()


def _files(spec: str) -> list[Path]:
    out: list[Path] = []
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        path = Path(part)
        if path.is_dir():
            out.extend(sorted([*path.glob("*.yaml"), *path.glob("*.yml")]))
        elif path.exists():
            out.append(path)
        else:
            raise MonitorConfigError([f"{part}: no such monitor file or folder"])
    return out


def parse_text(text: str, filename: str) -> MonitorConfig:
    """Validate one file's text; raises `MonitorConfigError` with ``file:line: field: problem`` lines."""
    try:
        node, data = safeyaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise MonitorConfigError([f"{filename}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    if data is None:
        return MonitorConfig()
    if not isinstance(data, dict):
        raise MonitorConfigError([f"{filename}:1: expected a mapping with 'monitors:' and/or 'escalation:'"])
    doc = doc_from_node(node, data, filename) if node is not None else YamlDoc(filename, data)
    try:
        return MonitorConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and x.startswith("function-")))
            # pydantic appends the union member / literal tag to some locations; keep file paths only
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{filename}:{doc.line_of(loc)}: {format_loc(loc) or '(file)'}: {msg}")
        raise MonitorConfigError(problems) from None


def load_config(spec: str | None) -> LoadedConfig:
    """Read every file named by ``spec`` (files or folders, comma-separated) and merge them."""
    if not spec:
        return LoadedConfig()
    monitors: dict[str, MonitorSpec] = {}
    where: dict[str, str] = {}
    escalation: EscalationSpec | None = None
    problems: list[str] = []
    files = _files(spec)
    for path in files:
        try:
            cfg = parse_text(path.read_text(), str(path))
        except MonitorConfigError as exc:
            problems.extend(exc.problems)
            continue
        for m in cfg.monitors:
            if m.name in monitors:
                problems.append(f"{path}: monitors: name {m.name!r} is already used in {where[m.name]}")
                continue
            monitors[m.name] = m
            where[m.name] = str(path)
        if cfg.escalation is not None:
            if escalation is not None:
                problems.append(f"{path}: escalation: only one file may define the escalation policy")
            escalation = cfg.escalation
    if problems:
        raise MonitorConfigError(problems)
    return LoadedConfig(monitors=monitors, escalation=escalation or EscalationSpec(),
                        files=tuple(str(p) for p in files))


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(text: str) -> str:
    """``${VAR}`` → its value, so passwords stay out of the YAML (and out of error messages).

    Expanded when a monitor runs, not when it loads: a missing variable is then that monitor's
    incident, not a reason for the whole service to refuse to start.
    """

    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in os.environ:
            raise MonitorConfigError([f"environment variable {m.group(1)} is not set"])
        return os.environ[m.group(1)]

    return _ENV_REF.sub(sub, text)

