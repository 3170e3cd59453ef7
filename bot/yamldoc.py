"""YAML configuration files whose errors name the file, the line and the field.

Runbooks and the service catalog are both validated this way: YAML is composed into nodes
first so every value keeps its line (with `bot.safeyaml`: safe tags, bounded), pydantic validates the
plain data, and each error's location (``('steps', 2, 'mitigate', 'action')``) is mapped back
to a line and printed as ``file.yaml:14: steps[2].mitigate.action: <what is wrong>``.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from bot import safeyaml

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigFileError(Exception):
    """One or more invalid files; ``str()`` has one ``file:line: field: message`` per line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class YamlDoc:
    """A parsed YAML document with the line of every mapping key and sequence item."""

    file: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    # Problems found while composing (duplicate keys), before any schema is applied.
    problems: list[tuple[Loc, str]] = field(default_factory=list)

    def line_of(self, loc: Loc) -> int:
        while loc not in self.lines and loc:
            loc = loc[:-1]
        return self.lines.get(loc, 1)

    def problem(self, loc: Loc, message: str) -> Problem:
        return Problem(self.file, self.line_of(loc), format_loc(loc), message)


def yaml_files(paths: Iterable[str | Path], missing: Callable[[Path], Exception]) -> list[Path]:
    """Files named, or the YAML files inside the folders named (sorted, for a stable order).

    Runbooks, the catalog and monitors name their sources the same way; `missing` builds the
    loader's own error for a path that does not exist, so each keeps its `file:line` reporting.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise missing(path)
    return files


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else f" (expected one of {', '.join(choices)})"


def format_loc(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _walk(node: yaml.Node, loc: Loc, doc: YamlDoc) -> None:
    doc.lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                doc.problems.append(((*loc, key), f"duplicate key {key!r}"))
            seen.add(key)
            doc.lines[(*loc, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*loc, key), doc)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            doc.lines[(*loc, i)] = item.start_mark.line + 1
            _walk(item, (*loc, i), doc)


def parse_yaml(text: str, file: str, *, what: str) -> YamlDoc:
    """Safe-load one document; ``what`` names the expected content in the empty-file message."""
    try:
        node, data = safeyaml.compose(text)  # safe tags only, bounded size and alias expansion
        if node is None:
            raise ConfigFileError([Problem(file, 1, "", f"empty file (expected {what})")])
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigFileError([Problem(file, line, "", f"invalid YAML: {exc.problem or exc}")]) from exc
    return doc_from_node(node, data, file)


def doc_from_node(node: yaml.Node, data: Any, file: str) -> YamlDoc:
    """A `YamlDoc` for an already composed document (for loaders with their own empty/YAML-error policy)."""
    doc = YamlDoc(file, data)
    _walk(node, (), doc)
    return doc


def model_fields_at(loc: Loc, root: type[BaseModel]) -> list[str]:
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


def pydantic_problems(exc: ValidationError, root: type[BaseModel], base: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """pydantic's errors as (location, message a person can act on)."""
    for err in exc.errors(include_url=False):
        loc: Loc = (*base, *(p for p in err["loc"] if not (isinstance(p, str) and "[" in p)))
        kind = err["type"]
        if kind == "extra_forbidden":
            name = str(loc[-1])
            allowed = model_fields_at(loc[len(base):-1], root)
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
