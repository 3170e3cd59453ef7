"""Mitigations that move a model's serving alias: `rollback` and `naive_model`.

Both are a single compare-and-set on the registry's serving pointer, which is what keeps them
safe: the plan records the version serving when it was made, execution refuses if that is no
longer true, and a revert only moves the pointer back if it still points where we left it.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from runbooks.actions.base import Action, ActionContext, ActionError, register_action
from runbooks.registry.base import ModelRegistry, RegistryError

FALLBACK_TAG = "mlresponder.role"
FALLBACK_TAG_VALUE = "naive"
KNOWN_BAD_TAG = "mlresponder.known_bad"


def _registry(ctx: ActionContext) -> ModelRegistry:
    try:
        return ctx.registry()
    except RegistryError as exc:
        raise ActionError(str(exc)) from exc


class _AliasMove(Action):
    """Shared execute/verify/revert: move the serving alias from one version to another."""

    def _plan_move(self, ctx: ActionContext, to_version: str, reason: str) -> dict[str, Any]:
        reg = _registry(ctx)
        try:
            current = reg.serving_version(ctx.target)
            reg.get_version(ctx.target, to_version)
        except RegistryError as exc:
            raise ActionError(str(exc)) from exc
        if current == to_version:
            raise ActionError(
                f"{ctx.target!r} already serves version {current} ({reg.serving_alias!r}); nothing to change"
            )
        return {
            "summary": f"move {reg.serving_alias!r} of {ctx.target!r} from version {current} to "
                       f"version {to_version} ({reason})",
            "target": ctx.target,
            "alias": reg.serving_alias,
            "from_version": current,
            "to_version": to_version,
            "reason": reason,
            "registry": reg.describe(),
        }

    def execute(self, ctx: ActionContext, plan: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        reg = _registry(ctx)
        try:
            current = reg.serving_version(ctx.target)
            if current != plan["from_version"]:
                raise ActionError(
                    f"{ctx.target!r} now serves version {current}, not version {plan['from_version']} as "
                    "planned; nothing changed (propose the mitigation again)"
                )
            reg.set_serving(ctx.target, plan["to_version"])
            now = reg.serving_version(ctx.target)
        except RegistryError as exc:
            raise ActionError(str(exc)) from exc
        if now != plan["to_version"]:
            raise ActionError(f"{ctx.target!r} serves version {now} after moving it to {plan['to_version']}")
        self._after_move(reg, ctx, plan)
        before = {"target": ctx.target, "alias": reg.serving_alias, "version": current}
        after = {"target": ctx.target, "alias": reg.serving_alias, "version": now}
        return before, after

    def _after_move(self, reg: ModelRegistry, ctx: ActionContext, plan: dict[str, Any]) -> None:
        """Optional bookkeeping once the move is done; never fails the mitigation."""

    def verify(self, ctx: ActionContext, plan: dict[str, Any]) -> bool | None:
        try:
            return _registry(ctx).serving_version(ctx.target) == plan["to_version"]
        except (RegistryError, ActionError):
            return None

    def revert(self, ctx: ActionContext, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
        reg = _registry(ctx)
        try:
            current = reg.serving_version(ctx.target)
            if current != after["version"]:
                raise ActionError(
                    f"{ctx.target!r} now serves version {current}, not version {after['version']} set by "
                    "this mitigation; someone changed it since, so it is left alone"
                )
            reg.set_serving(ctx.target, before["version"])
            now = reg.serving_version(ctx.target)
        except RegistryError as exc:
            raise ActionError(str(exc)) from exc
        return {"target": ctx.target, "alias": reg.serving_alias, "version": now}

    def reverted(self, ctx: ActionContext, before: dict[str, Any], after: dict[str, Any]) -> bool | None:
        try:
            now = _registry(ctx).serving_version(ctx.target)
        except (RegistryError, ActionError):
            return None
        if now == before.get("version"):
            return True
        return False if now == after.get("version") else None  # a third version: someone else moved it


class RollbackParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Roll back to exactly this version instead of the last known-good one.
    to_version: str | None = None


@register_action
class RollbackAction(_AliasMove):
    """Serve the version that served before the culprit was deployed, never the culprit again.

    The target comes from the deploys recorded for the service (mlresponder's own alias moves are
    mitigations, not deploys, and are never read as one), else the registry's newest older version.
    A version tagged known-bad, or the version the diagnosis blames, is refused with the reason;
    the runbook then escalates instead of moving the alias.
    """

    name: ClassVar[str] = "rollback"
    description: ClassVar[str] = "serve the last known-good version of the target model"
    Params: ClassVar[type[BaseModel]] = RollbackParams

    def plan(self, ctx: ActionContext) -> dict[str, Any]:
        params = ctx.params
        assert isinstance(params, RollbackParams)
        reg = _registry(ctx)
        try:
            current = reg.serving_version(ctx.target)
        except RegistryError as exc:
            raise ActionError(str(exc)) from exc
        culprit = _culprit_version(ctx)
        if culprit is not None and not _same_version(culprit, current):
            raise ActionError(
                f"refused: the diagnosis blames version {culprit}, but {reg.serving_alias!r} of {ctx.target!r} "
                f"serves version {current}; rolling back further would not remove the culprit")
        if params.to_version:
            version, reason = str(params.to_version), "version given by the runbook"
        else:
            version, reason = self._known_good(reg, ctx, current)
        self._refuse_bad(reg, ctx, version, culprit)
        return self._plan_move(ctx, version, reason)

    @staticmethod
    def _refuse_bad(reg: ModelRegistry, ctx: ActionContext, version: str, culprit: str | None) -> None:
        if culprit is not None and _same_version(version, culprit):
            raise ActionError(f"refused: version {version} is the version the diagnosis blames")
        try:
            tags = reg.get_version(ctx.target, version).tags
        except RegistryError as exc:
            raise ActionError(str(exc)) from exc
        if KNOWN_BAD_TAG in tags:
            raise ActionError(f"refused: version {version} of {ctx.target!r} is tagged {KNOWN_BAD_TAG} "
                              f"({tags[KNOWN_BAD_TAG]}); it will not be served again automatically")

    def _known_good(self, reg: ModelRegistry, ctx: ActionContext, current: str) -> tuple[str, str]:
        # 1. The deploy that put the current version in place says what served before it.
        for change in reversed(ctx.changes):
            if (change.get("kind") == "model_deploy" and change.get("origin") != "mitigation"
                    and str(change.get("to_version")) == current and change.get("from_version")):
                return str(change["from_version"]), (
                    f"version {current} was deployed at {change.get('timestamp')} over version "
                    f"{change['from_version']}"
                )
        # 2. The registry's history: the newest older version not known bad and not the fallback.
        try:
            versions = reg.list_versions(ctx.target)
        except RegistryError as exc:
            raise ActionError(str(exc)) from exc
        older = [
            v for v in versions
            if v.version.isdigit() and current.isdigit() and int(v.version) < int(current)
            and v.tags.get(FALLBACK_TAG) != FALLBACK_TAG_VALUE and KNOWN_BAD_TAG not in v.tags
            and "fallback" not in v.aliases
        ]
        if not older:
            raise ActionError(
                f"no known-good version of {ctx.target!r} before version {current}: no deploy of it in the "
                f"change log and no older version in the registry"
            )
        return older[-1].version, f"newest registered version before version {current}"

    def _after_move(self, reg: ModelRegistry, ctx: ActionContext, plan: dict[str, Any]) -> None:
        # Lets the next rollback skip it; the move itself already succeeded, so a failure is ignored.
        with contextlib.suppress(RegistryError):
            reg.set_version_tag(ctx.target, plan["from_version"], KNOWN_BAD_TAG,
                                str(ctx.incident.get("ref", "yes")))


def _same_version(a: str, b: str) -> bool:
    """Prediction logs often write a registry version "3" as "v3"."""
    return a.strip().lower().removeprefix("v") == b.strip().lower().removeprefix("v")


def _culprit_version(ctx: ActionContext) -> str | None:
    culprit = (ctx.diagnosis or {}).get("culprit") or {}
    if culprit.get("kind") == "model_version" and culprit.get("name") not in (None, ""):
        return str(culprit["name"])
    return None


class NaiveModelParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Where the fallback is declared: a version, an alias, or a version tag "key=value".
    fallback_version: str | None = None
    fallback_alias: str = "fallback"
    fallback_tag: str = f"{FALLBACK_TAG}={FALLBACK_TAG_VALUE}"


@register_action
class NaiveModelAction(_AliasMove):
    """Serve the target's registered fallback: a simple, robust model or heuristic."""

    name: ClassVar[str] = "naive_model"
    description: ClassVar[str] = "serve the target's registered naive fallback model"
    Params: ClassVar[type[BaseModel]] = NaiveModelParams

    def plan(self, ctx: ActionContext) -> dict[str, Any]:
        params = ctx.params
        assert isinstance(params, NaiveModelParams)
        if params.fallback_version:
            return self._plan_move(ctx, str(params.fallback_version), "fallback version given by the runbook")
        reg = _registry(ctx)
        try:
            by_alias = reg.alias_version(ctx.target, params.fallback_alias)
            if by_alias is not None:
                return self._plan_move(ctx, by_alias, f"the fallback (alias {params.fallback_alias!r})")
            key, _, value = params.fallback_tag.partition("=")
            tagged = [v for v in reg.list_versions(ctx.target) if v.tags.get(key) == value]
        except RegistryError as exc:
            raise ActionError(str(exc)) from exc
        if not tagged:
            raise ActionError(
                f"{ctx.target!r} has no fallback model registered: give a version the alias "
                f"{params.fallback_alias!r} or the tag {params.fallback_tag}"
            )
        return self._plan_move(ctx, tagged[-1].version, f"the fallback (tag {params.fallback_tag})")
