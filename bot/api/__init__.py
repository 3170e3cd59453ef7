"""The HTTP API of docs/contracts.md: alert intake, change events, incidents, health and metrics.

`main.create_app` wires the routers of `routes/` (one per group) with the dependencies of
`deps` (runtime, session, authentication) and maps every `bot.errors.MlresponderError` to its
status with one handler.
"""

from bot.api.main import create_app

__all__ = ["create_app"]
