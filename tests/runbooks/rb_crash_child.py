"""A service process for the crash test: ``first`` opens an incident and runs until killed;
``second`` restarts on the same store and waits for the run to finish."""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bot.config import Settings  # noqa: E402
from bot.db import transaction  # noqa: E402
from bot.wiring import create_runtime, install_runbooks, install_scheduler  # noqa: E402
from runbooks.models import RunbookRun  # noqa: E402


def main() -> int:
    phase, cfg = sys.argv[1], json.loads(sys.argv[2])
    settings = Settings(database_url=cfg["db"], scheduler_enabled=True, mlflow_registry_uri=cfg["mlflow"],
                        runbooks=cfg["runbooks"], catalog=cfg["catalog"])
    rt = create_runtime(settings, install_parts=False)
    install_scheduler(rt)
    install_runbooks(rt)
    rt.start()
    if phase == "first":
        from rb_support import open_incident

        iid = open_incident(rt, "CrashAlert", model=cfg["model"], log_path=cfg["log"])
        print(f"incident {iid}", flush=True)
        while True:  # the test kills us with SIGKILL
            time.sleep(1)
    deadline = time.time() + 90
    while time.time() < deadline:
        with transaction(rt.sessions) as s:
            run = s.query(RunbookRun).one()
            if run.status in ("completed", "failed", "escalated"):
                print(f"run {run.status}", flush=True)
                rt.close()
                return 0
        time.sleep(0.2)
    print("timeout", flush=True)
    rt.close()
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
