"""Jinja2 for runbooks, inside a sandbox that refuses rather than renders anything unsafe.

Runbook messages, ``when:`` conditions and action parameters are templates written by users and
fed with alert data from outside. They render in an `ImmutableSandboxedEnvironment` with
`StrictUndefined`: access to internals (``__class__``, ``_private``, ``mro``...) raises a
`TemplateRefused` instead of quietly rendering an empty string, and a misspelt variable is an
error, not a blank in a chat message. Templates are also checked statically at load time, so
a runbook that tries to escape the sandbox never loads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.exceptions import SecurityError

from bot.sandbox import FORBIDDEN_NAMES, LimitedSandbox, render_limited

_FORBIDDEN_NAMES = FORBIDDEN_NAMES


# Filters whose first argument names an attribute to read.
_ATTRIBUTE_FILTERS = frozenset({"attr", "map", "selectattr", "rejectattr", "groupby"})


class TemplateRefused(Exception):
    """A template that tries to reach outside the sandbox; it is not rendered."""


class TemplateFailed(Exception):
    """A template that cannot be rendered with the data at hand (syntax, missing variable)."""


class RunbookSandbox(LimitedSandbox):
    """The core's limited sandbox (`bot.sandbox`), strict about undefined names."""


_ENV = RunbookSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


def _unsafe_names(tree: nodes.Node) -> Iterator[str]:
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        name: Any
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Name):
            name = node.name
        else:
            arg = getattr(node, "arg", None)
            name = arg.value if isinstance(arg, nodes.Const) else None
        if isinstance(name, str) and (name.startswith("_") or name in _FORBIDDEN_NAMES):
            yield name
    # attr('__class__'), map(attribute='__class__'), selectattr('x.__y__'): names given as strings.
    for call in tree.find_all((nodes.Filter, nodes.Test)):
        values = [kw.value for kw in call.kwargs if kw.key == "attribute"]
        if call.name in _ATTRIBUTE_FILTERS and call.args:
            values.append(call.args[0])
        for value in values:
            if isinstance(value, nodes.Const) and isinstance(value.value, str):
                for part in value.value.split("."):
                    if part.startswith("_") or part in _FORBIDDEN_NAMES:
                        yield part


# What a data source, an action URL or a mitigation target may be built from: configuration
# (the catalog's `service`, the runbook) and mlresponder's own findings. The alert (`labels`,
# `annotations`, `alert`, an incident's labels/title/summary/service) is text to show, never this.
_TRUSTED_ROOTS = frozenset({"service", "diagnosis", "runbook", "mitigation", "secrets"})
_TRUSTED_INCIDENT_FIELDS = frozenset({"id", "ref", "severity", "status", "started_at", "created_at"})


def referenced_paths(source: str) -> list[tuple[str, ...]]:
    """Every variable a template reads, as attribute paths: ``{{ service.model.registry }}`` →
    ``("service", "model", "registry")``; a bare ``{{ labels }}`` → ``("labels",)``."""
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError:
        return []
    inner: set[int] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, nodes.Getattr | nodes.Getitem)
        inner.add(id(node.node))
    # Loop and {% set %} variables: what they are bound from is itself a path of the template.
    local = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    paths: list[tuple[str, ...]] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        if id(node) in inner or (isinstance(node, nodes.Name) and node.ctx != "load"):
            continue
        parts: list[str] = []
        cur: nodes.Node = node
        while isinstance(cur, nodes.Getattr | nodes.Getitem):
            if isinstance(cur, nodes.Getattr):
                parts.append(cur.attr)
            else:
                arg = cur.arg
                parts.append(str(arg.value) if isinstance(arg, nodes.Const) else "[]")
            cur = cur.node
        if isinstance(cur, nodes.Name) and cur.name not in local:
            paths.append((cur.name, *reversed(parts)))
    return paths


def untrusted_paths(source: str) -> list[str]:
    """The variables of ``source`` that come from outside (the alert, chat, change events)."""
    bad: list[str] = []
    for path in referenced_paths(source):
        root = path[0]
        if root in _TRUSTED_ROOTS:
            continue
        if root == "incident" and len(path) > 1 and path[1] in _TRUSTED_INCIDENT_FIELDS:
            continue
        text = ".".join(path)
        if text not in bad:
            bad.append(text)
    return bad


def check_template(source: str, *, expression: bool = False) -> str | None:
    """Why this template may not be used (syntax or sandbox), or None when it is fine."""
    text = "{{ " + source + " }}" if expression else source
    try:
        tree = _ENV.parse(text)
    except TemplateSyntaxError as exc:
        return f"template syntax error: {exc.message}"
    bad = sorted(set(_unsafe_names(tree)))
    if bad:
        return f"template refused: access to {', '.join(repr(b) for b in bad)} is not allowed in the sandbox"
    return None


def render(source: str, context: Mapping[str, Any]) -> str:
    """Render a message template; refused or failing templates raise with a readable reason."""
    problem = check_template(source)
    if problem:
        raise (TemplateRefused if problem.startswith("template refused") else TemplateFailed)(problem)
    try:
        return render_limited(_ENV.from_string(source), context)
    except SecurityError as exc:
        raise TemplateRefused(f"template refused: {exc}") from exc
    except UndefinedError as exc:
        raise TemplateFailed(f"template error: {exc.message}") from exc
    except Exception as exc:  # a filter given the wrong type, a division by zero...
        raise TemplateFailed(f"template error: {exc}") from exc


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """Evaluate a ``when:`` expression (no ``{{ }}``) to its value."""
    problem = check_template(expression, expression=True)
    if problem:
        raise (TemplateRefused if problem.startswith("template refused") else TemplateFailed)(problem)
    try:
        return _ENV.compile_expression(expression, undefined_to_none=False)(**context)
    except SecurityError as exc:
        raise TemplateRefused(f"template refused: {exc}") from exc
    except UndefinedError as exc:
        raise TemplateFailed(f"condition error: {exc.message}") from exc
    except Exception as exc:
        raise TemplateFailed(f"condition error: {exc}") from exc


def render_tree(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every string inside nested dicts/lists (action parameters, HTTP bodies)."""
    if isinstance(value, str):
        return render(value, context) if ("{{" in value or "{%" in value) else value
    if isinstance(value, Mapping):
        return {k: render_tree(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_tree(v, context) for v in value]
    return value


def template_problems(value: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(relative path, problem) for every template string inside a parameter tree."""
    if isinstance(value, str):
        problem = check_template(value)
        if problem:
            yield (), problem
    elif isinstance(value, Mapping):
        for k, v in value.items():
            for sub, problem in template_problems(v):
                yield (k, *sub), problem
    elif isinstance(value, list):
        for i, v in enumerate(value):
            for sub, problem in template_problems(v):
                yield (i, *sub), problem
