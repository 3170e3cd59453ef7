"""The one redactor: every way out (chat, logs, timeline and stored errors, API, postmortems)
passes its text through `redact`, which knows every configured secret.

Known secrets are the secret settings (API and read tokens, Slack tokens and signing secret),
every ``MLRESPONDER_SECRET_*`` value in the environment (runbook HTTP actions and the catalog's
``${MLRESPONDER_SECRET_NAME}`` references read them there) and anything a part registers with
`add_secrets` (a catalog secret resolved elsewhere). The environment is read on each call, so a
secret set after start-up is still caught. Values shorter than `MIN_LENGTH` are not treated as
secrets: masking every "1" would garble everything and hide nothing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any, Protocol

MASK = "***"
MIN_LENGTH = 4
SECRET_ENV_PREFIX = "MLRESPONDER_SECRET_"


class _HasSecrets(Protocol):
    def secrets(self) -> list[str]: ...


_lock = threading.Lock()
_configured: frozenset[str] = frozenset()
_registered: set[str] = set()


def configure(settings: _HasSecrets) -> None:
    """Know the secrets of these settings (replacing those of settings configured before)."""
    global _configured
    with _lock:
        _configured = frozenset(s for s in settings.secrets() if s)


def add_secrets(values: Iterable[str]) -> None:
    """Register secrets that are neither settings nor in the environment (kept for the process)."""
    with _lock:
        _registered.update(v for v in values if v)


def env_secrets(environ: Any = None) -> dict[str, str]:
    """``MLRESPONDER_SECRET_NAME`` values by NAME."""
    if environ is None and _ENVIRONB is not None:
        # Read on every flush: only the names with the prefix are decoded (a third of the time).
        return {k[len(_PREFIX_B):].decode(errors="surrogateescape"): v for k in list(_ENVIRONB)
                if k.startswith(_PREFIX_B) and len(k) > len(_PREFIX_B)
                and (v := _ENVIRONB.get(k, b"").decode(errors="surrogateescape"))}
    env = os.environ if environ is None else environ
    return {k[len(SECRET_ENV_PREFIX):]: v for k, v in list(env.items())
            if k.startswith(SECRET_ENV_PREFIX) and len(k) > len(SECRET_ENV_PREFIX) and v}


# os.environ's bytes view (POSIX), the same variables: names are matched before anything is decoded.
_ENVIRONB = getattr(os, "environb", None)
_PREFIX_B = SECRET_ENV_PREFIX.encode()


def known_secrets(extra: Iterable[str] = ()) -> list[str]:
    """Every secret known now, longest first (so a secret containing another is masked whole)."""
    found = {*_configured, *_registered, *env_secrets().values(), *extra}
    return sorted((s for s in found if len(s) >= MIN_LENGTH), key=len, reverse=True)


def redact(value: Any, *, mask: str = MASK, extra: Iterable[str] = (), secrets: list[str] | None = None) -> Any:
    """``value`` with every known secret replaced by ``mask``: strings, and strings inside
    dicts, lists and tuples (keys too); anything else is returned as is.

    ``secrets``: a `known_secrets()` list taken just before, for a caller redacting many values
    at once (reading the environment for each of them cost more than the redaction itself)."""
    if secrets is None:
        secrets = known_secrets(extra)
    if not secrets:
        return value
    return _walk(value, secrets, mask)


def redact_text(text: str, *, mask: str = MASK) -> str:
    result: str = redact(text, mask=mask)
    return result


def _walk(item: Any, secrets: list[str], mask: str) -> Any:
    if isinstance(item, str):
        for secret in secrets:
            if secret in item:
                item = item.replace(secret, mask)
        return item
    if isinstance(item, dict):
        return {_walk(k, secrets, mask): _walk(v, secrets, mask) for k, v in item.items()}
    if isinstance(item, list):
        return [_walk(v, secrets, mask) for v in item]
    if isinstance(item, tuple):
        return tuple(_walk(v, secrets, mask) for v in item)
    return item
