"""A service replica for scheduling tests: a runtime with its scheduler, running until killed.

Usage: python mon_replica.py DATABASE_URL MONITORS_YAML
"""

from __future__ import annotations

import logging
import sys
import time

from bot.config import Settings
from bot.runtime import Runtime


def main() -> None:
    # each scheduled attempt is logged ("monitor NAME tick T: status"); the tests read it
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    runner_log = logging.getLogger("bot.monitors.runner")
    runner_log.addHandler(handler)
    runner_log.setLevel(logging.INFO)
    settings = Settings(database_url=sys.argv[1], monitors=sys.argv[2], scheduler_enabled=True)
    runtime = Runtime.create(settings)
    runtime.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(1)
    finally:
        runtime.close()


if __name__ == "__main__":
    main()
