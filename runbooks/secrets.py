"""Secrets for mitigation parameters: ``{{ secrets.NAME }}`` reads ``MLRESPONDER_SECRET_NAME``.

Only mitigation ``params`` see them, and only at execution: what is stored, shown on the
timeline, in the API and in the plan is rendered with every secret replaced by ``***``.
Messages (notify, escalate) never get them, so a template cannot post a token to chat.
"""

from __future__ import annotations

from bot.redact import MASK, SECRET_ENV_PREFIX, env_secrets

PREFIX = SECRET_ENV_PREFIX


def secret_values() -> dict[str, str]:
    return env_secrets()


def masked_values() -> dict[str, str]:
    return dict.fromkeys(secret_values(), MASK)
