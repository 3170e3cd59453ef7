"""Model registries behind one interface; `registry_for(runtime)` gives the configured one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runbooks.registry.base import (
    ModelRegistry,
    RegistryError,
    RegistryUnavailable,
    UnknownModel,
    UnknownVersion,
    VersionInfo,
)

if TYPE_CHECKING:
    from bot.runtime import Runtime

__all__ = [
    "ModelRegistry", "RegistryError", "RegistryUnavailable", "UnknownModel", "UnknownVersion",
    "VersionInfo", "registry_for",
]


def registry_for(runtime: Runtime) -> ModelRegistry:
    """The registry in ``runtime.parts[ModelRegistry]``, else MLflow from the settings."""
    existing = runtime.parts.get(ModelRegistry)  # type: ignore[type-abstract]  # any implementation
    if existing is not None:
        return existing
    uri = runtime.settings.mlflow_registry_uri
    if not uri:
        raise RegistryUnavailable("no model registry configured (set MLRESPONDER_MLFLOW_REGISTRY_URI)")
    from runbooks.registry.mlflow import MlflowRegistry

    registry = MlflowRegistry(uri, serving_alias=runtime.settings.serving_alias)
    runtime.parts[ModelRegistry] = registry  # type: ignore[type-abstract]
    return registry
