"""Logging that cannot leak secrets: every record passes through the core's redactor."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from bot.redact import known_secrets
from bot.redact import redact as _redact


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not known_secrets(self.secrets):
            return True
        message = record.getMessage()
        redacted = redact(message, self.secrets)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    result: str = _redact(text, extra=secrets)
    return result


def redact_every_record() -> None:
    """Redact each log record as it is made, whatever handler (ours, a test's, a library's) gets it."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "mlresponder_redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if known_secrets():
            try:
                message = record.getMessage()
            except Exception:  # a malformed record: logging reports it later, as it always does
                return record
            redacted = redact(message)
            if redacted != message:
                record.msg, record.args = redacted, ()
        return record

    factory.mlresponder_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # APScheduler's executor logs every run of every job at INFO ("Running job ...", "... executed
    # successfully"): on the scheduler leader the 5 s resumption job alone made two lines every 5 s.
    # Its warnings (a missed run) and errors (a job that raised) still show, and our jobs log what
    # they do themselves; at DEBUG everything shows.
    quiet = root.level > logging.DEBUG
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING if quiet else logging.NOTSET)
