"""Reading a YAML config file so that every error can name its line: one way for runbooks, monitors
and any other YAML the service reads.

`parse_yaml` returns the data with the line of every key and list item (``("steps", 2, "mitigate")``
→ 14) and the duplicate keys PyYAML would silently merge; `line_of` finds the closest known line
of a location, `format_loc` writes it as people read it (``steps[2].mitigate``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from bot import safeyaml

Loc = tuple[str | int, ...]


class YamlSyntaxError(ValueError):
    """Text that is not YAML; ``line`` is 1-based, ``problem`` is PyYAML's description."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


@dataclass
class YamlDoc:
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    duplicate_keys: list[Loc] = field(default_factory=list)

    def line_of(self, loc: Loc) -> int:
        return line_of(self.lines, loc)


def parse_yaml(text: str) -> YamlDoc:
    """Parse once (`bot.safeyaml`: safe and bounded), recording lines; raises `YamlSyntaxError`.
    Empty text gives data None."""
    try:
        node, data = safeyaml.compose(text)  # bounded: size and alias expansion
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        raise YamlSyntaxError(mark.line + 1 if mark else 1, str(getattr(exc, "problem", None) or exc)) from None
    doc = YamlDoc(data)
    if node is not None:
        _walk(node, (), doc)
    return doc


def _walk(node: yaml.Node, loc: Loc, doc: YamlDoc) -> None:
    doc.lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                doc.duplicate_keys.append((*loc, key))
            seen.add(key)
            # an error about a key points at the key's line, even when its value starts below
            doc.lines[(*loc, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*loc, key), doc)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            doc.lines[(*loc, i)] = item.start_mark.line + 1
            _walk(item, (*loc, i), doc)


def line_of(lines: dict[Loc, int], loc: Loc) -> int:
    """The line of ``loc``, else of its closest parent that has one, else 1."""
    while loc not in lines and loc:
        loc = loc[:-1]
    return lines.get(loc, 1)


def format_loc(loc: Iterable[str | int], *, empty: str = "") -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or empty
