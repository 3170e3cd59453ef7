"""Wiring: builds a `Runtime` and installs every part into it (app layer).

The one place that knows all the parts. Core modules (`bot.runtime`, `bot.db`, ...) never
import a part; parts (chat, runbooks, monitors, postmortems) never import this module. Each
``install_*`` puts its part on the runtime and subscribes it to the event bus; `create_runtime`
calls them in `PART_INSTALLERS` order (the scheduler first: monitors and runbooks schedule jobs).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from prometheus_client import CollectorRegistry
from sqlalchemy import event
from sqlalchemy.orm import Session

import postmortems.service
import runbooks.service
from bot import redact
from bot.catalog import load_catalog
from bot.chat import console, flows, slack_port  # noqa: F401  (each registers its chat port)
from bot.chat.archive import ChannelArchiver
from bot.chat.part import ChatPart
from bot.chat.port import choose_port
from bot.chat.responder import Responder
from bot.chat.signing import ButtonSigner
from bot.config import Settings
from bot.db import make_engine, make_session_factory, upgrade
from bot.events import EventBus, EventNotice
from bot.logging_setup import redact_every_record
from bot.monitors.escalation import EscalationService
from bot.monitors.jobs import schedule_jobs
from bot.monitors.loader import load_config
from bot.monitors.metrics import make_registry
from bot.monitors.runner import MonitorService
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.updates import UpdateReminders, parse_cadence
from postmortems.worker import CATCH_UP_EVERY, PostmortemWorker
from runbooks.actions import ACTIONS, hand_proposable
from runbooks.engine import RunbookEngine
from runbooks.loader import load_runbooks, paths_from_setting

log = logging.getLogger(__name__)


def create_runtime(settings: Settings, *, migrate: bool = True, install_parts: bool = True) -> Runtime:
    """The store (migrated unless told otherwise), the event bus and, unless told otherwise, every part."""
    redact.configure(settings)  # every way out now masks these settings' secrets
    redact_every_record()
    # An invalid catalog stops the start before the store is touched; its ${MLRESPONDER_SECRET_…}
    # references are environment values, which the redactor reads there.
    catalog = load_catalog(settings.catalog, known_actions=ACTIONS)
    if migrate:
        upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    bus = EventBus()
    bus.attach(sessions)
    runtime = Runtime(settings=settings, engine=engine, sessions=sessions, bus=bus, catalog=catalog)
    if install_parts:
        for installer in PART_INSTALLERS:
            installer(runtime)
    return runtime


def install_scheduler(runtime: Runtime) -> None:
    if runtime.settings.scheduler_enabled:
        runtime.parts.setdefault(Scheduler, Scheduler(runtime))


def install_chat(runtime: Runtime) -> None:
    """The chat port (Slack with a bot token, else the console), the outbox hooks and worker."""
    settings = runtime.settings
    if not flows.outbox_table_exists(runtime.engine):
        log.warning("chat outbox table missing (database not migrated): chat disabled")
        return
    key = settings.slack_signing_secret or settings.slack_bot_token or secrets.token_hex(32)
    signer = ButtonSigner(key)
    port, client = choose_port(settings, signer)
    options = dict(settings.extra.get("chat_outbox") or {})
    part = ChatPart(runtime, port, signer, client, chat_responder(), options)
    _queue_in_transactions(runtime)

    def on_events(notices: list[EventNotice]) -> None:
        if flows.due_at_once(notices):  # alert lines wait for their window: the worker's own timer sends them
            part.worker.wake()

    runtime.bus.subscribe(on_events)
    runtime.parts[ChatPart] = part
    if settings.slack_archive_after_seconds > 0 and runtime.parts.get(Scheduler) is not None:
        archiver = ChannelArchiver(runtime)
        runtime.parts[ChannelArchiver] = archiver
        runtime.bus.subscribe(archiver.on_events)


def attach_outbox(runtime: Runtime) -> None:
    """Queue chat messages for what this process records, without sending them (CLI commands).

    The running service's outbox worker picks the rows up and delivers them, so a revert or a
    resolve typed in a terminal reaches the incident channel like one clicked in Slack.
    """
    if ChatPart in runtime.parts or not flows.outbox_table_exists(runtime.engine):
        return
    _queue_in_transactions(runtime)


def _queue_in_transactions(runtime: Runtime) -> None:
    """Every transaction of this runtime adds the outbox rows its events need before it commits."""
    settings = runtime.settings

    def before_commit(session: Session) -> None:
        flows.queue_for_session(session, settings)

    def after_end(session: Session) -> None:
        flows.reset_session_marker(session)

    event.listen(runtime.sessions, "before_commit", before_commit)
    event.listen(runtime.sessions, "after_commit", after_end)
    event.listen(runtime.sessions, "after_rollback", after_end)


def chat_responder() -> Responder:
    """The runbooks' and postmortems' entry points the chat commands and buttons call."""
    return Responder(
        mitigations=hand_proposable(),
        run_diagnosis=runbooks.service.run_diagnosis,
        propose_mitigation=runbooks.service.propose_mitigation,
        approve_mitigation=runbooks.service.approve_mitigation,
        reject_mitigation=runbooks.service.reject_mitigation,
        revert_mitigation=runbooks.service.revert_mitigation,
        draft_postmortem=postmortems.service.draft_postmortem,
    )


def install_update_reminders(runtime: Runtime) -> None:
    """Reminders to post a status update, where a scheduler runs and a cadence is configured."""
    if runtime.parts.get(Scheduler) is None or not parse_cadence(runtime.settings.update_reminders):
        return
    service = UpdateReminders(runtime)
    runtime.parts[UpdateReminders] = service
    runtime.bus.subscribe(service.on_events)


def install_runbooks(runtime: Runtime) -> None:
    """Load and validate runbooks (raises `RunbookError` on any invalid one) and subscribe."""
    loaded = load_runbooks(paths_from_setting(runtime.settings.runbooks))
    engine = RunbookEngine(runtime, loaded)
    runtime.parts[RunbookEngine] = engine
    runtime.bus.subscribe(engine.on_events)


def install_monitors(runtime: Runtime) -> None:
    """Monitors, escalation and their gauges; their jobs when this process has a scheduler."""
    config = load_config(runtime.settings.monitors)
    monitors = MonitorService(runtime, config)
    escalation = EscalationService(runtime, config.escalation)
    runtime.parts[MonitorService] = monitors
    runtime.parts[EscalationService] = escalation
    runtime.parts.setdefault(CollectorRegistry, make_registry(runtime))
    runtime.bus.subscribe(escalation.on_events)
    scheduler = runtime.parts.get(Scheduler)
    if scheduler is not None:
        schedule_jobs(scheduler, list(config.monitors.values()),
                      config.escalation.sweep_every if escalation.active else None)


def install_postmortems(runtime: Runtime) -> None:
    """Draft the postmortem when an incident is resolved (queued off the committing thread)."""
    worker = PostmortemWorker(runtime)
    runtime.parts[PostmortemWorker] = worker
    runtime.bus.subscribe(worker.on_events)
    scheduler = runtime.parts.get(Scheduler)
    if scheduler is not None:  # resolutions made by other processes: found by the leader in the event log
        scheduler.while_leading("postmortems-catch-up", worker.catch_up, CATCH_UP_EVERY)


PART_INSTALLERS: tuple[Callable[[Runtime], None], ...] = (
    install_scheduler,
    install_update_reminders,
    install_chat,
    install_runbooks,
    install_monitors,
    install_postmortems,
)
