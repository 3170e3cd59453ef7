"""A runtime with only the store (no chat, runbooks or scheduler): the drafter needs nothing else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pm_recorded import SECRET

from bot.config import Settings
from bot.runtime import Runtime
from bot.wiring import create_runtime


@pytest.fixture
def store_runtime(settings: Settings) -> Iterator[Runtime]:
    rt = create_runtime(settings.with_(slack_bot_token=SECRET), install_parts=False)
    try:
        yield rt
    finally:
        rt.close()
