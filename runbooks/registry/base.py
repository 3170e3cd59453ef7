"""The model registry as the runbook engine sees it: which version serves, and how to change it.

"Serving" is a pointer from a model name to one version (an MLflow alias, a KServe
InferenceService's storage URI, a SageMaker endpoint's variant...). Mitigations only read and
move that pointer, so any registry that can do the few calls below can host them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field


class RegistryError(Exception):
    """The registry refused or could not do what was asked; the message says what and where."""


class RegistryUnavailable(RegistryError):
    """The registry could not be reached (down, misconfigured, timing out)."""


class UnknownModel(RegistryError):
    pass


class UnknownVersion(RegistryError):
    pass


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: str
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    created_at_ms: int | None = None
    description: str = ""


class ModelRegistry(ABC):
    """Read and move the serving pointer of registered models."""

    #: name of the pointer that means "serving" (e.g. the MLflow alias "champion")
    serving_alias: str

    @abstractmethod
    def describe(self) -> str:
        """Where the registry is, for messages (never with credentials)."""

    @abstractmethod
    def serving_version(self, name: str) -> str:
        """The version serving now; UnknownModel when the model or its serving pointer is missing."""

    @abstractmethod
    def set_serving(self, name: str, version: str) -> None:
        """Point serving at ``version`` (which must exist)."""

    @abstractmethod
    def get_version(self, name: str, version: str) -> VersionInfo:
        """One version; UnknownVersion when it does not exist."""

    @abstractmethod
    def list_versions(self, name: str) -> list[VersionInfo]:
        """All versions, oldest first."""

    @abstractmethod
    def alias_version(self, name: str, alias: str) -> str | None:
        """The version an alias points at, or None."""

    @abstractmethod
    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        """Annotate a version (e.g. mark it known-bad after a rollback)."""
