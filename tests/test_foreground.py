"""`bot.foreground`: background work waits for the alert deliveries in flight, for a bounded time."""

from __future__ import annotations

import threading

from bot.foreground import Foreground


def test_wait_idle_returns_when_the_last_delivery_is_answered() -> None:
    foreground = Foreground()
    assert foreground.wait_idle(0) is True  # nothing held: no wait at all
    foreground.enter(2)
    assert foreground.wait_idle(0) is False  # held, and no time to wait
    waiting = threading.Event()
    result: list[bool] = []

    def background() -> None:
        waiting.set()
        result.append(foreground.wait_idle(60))

    worker = threading.Thread(target=background)
    worker.start()
    waiting.wait(10)
    foreground.leave()
    assert foreground.held == 1
    foreground.leave()
    worker.join(60)
    assert result == [True] and foreground.held == 0


def test_leaving_more_than_was_held_does_not_go_negative() -> None:
    foreground = Foreground()
    foreground.enter()
    foreground.leave(3)
    assert foreground.held == 0 and foreground.wait_idle(0)
