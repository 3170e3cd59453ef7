"""One root for the errors a caller can do something about, each carrying its HTTP status.

The API maps every `MlresponderError` to its status with one handler, so a core function that
refuses bad input says *why* once (naming the field) and every edge (HTTP, CLI, chat) shows
the same words. Errors that also subclass `ValueError` keep older ``except ValueError`` callers
working.
"""

from __future__ import annotations


class MlresponderError(Exception):
    """Refused or impossible, with a message fit to show the caller."""

    status: int = 400

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class MalformedBody(MlresponderError, ValueError):
    """The body is not JSON at all (or too deep, too large to parse)."""

    status = 400


class InvalidInput(MlresponderError, ValueError):
    """Well-formed but wrong: a field with a bad value or shape."""

    status = 422


class Unauthorized(MlresponderError):
    status = 401


class Forbidden(MlresponderError):
    status = 403


class NotFound(MlresponderError):
    status = 404


class Conflict(MlresponderError):
    status = 409


class Unavailable(MlresponderError):
    """A dependency (the store, a registry) is down; the caller should retry later."""

    status = 503
