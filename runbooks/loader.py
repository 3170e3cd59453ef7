"""Loading runbook YAML with errors that name the file, the line and the field.

`bot.yamldoc` composes the YAML with lines and maps pydantic's errors back to them
(``runbooks/x.yaml:14: steps[2].mitigate.action: <what is wrong>``). A second pass checks what
pydantic cannot: action parameters against the action's own model, every template against the
sandbox, unique step names, unique runbook names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.yamldoc import ConfigFileError, Loc, Problem, parse_yaml, pydantic_problems, yaml_files
from runbooks.actions import ACTIONS
from runbooks.schema import Runbook
from runbooks.templating import check_template, template_problems, untrusted_paths

BUILTIN_DIR = Path(__file__).parent / "builtin"


class RunbookError(ConfigFileError):
    """One or more invalid runbooks; ``str()`` has one ``file:line: field: message`` per line."""


@dataclass(frozen=True)
class LoadedRunbook:
    runbook: Runbook
    file: str
    # Lines of each step, for messages about a step at run time.
    step_lines: tuple[int, ...] = ()
    digest: str = ""
    # The YAML data as written: a run stores it, so a resumed run follows the same steps.
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.runbook.name


# Step fields that say what mlresponder reads, calls or changes: never built from the alert.
DATA_FIELDS: dict[str, tuple[str, ...]] = {
    "diagnose": ("log", "query", "reference"),
    "verify": ("log", "query", "prometheus"),
    "mitigate": ("target",),
}
# Action parameters that are payload (text sent), not where to or what: the rest are checked.
_PAYLOAD_PARAMS = frozenset({"json", "body"})
_HINT = {"log": "service.prediction_log", "reference": "service.reference", "target": "service.model.registry",
         "prometheus": "service.metrics.<key>"}


def _alert_sourced(loc: Loc, value: Any) -> Iterator[tuple[Loc, str]]:
    """A data source, URL or target templated from the alert: the alert is text, never configuration."""
    if isinstance(value, str):
        bad = untrusted_paths(value) if ("{{" in value or "{%" in value) else []
        if bad:
            field_name = next((str(p) for p in reversed(loc) if isinstance(p, str)), "")
            hint = _HINT.get(field_name, "service.…")
            yield loc, (f"may not come from the alert or other outside text ({', '.join(bad)}); "
                        f"what mlresponder reads, calls or changes comes from the catalog (e.g. {hint})")
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _PAYLOAD_PARAMS:
                yield from _alert_sourced((*loc, key), item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _alert_sourced((*loc, i), item)


def _semantic_problems(runbook: Runbook) -> Iterator[tuple[Loc, str]]:
    names: dict[str, int] = {}
    for i, step in enumerate(runbook.steps):
        base: Loc = ("steps", i)
        if step.name:
            if step.name in names:
                yield (*base, "name"), f"duplicate step name {step.name!r} (also steps[{names[step.name]}])"
            names.setdefault(step.name, i)
        if step.when is not None:
            problem = check_template(step.when, expression=True)
            if problem:
                yield (*base, "when"), problem
        body = step.body
        for field_name in DATA_FIELDS.get(step.kind, ()):
            yield from _alert_sourced((*base, step.kind, field_name), getattr(body, field_name))
        for field_name, value in body.model_dump(by_alias=True, exclude_none=True).items():
            if field_name == "params" or not isinstance(value, (str, list, dict)):
                continue
            for sub, problem in template_problems(value):
                yield (*base, step.kind, field_name, *sub), problem
        if step.mitigate is not None:
            action = ACTIONS[step.mitigate.action]
            ploc: Loc = (*base, "mitigate", "params")
            try:
                action.Params.model_validate(step.mitigate.params)
            except ValidationError as exc:
                yield from pydantic_problems(exc, action.Params, ploc)
            for sub, problem in template_problems(step.mitigate.params):
                yield (*ploc, *sub), problem
            yield from _alert_sourced(ploc, step.mitigate.params)


def parse_runbook(text: str, file: str) -> LoadedRunbook:
    try:
        doc = parse_yaml(text, file, what="a runbook mapping")
    except ConfigFileError as exc:
        raise RunbookError(exc.problems) from None
    problems = [doc.problem(loc, msg) for loc, msg in doc.problems]
    if not isinstance(doc.data, dict):
        raise RunbookError([Problem(file, 1, "", f"expected a runbook mapping, got {type(doc.data).__name__}")])
    try:
        runbook = Runbook.model_validate(doc.data)
    except ValidationError as exc:
        problems += [doc.problem(loc, msg) for loc, msg in pydantic_problems(exc, Runbook)]
        raise RunbookError(sorted(problems, key=lambda p: p.line)) from None
    problems += [doc.problem(loc, msg) for loc, msg in _semantic_problems(runbook)]
    if problems:
        raise RunbookError(sorted(problems, key=lambda p: p.line))
    steps_lines = tuple(doc.line_of(("steps", i)) for i in range(len(runbook.steps)))
    digest = hashlib.sha256(json.dumps(doc.data, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return LoadedRunbook(runbook=runbook, file=file, step_lines=steps_lines, digest=digest, raw=doc.data)


def runbook_files(paths: Iterable[str | Path]) -> list[Path]:
    """YAML files named, or inside the folders named, sorted for a stable order."""
    return yaml_files(paths, lambda path: RunbookError([Problem(str(path), 0, "", "no such file or directory")]))


def load_runbooks(paths: Iterable[str | Path] | None = None) -> list[LoadedRunbook]:
    """Load and validate every runbook; any problem in any file raises one `RunbookError` for all."""
    files = runbook_files(paths if paths is not None else [BUILTIN_DIR])
    loaded: list[LoadedRunbook] = []
    problems: list[Problem] = []
    for path in files:
        try:
            loaded.append(parse_runbook(path.read_text(encoding="utf-8"), str(path)))
        except RunbookError as exc:
            problems += exc.problems
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), 0, "", f"cannot read: {exc}"))
    first: dict[str, LoadedRunbook] = {}
    for item in loaded:
        if item.name in first:
            problems.append(Problem(item.file, 1, "name", f"runbook name {item.name!r} is already used by "
                                                          f"{first[item.name].file}"))
        first.setdefault(item.name, item)
    if problems:
        raise RunbookError(problems)
    return loaded


def paths_from_setting(value: str | None) -> list[str] | None:
    """``MLRESPONDER_RUNBOOKS``: folders or files separated by ``:`` or ``,``; None → built-ins."""
    if not value:
        return None
    return [p for chunk in value.split(",") for p in chunk.split(":") if p.strip()]
