"""Label selectors shared by runbook ``match:`` and catalog ``match:``: a value or ``{regex}``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError


@dataclass(frozen=True)
class Matcher:
    """An exact value, or a regular expression that must match the whole value."""

    exact: str | None = None
    regex: str | None = None

    def matches(self, value: Any) -> bool:
        if value is None:
            return False
        text = str(value)
        if self.regex is not None:
            return re.fullmatch(self.regex, text) is not None
        return text == self.exact

    def describe(self) -> str:
        return f"~/{self.regex}/" if self.regex is not None else repr(self.exact)


def to_matcher(value: Any) -> Matcher:
    if isinstance(value, Matcher):
        return value
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return Matcher(exact=str(value))
    if isinstance(value, Mapping) and set(value) == {"regex"} and isinstance(value["regex"], str):
        try:
            re.compile(value["regex"])
        except re.error as exc:
            raise PydanticCustomError("regex", f"invalid regular expression {value['regex']!r}: {exc}") from exc
        return Matcher(regex=value["regex"])
    raise PydanticCustomError("matcher", f"expected a value or {{regex: <pattern>}}, got {value!r}")


MatcherField = Annotated[Matcher, BeforeValidator(to_matcher)]
