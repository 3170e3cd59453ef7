"""A service replica for scheduling tests: a runtime with its scheduler, running until killed.

Usage: python mon_replica.py DATABASE_URL MONITORS_YAML
"""

from __future__ import annotations

import sys
import time

from bot.config import Settings
from bot.runtime import Runtime


def main() -> None:
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
