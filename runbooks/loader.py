"""Loading runbook YAML with errors that name the file, the line and the field.

YAML is composed into nodes first so every value keeps its line; pydantic validates the
plain data, and each error's location (``('steps', 2, 'mitigate', 'action')``) is mapped back
to a line and printed as ``runbooks/x.yaml:14: steps[2].mitigate.action: <what is wrong>``.
A second pass checks what pydantic cannot: action parameters against the action's own
model, every template against the sandbox, unique step names, unique runbook names.
"""

from __future__ import annotations

import hashlib
import json
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.yamlfile import Loc, YamlDoc, YamlSyntaxError, format_loc, parse_yaml
from runbooks.actions import ACTIONS
from runbooks.schema import Runbook, did_you_mean
from runbooks.templating import check_template, template_problems

BUILTIN_DIR = Path(__file__).parent / "builtin"



@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class RunbookError(Exception):
    """One or more invalid runbooks; ``str()`` has one ``file:line: field: message`` per line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


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


def _parse(text: str, file: str) -> YamlDoc:
    try:
        doc = parse_yaml(text)
    except YamlSyntaxError as exc:
        raise RunbookError([Problem(file, exc.line, "", f"invalid YAML: {exc.problem}")]) from exc
    if doc.data is None:
        raise RunbookError([Problem(file, 1, "", "empty file (expected a runbook mapping)")])
    return doc


def _model_fields_at(loc: Loc, root: type[BaseModel] = Runbook) -> list[str]:
    """The field names allowed at ``loc`` (for "did you mean" on unknown fields)."""
    annotation: Any = root
    for part in loc:
        if isinstance(part, int):
            args = typing.get_args(annotation)
            annotation = args[0] if args else annotation
            continue
        model = _unwrap_model(annotation)
        if model is None or part not in model.model_fields:
            return []
        annotation = model.model_fields[part].annotation
        if typing.get_origin(annotation) in (list, dict) and typing.get_args(annotation):
            annotation = typing.get_args(annotation)[-1] if typing.get_origin(annotation) is dict \
                else annotation
    model = _unwrap_model(annotation)
    return list(model.model_fields) if model else []


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _unwrap_model(arg)
        if found is not None:
            return found
    return None


def _pydantic_problems(
    exc: ValidationError, base: Loc = (), root: type[BaseModel] = Runbook
) -> Iterator[tuple[Loc, str]]:
    for err in exc.errors(include_url=False):
        loc: Loc = (*base, *(p for p in err["loc"] if not (isinstance(p, str) and "[" in p)))
        kind = err["type"]
        if kind == "extra_forbidden":
            name = str(loc[-1])
            allowed = _model_fields_at(loc[len(base):-1], root)
            hint = did_you_mean(name, allowed) if allowed else ""
            yield loc, f"unknown field {name!r}{hint}"
        elif kind == "missing":
            yield loc, "required field is missing"
        elif kind in ("literal_error", "string_pattern_mismatch", "int_parsing", "float_parsing",
                      "bool_parsing", "string_type", "dict_type", "list_type", "model_type", "int_type",
                      "too_short", "greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            yield loc, f"{err['msg'][0].lower()}{err['msg'][1:]}, got {err.get('input')!r}"
        else:
            msg = err["msg"]
            yield loc, msg.removeprefix("Value error, ")


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
                yield from _pydantic_problems(exc, ploc, action.Params)
            for sub, problem in template_problems(step.mitigate.params):
                yield (*ploc, *sub), problem


def parse_runbook(text: str, file: str) -> LoadedRunbook:
    doc = _parse(text, file)
    problems = [Problem(file, doc.line_of(loc), format_loc(loc), f"duplicate key {loc[-1]!r}")
                for loc in doc.duplicate_keys]
    if not isinstance(doc.data, dict):
        raise RunbookError([Problem(file, 1, "", f"expected a runbook mapping, got {type(doc.data).__name__}")])
    try:
        runbook = Runbook.model_validate(doc.data)
    except ValidationError as exc:
        problems += [Problem(file, doc.line_of(loc), format_loc(loc), msg) for loc, msg in _pydantic_problems(exc)]
        raise RunbookError(sorted(problems, key=lambda p: p.line)) from None
    problems += [Problem(file, doc.line_of(loc), format_loc(loc), msg) for loc, msg in _semantic_problems(runbook)]
    if problems:
        raise RunbookError(sorted(problems, key=lambda p: p.line))
    steps_lines = tuple(doc.line_of(("steps", i)) for i in range(len(runbook.steps)))
    digest = hashlib.sha256(json.dumps(doc.data, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return LoadedRunbook(runbook=runbook, file=file, step_lines=steps_lines, digest=digest, raw=doc.data)


def runbook_files(paths: Iterable[str | Path]) -> list[Path]:
    """YAML files named, or inside the folders named, sorted for a stable order."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise RunbookError([Problem(str(path), 0, "", "no such file or directory")])
    return files


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
