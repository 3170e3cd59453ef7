"""Loading the service catalog: a YAML file or a folder of them, errors as ``file:line: field: message``.

Beyond the schema, the loader enforces the catalog's trust rules:
- secrets appear only as ``${MLRESPONDER_SECRET_NAME}`` references, only in the values that
  need one (``prediction_log``, ``reference``, ``owners.pagerduty_routing_key``), and the
  variable must be set when the catalog loads (a missing one is found at start, not mid-incident);
- a literal secret (a password inside a URL, a PagerDuty routing key, a Slack token) is an
  error, never a warning: a catalog is committed to git and printed by ``catalog show``;
- keys a team adds are kept, but one a typo away from a contract key is an error.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.catalog.catalog import Catalog, LoadedService
from bot.catalog.schema import CatalogFile, Dependency, ModelRef, Owners, Service
from bot.secrets import PREFIX, refs_in
from bot.yamldoc import ConfigFileError, Loc, Problem, YamlDoc, parse_yaml, pydantic_problems, yaml_files


class CatalogError(ConfigFileError):
    """One or more problems in the catalog; one ``file:line: field: message`` per line."""


# Where a ``${MLRESPONDER_SECRET_…}`` reference may appear (path inside one service).
SECRET_FIELDS: tuple[Loc, ...] = (("prediction_log",), ("reference",), ("owners", "pagerduty_routing_key"))
_URL_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@:]*:([^/@]*)@")
_LITERAL_SECRETS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"xox[abposr]-[A-Za-z0-9-]{8,}"), "a Slack token"),
    (re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{32}(?![0-9A-Za-z])"), "a PagerDuty routing key"),
)
# The models whose extra keys are checked for typos, by their path shape inside a service.
_NESTED: dict[str, type[BaseModel]] = {"owners": Owners, "model": ModelRef}


def catalog_files(spec: str | Path | Iterable[str | Path]) -> list[Path]:
    """Files named, or the YAML files inside folders named; ``,`` or ``:`` separate several in one string."""
    parts: list[str | Path]
    if isinstance(spec, str):
        parts = [p for chunk in spec.split(",") for p in chunk.split(":") if p.strip()]
    elif isinstance(spec, Path):
        parts = [spec]
    else:
        parts = list(spec)
    return yaml_files(parts, lambda path: CatalogError([Problem(str(path), 0, "", "no such file or directory")]))


def load_catalog(
    spec: str | Path | Iterable[str | Path] | None,
    *,
    environ: Mapping[str, str] | None = None,
    known_actions: Iterable[str] | None = None,
) -> Catalog:
    """Load and validate every file; any problem anywhere raises one `CatalogError` listing all.

    ``spec`` None or empty: the empty catalog (no service is known, nothing acts on its own).
    ``known_actions``: the mitigation actions ``auto_approve`` may name (the caller knows them).
    """
    if spec is None or spec == "":
        return Catalog()
    env = os.environ if environ is None else environ
    services: list[LoadedService] = []
    problems: list[Problem] = []
    for path in catalog_files(spec):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), 0, "", f"cannot read: {exc}"))
            continue
        try:
            services += parse_catalog(text, str(path), environ=env)
        except CatalogError as exc:
            problems += exc.problems
    first: dict[str, LoadedService] = {}
    for item in services:
        name = item.service.name
        if name in first:
            problems.append(item.problem(("name",), f"service {name!r} is already defined at "
                                                    f"{first[name].file}:{first[name].line}"))
        first.setdefault(name, item)
    catalog = Catalog(tuple(services))
    if known_actions is not None:
        problems += catalog.action_problems(known_actions)
    if problems:
        raise CatalogError(problems)
    return catalog


def parse_catalog(text: str, file: str, *, environ: Mapping[str, str]) -> list[LoadedService]:
    try:
        doc = parse_yaml(text, file, what="a mapping with 'services:'")
    except ConfigFileError as exc:
        raise CatalogError(exc.problems) from None
    problems = [doc.problem(loc, msg) for loc, msg in doc.problems]
    if not isinstance(doc.data, dict):
        raise CatalogError([Problem(file, 1, "", f"expected a mapping with 'services:', "
                                                 f"got {type(doc.data).__name__}")])
    try:
        parsed = CatalogFile.model_validate(doc.data)
    except ValidationError as exc:
        problems += [doc.problem(loc, msg) for loc, msg in pydantic_problems(exc, CatalogFile)]
        raise CatalogError(sorted(problems, key=lambda p: p.line)) from None
    for i, service in enumerate(parsed.services):
        problems += [doc.problem(("services", i, *loc), msg)
                     for loc, msg in _service_problems(service, doc.data["services"][i], environ)]
    if problems:
        raise CatalogError(sorted(problems, key=lambda p: p.line))
    return [LoadedService(s, file, i, _lines_under(doc, ("services", i))) for i, s in enumerate(parsed.services)]


def _lines_under(doc: YamlDoc, base: Loc) -> dict[Loc, int]:
    return {loc[len(base):]: line for loc, line in doc.lines.items() if loc[: len(base)] == base}


def _service_problems(service: Service, raw: dict[str, Any], environ: Mapping[str, str]) -> Iterator[tuple[Loc, str]]:
    yield from _typo_keys(raw, Service, ())
    for key, model in _NESTED.items():
        if isinstance(raw.get(key), dict):
            yield from _typo_keys(raw[key], model, (key,))
    for j, dep in enumerate(raw.get("dependencies") or []):
        if isinstance(dep, dict):
            yield from _typo_keys(dep, Dependency, ("dependencies", j))
    names = service.dependency_names()
    for j, name in enumerate(names):
        if name in names[:j]:
            yield ("dependencies", j, "name"), f"dependency {name!r} is listed twice"
    for loc, value in _strings(raw, ()):
        yield from _secret_problems(loc, value, environ)
    if service.model is None and "rollback" in service.auto_approve:
        yield ("auto_approve",), "auto-approving rollback needs 'model' (the registered model to roll back)"


def _typo_keys(raw: dict[str, Any], model: type[BaseModel], base: Loc) -> Iterator[tuple[Loc, str]]:
    known = list(model.model_fields)
    for key in raw:
        if str(key) in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.8)
        if close:
            yield (*base, str(key)), f"unknown field {key!r} (did you mean {close[0]!r}?)"


def _strings(value: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*loc, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*loc, i))


def _secret_problems(loc: Loc, value: str, environ: Mapping[str, str]) -> Iterator[tuple[Loc, str]]:
    refs = refs_in(value)
    allowed = loc in SECRET_FIELDS
    for name in refs:
        if not allowed:
            yield loc, (f"${{{name}}}: secret references are read only in "
                        + ", ".join(".".join(map(str, f)) for f in SECRET_FIELDS))
        elif not name.startswith(PREFIX):
            yield loc, f"${{{name}}}: only ${{{PREFIX}…}} references are read from the environment"
        elif name not in environ:
            yield loc, f"${{{name}}}: environment variable {name} is not set"
    if loc == ("owners", "pagerduty_routing_key") and not re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}", value):
        yield loc, f"write the routing key as a ${{{PREFIX}…}} reference, not literally"
        return
    match = _URL_PASSWORD.match(value)
    if match and not re.fullmatch(r"(\$\{[A-Za-z_][A-Za-z0-9_]*\})+", match.group(1)):
        yield loc, f"a password inside a URL must be a ${{{PREFIX}…}} reference, not written literally"
        return
    for pattern, what in _LITERAL_SECRETS:
        if pattern.search(value):
            yield loc, f"looks like {what} written literally; use a ${{{PREFIX}…}} reference"
            return
