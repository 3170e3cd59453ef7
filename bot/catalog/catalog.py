"""The loaded catalog: which service an alert is about, and everything known about it."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.catalog.schema import Service
from bot.secrets import refs_in
from bot.yamldoc import Loc, Problem, format_loc


@dataclass(frozen=True)
class LoadedService:
    service: Service
    file: str
    # Position in its file (``services[index]``) and the line of every key and item under it.
    index: int
    lines: Mapping[Loc, int] = field(default_factory=dict)

    @property
    def line(self) -> int:
        return self.lines.get((), 1)

    def problem(self, loc: Loc, message: str) -> Problem:
        at = loc
        while at and at not in self.lines:
            at = at[:-1]
        return Problem(self.file, self.lines.get(at, self.line), format_loc(("services", self.index, *loc)), message)


@dataclass(frozen=True)
class Catalog:
    """Services in load order (files sorted, then as written); the first whose selectors match wins."""

    entries: tuple[LoadedService, ...] = ()

    def __iter__(self) -> Iterator[Service]:
        return (e.service for e in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> list[str]:
        return [e.service.name for e in self.entries]

    def get(self, name: str | None) -> Service | None:
        return next((e.service for e in self.entries if e.service.name == name), None) if name else None

    def where(self, name: str) -> LoadedService | None:
        return next((e for e in self.entries if e.service.name == name), None)

    def match(self, labels: Mapping[str, Any]) -> Service | None:
        """The service an alert's labels select; None when no service matches (unknown service)."""
        return next((e.service for e in self.entries if e.service.matches(labels)), None)

    def change_scope(self, catalog_service: str | None, service: str) -> set[str]:
        """The change-event services that count for an incident: its service (and the model that
        service serves) and the service's catalog dependencies. Unknown service: its own name."""
        entry = self.get(catalog_service)
        if entry is None:
            return {service}
        names = {entry.name, *entry.dependency_names()}
        if entry.model is not None:
            names.add(entry.model.registry)
        return names

    def action_problems(self, known_actions: Iterable[str]) -> list[Problem]:
        """``auto_approve`` entries that name no mitigation action (the runbook engine knows them)."""
        known = tuple(known_actions)
        return [
            entry.problem(("auto_approve", j), f"unknown action {action!r} (expected one of {', '.join(known)})")
            for entry in self.entries
            for j, action in enumerate(entry.service.auto_approve)
            if action not in known
        ]

    def secret_values(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """The resolved secrets the catalog references, for the redactor of every way out."""
        env = os.environ if environ is None else environ
        out: list[str] = []
        for service in self:
            for raw in (service.prediction_log, service.reference, service.owners.pagerduty_routing_key):
                # The variables' own values (a URL's password), not the whole URL they sit in.
                out += [env[name] for name in refs_in(raw or "") if env.get(name)]
        return sorted(set(out))


def match_service(catalog: Catalog, labels: Mapping[str, Any]) -> Service | None:
    return catalog.match(labels)
