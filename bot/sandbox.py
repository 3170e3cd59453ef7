"""The one Jinja2 environment kind: sandboxed, immutable, with limits on output size and time.

Runbook messages and parameters, and postmortem templates (the built-in ones and a team's own),
all render here. The sandbox refuses internals (``__globals__``, ``mro``...); the limits stop a
template that would build a huge string (``'a' * 10**8``, ``'%99999999s' % x``, ``center(10**9)``),
loop without end over ``range`` or run past its time: each raises `TemplateLimitExceeded` instead of
eating the memory or the CPU of the service. Time is checked at every call, loop step over
``range`` and output chunk, so a template cannot spin without meeting a check.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from jinja2 import Template, filters
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.errors import InvalidInput

MAX_OUTPUT = 1_000_000  # characters of one rendering (and of any string built on the way)
MAX_SECONDS = 2.0
MAX_RANGE_ITEMS = 100_000  # all `range` loops of one rendering together
MAX_EXPONENT = 256

# Attributes that lead from a value to the interpreter's internals even without a leading "_".
FORBIDDEN_NAMES = frozenset(
    {"mro", "func_globals", "func_code", "gi_frame", "gi_code", "cr_frame", "cr_code", "f_globals",
     "f_locals", "f_builtins", "co_code", "tb_frame", "ag_frame", "ag_code"}
)
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "format", "join"})
_WIDTH = re.compile(r"\d+")


class TemplateLimitExceeded(SecurityError):
    """A template that would exceed the output-size or render-time limit."""


class TemplateRefused(InvalidInput):
    """A template the sandbox will not render (unsafe access or a limit); nothing was produced."""


class _Budget(threading.local):
    deadline: float = 0.0
    max_output: int = MAX_OUTPUT
    range_items: int = 0


_budget = _Budget()


def _check_time() -> None:
    if _budget.deadline and time.monotonic() > _budget.deadline:
        raise TemplateLimitExceeded(f"template ran longer than its limit ({MAX_SECONDS:g} s)")


def _check_size(n: int) -> None:
    if n > _budget.max_output:
        raise TemplateLimitExceeded(f"template output over its limit ({_budget.max_output} characters)")


def _budgeted_range(*args: int) -> Iterator[int]:
    numbers = range(*args)
    _budget.range_items += len(numbers)
    if _budget.range_items > MAX_RANGE_ITEMS:
        raise TemplateLimitExceeded(f"range loops over more than {MAX_RANGE_ITEMS} items")
    for i, n in enumerate(numbers):
        if i % 1000 == 0:
            _check_time()
        yield n


def _width_filter(name: str) -> Any:
    original = filters.FILTERS[name]

    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        for arg in (*args, *kwargs.values()):
            if isinstance(arg, int) and not isinstance(arg, bool):
                _check_size(abs(arg))
        result = original(value, *args, **kwargs)
        if isinstance(result, str):
            _check_size(len(result))
        return result

    if hasattr(original, "jinja_pass_arg"):  # @pass_environment / @pass_eval_context filters
        bounded.jinja_pass_arg = original.jinja_pass_arg  # type: ignore[attr-defined]
    return bounded


class LimitedSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.globals.pop("lipsum", None)
        self.globals["range"] = _budgeted_range
        for name in ("center", "indent", "wordwrap", "format", "truncate", "join", "replace"):
            self.filters[name] = _width_filter(name)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_") or attr in FORBIDDEN_NAMES:
            return False
        return bool(super().is_safe_attribute(obj, attr, value))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_time()
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise TemplateLimitExceeded(f"exponent {right} over the limit ({MAX_EXPONENT})")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int):
                    _check_size(len(seq) * times)
        if operator == "%" and isinstance(left, str):
            for width in _WIDTH.findall(left):
                _check_size(int(width) if len(width) < 12 else 10**12)
        result = super().call_binop(context, operator, left, right)
        if isinstance(result, str | list | tuple):
            _check_size(len(result))
        return result

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _check_time()
        if getattr(__obj, "__name__", None) in _PADDING_METHODS:
            for arg in (*args, *kwargs.values()):
                if isinstance(arg, int) and not isinstance(arg, bool):
                    _check_size(abs(arg))
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(result, str):
            _check_size(len(result))
        return result


def render_limited(template: Template, context: Mapping[str, Any], *, max_output: int = MAX_OUTPUT,
                   max_seconds: float = MAX_SECONDS) -> str:
    """Render within the limits; `TemplateLimitExceeded` (a `SecurityError`) past either."""
    outer = (_budget.deadline, _budget.max_output, _budget.range_items)
    _budget.deadline = time.monotonic() + max_seconds
    _budget.max_output, _budget.range_items = max_output, 0
    try:
        parts: list[str] = []
        size = 0
        for chunk in template.generate(**context):
            size += len(chunk)
            _check_size(size)
            _check_time()
            parts.append(chunk)
        return "".join(parts)
    finally:
        _budget.deadline, _budget.max_output, _budget.range_items = outer
