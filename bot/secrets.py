"""Secrets live in the environment as ``MLRESPONDER_SECRET_NAME`` and nowhere else.

Two ways to use one, both read at use time from the environment:
- runbook mitigation ``params`` template ``{{ secrets.NAME }}``; only at execution, and what is
  stored or shown is rendered with every secret replaced by ``***``;
- the service catalog writes ``${MLRESPONDER_SECRET_NAME}`` inside a value (a database URL, a
  PagerDuty routing key); `resolve_refs` substitutes it when the value is used.
Messages (notify, escalate) never get them, so a template cannot post a token to chat.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from bot.redact import MASK, SECRET_ENV_PREFIX, env_secrets

PREFIX = SECRET_ENV_PREFIX

# ``${NAME}`` in a catalog value; only names with PREFIX are secret references.
REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class MissingSecret(KeyError):
    """A ``${MLRESPONDER_SECRET_…}`` reference whose variable is not set."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"environment variable {self.name} is not set"


def secret_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    return env_secrets(environ)


def masked_values() -> dict[str, str]:
    return dict.fromkeys(secret_values(), MASK)


def refs_in(text: str) -> list[str]:
    """The variable names referenced as ``${NAME}`` in ``text``."""
    return REF.findall(text)


def resolve_refs(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``${MLRESPONDER_SECRET_X}`` → the variable's value; raises `MissingSecret` when unset."""
    env = os.environ if environ is None else environ

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if not name.startswith(PREFIX) or name not in env:
            raise MissingSecret(name)
        return env[name]

    return REF.sub(sub, text)
