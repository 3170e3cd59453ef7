"""Filing postmortem action items in GitHub issues or Jira, and reading their state back.

The tracker, its address and its credentials come from the settings only; nothing in an
incident names where to send anything. Each filed item is an `action_item_filed` event (the
tracker's key and link), so filing twice files nothing new and a redrawn postmortem shows
each item's current state, read from the tracker when the draft is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from bot.db import transaction
from bot.incidents import get_incident, incident_to_dict, log_event

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.runtime import Runtime

TRACKERS = ("github", "jira")
TIMEOUT = 10.0


class TrackerError(Exception):
    """The tracker is not configured, unreachable, or refused the request; the message says which."""


@dataclass(frozen=True)
class Filed:
    title: str
    key: str  # "#12" on GitHub, "OPS-7" on Jira
    url: str  # the page a person opens
    api_url: str  # where its state is read


class Tracker(Protocol):
    name: str

    def create(self, title: str, body: str, labels: list[str]) -> Filed: ...

    def state(self, filed: dict[str, Any]) -> str:
        """The item's state as the tracker names it ("open", "closed", "In Progress"...)."""
        ...


class GitHub:
    name = "github"

    def __init__(self, settings: Settings) -> None:
        if not settings.github_repo or not settings.github_token:
            raise TrackerError("GitHub is not configured (MLRESPONDER_GITHUB_REPO and MLRESPONDER_GITHUB_TOKEN)")
        self.repo = settings.github_repo
        self.base = settings.github_api_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {settings.github_token}", "Accept": "application/vnd.github+json",
                        "X-GitHub-Api-Version": "2022-11-28"}

    def create(self, title: str, body: str, labels: list[str]) -> Filed:
        data = _request("POST", f"{self.base}/repos/{self.repo}/issues", self.headers,
                        {"title": title, "body": body, "labels": labels})
        return Filed(title, f"#{data['number']}", str(data.get("html_url") or ""), str(data["url"]))

    def state(self, filed: dict[str, Any]) -> str:
        return str(_request("GET", str(filed["api_url"]), self.headers).get("state") or "unknown")


class Jira:
    name = "jira"

    def __init__(self, settings: Settings) -> None:
        if not settings.jira_url or not settings.jira_project or not settings.jira_token:
            raise TrackerError("Jira is not configured (MLRESPONDER_JIRA_URL, MLRESPONDER_JIRA_PROJECT and "
                               "MLRESPONDER_JIRA_TOKEN)")
        self.base = settings.jira_url.rstrip("/")
        self.project = settings.jira_project
        self.headers = {"Accept": "application/json"}
        if settings.jira_user:
            import base64

            pair = f"{settings.jira_user}:{settings.jira_token}".encode()
            self.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        else:
            self.headers["Authorization"] = f"Bearer {settings.jira_token}"

    def create(self, title: str, body: str, labels: list[str]) -> Filed:
        fields = {"project": {"key": self.project}, "summary": title, "description": body,
                  "issuetype": {"name": "Task"}, "labels": labels}
        data = _request("POST", f"{self.base}/rest/api/2/issue", self.headers, {"fields": fields})
        key = str(data["key"])
        return Filed(title, key, f"{self.base}/browse/{key}", f"{self.base}/rest/api/2/issue/{key}")

    def state(self, filed: dict[str, Any]) -> str:
        data = _request("GET", f"{filed['api_url']}?fields=status", self.headers)
        return str(((data.get("fields") or {}).get("status") or {}).get("name") or "unknown")


def tracker_for(settings: Settings, name: str) -> Tracker:
    if name == "github":
        return GitHub(settings)
    if name == "jira":
        return Jira(settings)
    raise TrackerError(f"unknown tracker {name!r} (expected one of {', '.join(TRACKERS)})")


def _request(method: str, url: str, headers: dict[str, str], body: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        response = httpx.request(method, url, headers=headers, json=body, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise TrackerError(f"{method} {url}: unreachable ({type(exc).__name__})") from None
    if response.status_code >= 400:
        raise TrackerError(f"{method} {url}: HTTP {response.status_code}: {response.text[:200]}")
    try:
        data = response.json()
    except ValueError:
        raise TrackerError(f"{method} {url}: the answer is not JSON") from None
    if not isinstance(data, dict):
        raise TrackerError(f"{method} {url}: unexpected answer")
    return data


def filed_items(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Action items already filed, by title, from the incident's timeline."""
    return {str(e["data"]["title"]): dict(e["data"]) for e in record.get("timeline", [])
            if e.get("kind") == "action_item_filed" and (e.get("data") or {}).get("title")}


def file_action_items(runtime: Runtime, incident_id: int | str, tracker_name: str, actor: str) -> list[Filed]:
    """File each action item of the incident's postmortem not filed yet; returns what was filed now."""
    from postmortems.content import build_content

    tracker = tracker_for(runtime.settings, tracker_name)
    with transaction(runtime.sessions) as s:
        record = incident_to_dict(s, get_incident(s, incident_id))
    already = filed_items(record)
    ref = str(record["id"])
    filed: list[Filed] = []
    for item in build_content(record).action_items:
        if item["title"] in already:
            continue
        body = (f"Action item from the postmortem of {ref} ({record.get('title')}).\n\n"
                f"Why: {item['why']}\nPriority: {item['priority']}\nOwner: {item['owner']}")
        done = tracker.create(item["title"], body, ["postmortem", ref])
        filed.append(done)
        with transaction(runtime.sessions) as s:
            log_event(s, get_incident(s, incident_id), "action_item_filed",
                      f"action item filed as {tracker.name} {done.key}: {done.title}", actor=actor,
                      data={"tracker": tracker.name, "title": done.title, "key": done.key, "url": done.url,
                            "api_url": done.api_url})
    return filed


def tracking(settings: Settings, record: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Filed items by title with their state now; a tracker that cannot answer shows "unknown"."""
    out: dict[str, dict[str, str]] = {}
    trackers: dict[str, Tracker | None] = {}
    for title, filed in filed_items(record).items():
        name = str(filed.get("tracker"))
        if name not in trackers:
            try:
                trackers[name] = tracker_for(settings, name)
            except TrackerError:
                trackers[name] = None
        tracker = trackers[name]
        try:
            state = tracker.state(filed) if tracker is not None else "unknown"
        except TrackerError:
            state = "unknown"
        out[title] = {"key": str(filed.get("key")), "url": str(filed.get("url") or ""), "state": state,
                      "tracker": name}
    return out
