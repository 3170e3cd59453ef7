"""A stopgap reader of the service catalog's diagnosis keys, used only while `bot.catalog` is not in
the build (it lands with the catalog work of issue 10, which replaces this module).

Reads what `diagnose --service` needs — ``name``, ``metrics`` (PromQL strings or ``{query, kind}``),
``dependencies`` with their ``metrics``, ``prediction_log``, ``model.registry`` — from a YAML file or
a folder of them, and says which file and field is wrong when one is.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.safeyaml import safe_load
from diagnostics.series import SERIES_KINDS, kind_for_key


class FallbackCatalogError(ValueError):
    pass


@dataclass(frozen=True)
class _Ref:
    key: str
    query: str
    kind: str
    dependency: str | None = None


@dataclass(frozen=True)
class _Model:
    registry: str


@dataclass
class FallbackService:
    name: str
    refs: list[_Ref] = field(default_factory=list)
    prediction_log: str | None = None
    model: _Model | None = None

    def series(self) -> list[_Ref]:
        return list(self.refs)


@dataclass
class FallbackCatalog:
    services: list[FallbackService]

    def get(self, name: str) -> FallbackService | None:
        return next((s for s in self.services if s.name == name), None)

    def names(self) -> list[str]:
        return [s.name for s in self.services]


def _metrics(raw: Any, where: str, dependency: str | None) -> list[_Ref]:
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise FallbackCatalogError(f"{where}.metrics: expected a mapping of series key to PromQL")
    out = []
    for key, item in raw.items():
        if isinstance(item, str) and item.strip():
            out.append(_Ref(str(key), item, kind_for_key(str(key)), dependency))
        elif isinstance(item, dict) and isinstance(item.get("query"), str) and item["query"].strip():
            kind = str(item.get("kind") or kind_for_key(str(key)))
            if kind not in SERIES_KINDS:
                raise FallbackCatalogError(
                    f"{where}.metrics.{key}.kind: {kind!r} is not one of {', '.join(SERIES_KINDS)}"
                )
            out.append(_Ref(str(key), item["query"], kind, dependency))
        else:
            raise FallbackCatalogError(f"{where}.metrics.{key}: expected PromQL text or {{query, kind}}")
    return out


def load(spec: str) -> FallbackCatalog:
    path = Path(spec)
    files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")) if path.is_dir() else [path]
    services: list[FallbackService] = []
    for f in files:
        try:
            doc = safe_load(f.read_text(encoding="utf-8"))
        except OSError as exc:
            raise FallbackCatalogError(f"{f}: cannot read: {exc.strerror or exc}") from None
        except Exception as exc:  # a YAML syntax error or a document over the size limits
            raise FallbackCatalogError(f"{f}: not valid YAML: {str(exc).splitlines()[0]}") from None
        items = doc.get("services") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise FallbackCatalogError(f"{f}: services: expected a list of services")
        for i, item in enumerate(items):
            where = f"{f}: services[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
                raise FallbackCatalogError(f"{where}.name: required")
            refs = _metrics(item.get("metrics"), where, None)
            deps = item.get("dependencies") or []
            if not isinstance(deps, list):
                raise FallbackCatalogError(f"{where}.dependencies: expected a list")
            for j, dep in enumerate(deps):
                if not isinstance(dep, dict) or not isinstance(dep.get("name"), str):
                    raise FallbackCatalogError(f"{where}.dependencies[{j}].name: required")
                refs += _metrics(dep.get("metrics"), f"{where}.dependencies[{j}]", dep["name"])
            model = item.get("model")
            registry = model.get("registry") if isinstance(model, dict) else None
            log = item.get("prediction_log")
            services.append(
                FallbackService(
                    item["name"], refs, str(log) if log else None, _Model(str(registry)) if registry else None
                )
            )
    return FallbackCatalog(services)


def resolve_refs(text: str) -> str:
    """``${MLRESPONDER_SECRET_X}`` references from the environment (unset: left as written)."""
    return re.sub(r"\$\{(MLRESPONDER_SECRET_[A-Z0-9_]+)\}", lambda m: os.environ.get(m.group(1), m.group(0)), text)
