"""A service replica for scheduling tests: a runtime with its scheduler, running until killed.

Usage: python mon_replica.py DATABASE_URL MONITORS_YAML [GO_FILE]

With GO_FILE, the process imports everything, then waits for that file before it builds its
runtime and starts: a test can start a replica at a precise moment without paying for Python's
start-up then. (The runtime is built after GO_FILE on purpose: a restart test needs the job store
read after a run came due, as a real restart reads it.)

It prints, for the tests to read: when each monitor job runs next in the job store as the runtime
was built, before its scheduler starts ("job ID next run at T"), and each scheduled attempt
("monitor NAME tick T: status").
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from bot.config import Settings
from bot.monitors.jobs import MONITOR_JOB_PREFIX
from bot.scheduler import Scheduler
from bot.wiring import create_runtime


def main() -> None:
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
    for job in runtime.parts[Scheduler].aps.get_jobs():
        if job.id.startswith(MONITOR_JOB_PREFIX):
            print(f"job {job.id} next run at {job.next_run_time.isoformat()}", flush=True)
    runtime.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(1)
    finally:
        runtime.close()


if __name__ == "__main__":
    main()
