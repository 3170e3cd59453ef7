"""MLflow Model Registry through `MlflowClient`: serving = a registered-model alias.

Works against any MLflow registry URI (``sqlite:///...``, ``postgresql://...``, an MLflow
tracking server over HTTP, Databricks). MLflow's own HTTP client retries for minutes by
default; an incident bot must fail fast and say so, hence the short retry settings.
"""

from __future__ import annotations

import os
import re
from typing import Any

from runbooks.registry.base import (
    ModelRegistry,
    RegistryError,
    RegistryUnavailable,
    UnknownModel,
    UnknownVersion,
    VersionInfo,
)


def _redact(uri: str) -> str:
    return re.sub(r"//[^/@]*@", "//***@", uri)


class MlflowRegistry(ModelRegistry):
    def __init__(self, registry_uri: str, *, serving_alias: str = "champion") -> None:
        # Fail within seconds rather than MLflow's default minutes of backoff (setdefault: an
        # operator's own settings win).
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        self.registry_uri = registry_uri
        self.serving_alias = serving_alias
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                from mlflow import MlflowClient
            except ImportError as exc:  # pragma: no cover - depends on the installed extras
                raise RegistryUnavailable(
                    "the MLflow client is not installed (pip install 'mlresponder[mlflow]')"
                ) from exc
            try:
                self._client = MlflowClient(tracking_uri=self.registry_uri, registry_uri=self.registry_uri)
            except Exception as exc:
                raise RegistryUnavailable(f"MLflow registry {self.describe()} unusable: {exc}") from exc
        return self._client

    def describe(self) -> str:
        return f"MLflow registry {_redact(self.registry_uri)}"

    def _call(self, what: str, fn: Any, *args: Any, name: str, version: str | None = None) -> Any:
        try:
            return fn(*args)
        except RegistryError:
            raise
        except Exception as exc:
            code = getattr(exc, "error_code", None)
            if code == "RESOURCE_DOES_NOT_EXIST":
                if version is not None and "Version" in str(exc):
                    raise UnknownVersion(f"model {name!r} has no version {version!r} in {self.describe()}") \
                        from exc
                raise UnknownModel(f"no registered model {name!r} in {self.describe()}") from exc
            if code in (None, "INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"):
                first_line = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
                raise RegistryUnavailable(f"{self.describe()} unavailable while {what}: {first_line}") from exc
            raise RegistryError(f"{self.describe()} refused {what}: {exc}") from exc

    def serving_version(self, name: str) -> str:
        version = self.alias_version(name, self.serving_alias)
        if version is None:
            raise UnknownModel(f"model {name!r} has no {self.serving_alias!r} alias in {self.describe()}")
        return version

    def alias_version(self, name: str, alias: str) -> str | None:
        model = self._call(f"reading model {name!r}", self.client.get_registered_model, name, name=name)
        aliases = dict(model.aliases or {})
        value = aliases.get(alias)
        return None if value is None else str(value)

    def set_serving(self, name: str, version: str) -> None:
        self.get_version(name, version)  # never point the alias at nothing
        self._call(
            f"moving alias {self.serving_alias!r} of {name!r} to version {version}",
            self.client.set_registered_model_alias, name, self.serving_alias, str(version),
            name=name, version=version,
        )

    def get_version(self, name: str, version: str) -> VersionInfo:
        if not str(version).isdigit():
            raise UnknownVersion(f"model {name!r} has no version {version!r} in {self.describe()} "
                                 "(MLflow versions are numbers)")
        mv = self._call(f"reading version {version} of {name!r}", self.client.get_model_version, name,
                        str(version), name=name, version=str(version))
        return self._info(mv)

    def list_versions(self, name: str) -> list[VersionInfo]:
        self._call(f"reading model {name!r}", self.client.get_registered_model, name, name=name)
        found = self._call(f"listing versions of {name!r}", self.client.search_model_versions,
                           f"name = '{name}'", name=name)
        infos = [self._info(mv) for mv in found]
        return sorted(infos, key=lambda v: int(v.version))

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self._call(f"tagging version {version} of {name!r}", self.client.set_model_version_tag, name,
                   str(version), key, value, name=name, version=str(version))

    @staticmethod
    def _info(mv: Any) -> VersionInfo:
        return VersionInfo(
            name=mv.name,
            version=str(mv.version),
            aliases=tuple(getattr(mv, "aliases", None) or ()),
            tags=dict(getattr(mv, "tags", None) or {}),
            created_at_ms=getattr(mv, "creation_timestamp", None),
            description=getattr(mv, "description", None) or "",
        )
