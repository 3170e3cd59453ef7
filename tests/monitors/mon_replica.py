"""A service replica for scheduling tests: a runtime with its scheduler, running until killed.

Usage: python mon_replica.py DATABASE_URL MONITORS_YAML [GO_FILE]

With GO_FILE, the process imports everything, then waits for that file before it starts: a
test can start a replica at a precise moment without paying for Python's start-up then.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from bot.config import Settings
from bot.wiring import create_runtime


def main() -> None:
    # each scheduled attempt is logged ("monitor NAME tick T: status"); the tests read it
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    runner_log = logging.getLogger("bot.monitors.runner")
    runner_log.addHandler(handler)
    runner_log.setLevel(logging.INFO)
    if len(sys.argv) > 3:
        while not Path(sys.argv[3]).exists():
            time.sleep(0.02)
    settings = Settings(database_url=sys.argv[1], monitors=sys.argv[2], scheduler_enabled=True)
    runtime = create_runtime(settings)
    runtime.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(1)
    finally:
        runtime.close()


if __name__ == "__main__":
    main()
