"""Runtime settings: one place that reads the environment (and an optional config file).

Every component receives a `Settings` instead of reading `os.environ` itself, so tests can
build isolated settings and nothing else learns where a secret came from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bot import safeyaml

DEFAULT_DATABASE_URL = "sqlite:///./mlresponder.db"

# Environment variable → settings attribute. The Slack names are Slack's conventional ones.
_ENV_KEYS: dict[str, str] = {
    "MLRESPONDER_DATABASE_URL": "database_url",
    "MLRESPONDER_API_TOKEN": "api_token",
    "MLRESPONDER_READ_TOKEN": "read_token",
    "MLRESPONDER_EGRESS_ALLOW": "egress_allow",
    "SLACK_BOT_TOKEN": "slack_bot_token",
    "SLACK_SIGNING_SECRET": "slack_signing_secret",
    "SLACK_APP_TOKEN": "slack_app_token",
    "MLRESPONDER_SLACK_API_URL": "slack_api_url",
    "MLRESPONDER_PROMETHEUS_URL": "prometheus_url",
    "MLRESPONDER_RUNBOOKS": "runbooks",
    "MLRESPONDER_GROUP_WINDOW_SECONDS": "group_window_seconds",
    "MLRESPONDER_INTAKE_WRITERS": "intake_writers",
    "MLRESPONDER_INTAKE_LINGER_MS": "intake_linger_ms",
    "MLRESPONDER_SLACK_ALERTS_CHANNEL": "slack_alerts_channel",
    "MLRESPONDER_SLACK_RESPONDERS": "slack_responders",
    "MLRESPONDER_SLACK_APPROVERS": "slack_approvers",
    "MLRESPONDER_SLACK_STAKEHOLDERS_CHANNEL": "slack_stakeholders_channel",
    "MLRESPONDER_UPDATE_REMINDERS": "update_reminders",
    "MLRESPONDER_SLACK_ARCHIVE_AFTER_SECONDS": "slack_archive_after_seconds",
    "MLRESPONDER_GITHUB_REPO": "github_repo",
    "MLRESPONDER_GITHUB_API_URL": "github_api_url",
    "MLRESPONDER_GITHUB_TOKEN": "github_token",
    "MLRESPONDER_JIRA_URL": "jira_url",
    "MLRESPONDER_JIRA_PROJECT": "jira_project",
    "MLRESPONDER_JIRA_USER": "jira_user",
    "MLRESPONDER_JIRA_TOKEN": "jira_token",
    "MLRESPONDER_MLFLOW_REGISTRY_URI": "mlflow_registry_uri",
    "MLRESPONDER_SERVING_ALIAS": "serving_alias",
    "MLRESPONDER_MONITORS": "monitors",
    "MLRESPONDER_SCHEDULER": "scheduler_enabled",
    "MLRESPONDER_POSTMORTEM_DIR": "postmortem_dir",
    "MLRESPONDER_POSTMORTEM_TEMPLATES": "postmortem_templates",
    "MLRESPONDER_CATALOG": "catalog",
    "MLRESPONDER_PAGERDUTY_URL": "pagerduty_url",
}

_SECRET_FIELDS = {"api_token", "read_token", "slack_bot_token", "slack_signing_secret", "slack_app_token",
                  "github_token", "jira_token"}


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    api_token: str | None = None
    # May only read: GET routes, /metrics and the OpenAPI pages (for dashboards).
    read_token: str | None = None
    # Comma-separated hosts or CIDRs that runbook HTTP actions may reach although internal.
    egress_allow: str = ""
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str | None = None
    prometheus_url: str | None = None
    runbooks: str | None = None
    # Alerts of the same service that fire within this many seconds of an open incident join it.
    group_window_seconds: int = 900
    # Intake group commit (`bot.api.intake_writer`): writer threads per process on PostgreSQL (SQLite
    # has one writer), and how long a writer that wakes to a short queue waits for more deliveries.
    # One writer: the lowest CPU per alert and the lowest p99 at a fixed 500/s with 2 workers on an
    # idle machine (docs/intake.md, "The idle-machine verdict").
    intake_writers: int = 1
    intake_linger_ms: int = 4
    slack_alerts_channel: str = "ml-alerts"
    # Comma-separated Slack user ids invited to every incident channel.
    slack_responders: str = ""
    # Comma-separated Slack user ids or user-group ids (S...) allowed to approve mitigations.
    slack_approvers: str = ""
    # Where `/incident update` posts besides the incident channel (a catalog service may name its own).
    slack_stakeholders_channel: str | None = None
    # Remind to post a status update every N minutes by severity, until the incident is mitigated.
    update_reminders: str = "sev1=30,sev2=60"
    # Archive an incident's channel this long after it is resolved and its postmortem drafted (0: never).
    slack_archive_after_seconds: int = 86400
    # Where postmortem action items may be filed (`mlresponder postmortem INC-7 --file github|jira`).
    github_repo: str | None = None  # owner/name
    github_api_url: str = "https://api.github.com"
    github_token: str | None = None
    jira_url: str | None = None
    jira_project: str | None = None
    jira_user: str | None = None  # with a token: basic auth (Jira Cloud); without: the token as a bearer
    jira_token: str | None = None
    mlflow_registry_uri: str | None = None
    serving_alias: str = "champion"
    monitors: str | None = None
    scheduler_enabled: bool = True
    postmortem_dir: str = "./postmortems-out"
    # Team folder(s), comma-separated, whose *.j2 files override the built-in postmortem templates.
    postmortem_templates: str | None = None
    max_body_bytes: int = 1024 * 1024
    # The service catalog: YAML file(s) or folder(s); unset: no service is known.
    catalog: str | None = None
    # Base URL of the PagerDuty Events API v2 (None: PagerDuty's own).
    pagerduty_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, config_file: str | None = None) -> Settings:
        """Config file first (``MLRESPONDER_CONFIG`` or the argument), then environment overrides."""
        env = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        path = config_file or env.get("MLRESPONDER_CONFIG")
        if path:
            loaded = safeyaml.safe_load(Path(path).read_text()) or {}
            if not isinstance(loaded, dict):
                raise ValueError(f"{path}: expected a mapping of settings, got {type(loaded).__name__}")
            for key, value in loaded.items():
                attr = _ENV_KEYS.get(str(key), str(key).lower())
                values[attr] = value
        for env_key, attr in _ENV_KEYS.items():
            if env.get(env_key) not in (None, ""):
                values[attr] = env[env_key]
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        coerced: dict[str, Any] = {}
        for attr, value in values.items():
            default = known[attr].default
            if isinstance(default, bool):
                coerced[attr] = str(value).strip().lower() not in ("0", "false", "no", "off", "")
            elif isinstance(default, int):
                try:
                    coerced[attr] = int(value)
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"setting {attr}: expected an integer, got {value!r}") from exc
            else:
                coerced[attr] = value
        return cls(**coerced)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def secrets(self) -> list[str]:
        """Values that must never reach a log line, a chat message or a postmortem."""
        return [v for name in _SECRET_FIELDS if (v := getattr(self, name))]

    def __repr__(self) -> str:  # never print secrets, even by accident in a traceback
        shown = {
            f.name: ("***" if f.name in _SECRET_FIELDS and getattr(self, f.name) else getattr(self, f.name))
            for f in fields(self)
        }
        return f"Settings({shown})"

    def responder_ids(self) -> list[str]:
        return [u.strip() for u in self.slack_responders.split(",") if u.strip()]

    def approver_ids(self) -> list[str]:
        return [u.strip() for u in self.slack_approvers.split(",") if u.strip()]
