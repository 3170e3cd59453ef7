"""The postmortem's content, derived from the incident record: the template only lays it out.

Input is the API projection of an incident (`bot.incidents.incident_to_dict`), so the
postmortem reads exactly what the timeline, the diagnosis and the mitigations recorded,
nothing kept on the side. People appear by role (incident commander, approver, responder N)
and the notes they wrote pass through the blameless check before they are shown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.roles import ROLES, roles_from_events
from bot.timeparse import parse_timestamp
from diagnostics.checks import culprit_phrase
from diagnostics.findings import Diagnosis
from postmortems.action_items import DETECTION_BUDGET_MINUTES, derive_action_items
from postmortems.blameless import check_blameless, neutral_wording

# Actors that are software, shown as they are; everyone else is a person and is shown by role.
SYSTEM_ACTORS = {
    "mlresponder", "api", "monitor", "mitigation", "scheduler", "runbook", "runbooks", "auto", "demo",
    "system", "alertmanager", "grafana", "generic", "cli", "intake", "diagnostics", "postmortem",
}
# Event kinds that say nothing about the incident itself.
_HIDDEN_KINDS = {"postmortem_drafted", "chat_error"}

MITIGATION_PHRASES = {
    "rollback": "a rollback",
    "naive_model": "a swap to the naive fallback model",
    "retrain": "retraining",
    "escalate_service": "an escalation to the service owner",
}


def parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    return parse_timestamp(value, "time")


def fmt_time(value: datetime | None, *, with_date: bool = True) -> str:
    if value is None:
        return "n/a"
    return value.strftime("%Y-%m-%d %H:%M:%S UTC" if with_date else "%H:%M:%S")


def minutes_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds() / 60.0)


def fmt_minutes(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value < 1.0:  # a rehearsal or a fast response: minutes alone would round it away
        return f"{value:.1f} min ({value * 60:.0f} s)"
    return f"{value:.1f} min"


def compact(value: Any) -> str:
    """A dict as ``k=v, k=v`` for a table cell; other values as text."""
    if value in (None, {}, []):
        return "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}={compact(v) if isinstance(v, dict | list) else v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(compact(v) for v in value)
    return str(value)


class Roles:
    """Maps actor ids to the role they played, numbering responders in order of appearance."""

    def __init__(self, commander: str | None, approvers: set[str], rotations: set[str] | None = None) -> None:
        self.commander = commander
        self.approvers = approvers
        # escalation targets named by runbooks (on-call rotations, owner groups) are roles already
        self.rotations = rotations or set()
        self._responders: dict[str, str] = {}

    @staticmethod
    def is_system(actor: str | None) -> bool:
        if not actor:
            return True
        head = actor.split(":", 1)[0].strip().lower()
        return head in SYSTEM_ACTORS or head.startswith("mlresponder")

    def of(self, actor: str | None) -> str:
        if self.is_system(actor):
            return actor or "mlresponder"
        assert actor is not None
        if actor in self.rotations:
            return actor
        if actor == self.commander:
            return "incident commander"
        if actor in self.approvers:
            return "approver"
        if actor not in self._responders:
            self._responders[actor] = f"responder {len(self._responders) + 1}"
        return self._responders[actor]

    def people(self) -> list[str]:
        known = [p for p in (self.commander, *self.approvers) if p and not self.is_system(p)]
        return sorted(set(known) | set(self._responders), key=len, reverse=True)

    def anonymize(self, text: str) -> str:
        """Replace person ids in free text with their role (longest first, so ids never half-match)."""
        for person in self.people():
            text = text.replace(person, self.of(person))
        return text


@dataclass
class BlameNote:
    at: str
    role: str
    phrase: str
    reason: str
    suggestion: str


@dataclass
class Content:
    incident: dict[str, Any]
    summary: str
    timings: list[dict[str, str]]
    impact: dict[str, Any]
    diagnosis: dict[str, Any] | None
    contributing_factors: list[str]
    mitigations: list[dict[str, str]]
    timeline: list[dict[str, str]]
    prompts: dict[str, list[str]]
    action_items: list[dict[str, str]]
    blame_review: list[BlameNote] = field(default_factory=list)
    figures: list[dict[str, str]] = field(default_factory=list)
    # changes people made after the alert that stopped the impact (not mlresponder mitigations)
    responder_changes: list[dict[str, str]] = field(default_factory=list)
    onset: datetime | None = None
    impact_end: datetime | None = None

    def as_template_context(self) -> dict[str, Any]:
        ctx = {k: v for k, v in self.__dict__.items() if k not in ("blame_review", "onset", "impact_end")}
        ctx["blame_review"] = [asdict(b) for b in self.blame_review]
        return ctx


def cause_phrase(diagnosis: dict[str, Any] | None) -> str:
    """The culprit in words, as the diagnostic-check registry phrases it."""
    d = Diagnosis.from_dict(diagnosis or {})
    if not d.found:
        return "an undetermined cause"
    return culprit_phrase(d.culprit_kind, d.culprit_name, d.cause)


def _escalation_targets(record: dict[str, Any]) -> list[str]:
    targets: list[str] = []
    for event in record.get("timeline", []):
        if event.get("kind") == "escalation":
            targets += [str(w) for w in (event.get("data") or {}).get("who") or [] if str(w) not in targets]
    return targets


def executed_mitigations(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in record.get("mitigations", []) if m.get("executed_at")]


def _executed_times(record: dict[str, Any]) -> list[datetime]:
    return sorted(t for m in executed_mitigations(record) if (t := parse_time(m["executed_at"])) is not None)


def impact_end_of(record: dict[str, Any]) -> datetime | None:
    """Impact stops when the first mitigation ran; failing that, when it was marked mitigated or resolved."""
    executed = _executed_times(record)
    candidates = [t for t in (
        executed[0] if executed else None,
        parse_time(record.get("mitigated_at")),
        parse_time(record.get("resolved_at")),
    ) if t is not None]
    return candidates[0] if candidates else None


def mitigated_at_of(record: dict[str, Any]) -> datetime | None:
    """When the impact was stopped, one value for the header, the summary and the timings: the incident's
    `mitigated_at`, else its first executed mitigation, else the first move to `mitigated` on the timeline."""
    marked = parse_time(record.get("mitigated_at"))
    if marked is not None:
        return marked
    executed = _executed_times(record)
    if executed:
        return executed[0]
    moved = [parse_time(e.get("at")) for e in record.get("timeline", [])
             if e.get("kind") == "status_changed" and (e.get("data") or {}).get("to") == "mitigated"]
    return next((t for t in moved if t is not None), None)


def responder_changes(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Changes recorded after the alert and up to the mitigation (or the resolution) that no mitigation made:
    what people did to stop the impact (a node pool moved back, a feature flag turned off)."""
    opened = parse_time(record.get("created_at"))
    until = mitigated_at_of(record) or parse_time(record.get("resolved_at"))
    if opened is None:
        return []
    found = []
    for e in record.get("timeline", []):
        if e.get("kind") != "change" or (e.get("data") or {}).get("origin") == "mitigation":
            continue
        at = parse_time(e.get("at"))
        if at is not None and at >= opened and (until is None or at <= until + timedelta(seconds=1)):
            found.append(e)
    return found


def onset_of(record: dict[str, Any]) -> datetime | None:
    diagnosis = record.get("diagnosis") or {}
    return parse_time(diagnosis.get("onset")) or parse_time(record.get("started_at"))


def response_timings(record: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, float | None]]:
    onset, detected = onset_of(record), parse_time(record.get("created_at"))
    acknowledged = parse_time(record.get("acknowledged_at"))
    mitigated = mitigated_at_of(record)
    resolved = parse_time(record.get("resolved_at"))
    values = {
        "detect": minutes_between(onset, detected),
        "acknowledge": minutes_between(detected, acknowledged),
        "mitigate": minutes_between(detected, mitigated),
        "resolve": minutes_between(detected, resolved),
    }
    rows = [
        {"name": "Time to detect", "span": "onset → alert", "minutes": fmt_minutes(values["detect"])},
        {"name": "Time to acknowledge", "span": "alert → acknowledged", "minutes": fmt_minutes(values["acknowledge"])},
        {"name": "Time to mitigate", "span": "alert → mitigated", "minutes": fmt_minutes(values["mitigate"])},
        {"name": "Time to resolve", "span": "alert → resolved", "minutes": fmt_minutes(values["resolve"])},
    ]
    return rows, values


# The change kinds most likely to trigger each cause, for choosing among the changes before the onset.
_TRIGGER_KINDS = {
    "data": ("pipeline_run", "schema_change", "config_change"),
    "model": ("model_deploy",),
    "service": ("infra", "config_change", "model_deploy"),
}


def trigger_change(record: dict[str, Any], onset: datetime | None) -> dict[str, Any] | None:
    """The recorded change closest to the onset, preferring one that names the culprit, then one of a kind
    that typically causes it (a pipeline run for data, a deploy for a model, infra for the service)."""
    diagnosis = record.get("diagnosis") or {}
    named = diagnosis.get("trigger")
    culprit_name = str((diagnosis.get("culprit") or {}).get("name") or "")
    # mitigations are recorded as changes too, but they answer the incident, they do not trigger it
    changes = [e for e in record.get("timeline", [])
               if e.get("kind") == "change" and e["data"].get("origin") != "mitigation"]
    if onset is not None:
        # a detected onset can precede the change's own timestamp by a bucket or two: allow a minute after
        changes = [c for c in changes if (parse_time(c["at"]) or onset) <= onset + timedelta(minutes=1)]
        changes.sort(key=lambda c: abs(((parse_time(c["at"]) or onset) - onset).total_seconds()))
    else:
        changes.reverse()
    if isinstance(named, dict) and named.get("kind"):  # the diagnosis named the change the evidence supports
        at = parse_time(named.get("timestamp"))
        same = [c for c in changes if parse_time(c["at"]) == at and c["data"].get("kind") == named.get("kind")]
        if not same:  # named by the diagnosis but not in the store's change log: take it as the diagnosis says
            return {"at": named.get("timestamp"), "kind": "change",
                    "data": {"kind": named.get("kind"), "service": named.get("service"),
                             "description": named.get("description")}}
        changes = same
    matching = [c for c in changes if culprit_name and (
        culprit_name == str(c["data"].get("to_version")) or culprit_name in str(c["data"].get("description")))]
    likely_kinds = _TRIGGER_KINDS.get(str(diagnosis.get("cause")), ())
    of_kind = [c for c in changes if c["data"].get("kind") in likely_kinds]
    chosen: dict[str, Any] | None = (matching or of_kind or changes or [None])[0]
    return chosen


def _trigger(record: dict[str, Any], onset: datetime | None) -> str:
    chosen = trigger_change(record, onset)
    if chosen is None:
        return "No recorded change event preceded the onset."
    data = chosen["data"]
    versions = ""
    if data.get("from_version") or data.get("to_version"):
        versions = f" ({data.get('from_version') or '?'} → {data.get('to_version') or '?'})"
    return (f"{data.get('kind')} on `{data.get('service')}` at {fmt_time(parse_time(chosen['at']))}"
            f"{versions}: {data.get('description')}")


def _score(finding: dict[str, Any]) -> float:
    try:
        return float(finding.get("score") or 0.0)
    except (TypeError, ValueError):
        return 0.0


def scored_findings(diagnosis: dict[str, Any]) -> list[dict[str, Any]]:
    """Findings that are evidence at all: a check that scored 0 found nothing and is not shown."""
    return [f for f in diagnosis.get("findings") or [] if isinstance(f, dict) and _score(f) > 0]


def _diagnosis_view(record: dict[str, Any], onset: datetime | None) -> dict[str, Any] | None:
    diagnosis = record.get("diagnosis")
    if not diagnosis:
        return None
    culprit = diagnosis.get("culprit") or {}
    findings = scored_findings(diagnosis)
    top = findings[0].get("evidence") if findings else None
    root = f"The diagnosis attributes the regression to {cause_phrase(diagnosis)} (cause: {diagnosis.get('cause')})."
    if top:
        root += f" Strongest evidence: {top}"
    return {
        "cause": diagnosis.get("cause"),
        "culprit_kind": culprit.get("kind"),
        "culprit_name": culprit.get("name"),
        "confidence": f"{float(diagnosis.get('confidence') or 0.0):.2f}",
        "onset": fmt_time(parse_time(diagnosis.get("onset"))),
        "recommended": diagnosis.get("recommended_mitigation"),
        "runtime_ms": diagnosis.get("runtime_ms"),
        "root_cause": root,
        "trigger": _trigger(record, onset),
        "findings": [
            {
                "rank": str(i + 1),
                "cause": str(f.get("cause", "")),
                "check": str(f.get("check", "")),
                "subject": str(f.get("subject", "")),
                "score": f"{float(f.get('score') or 0.0):.3g}",
                "severity": str(f.get("severity", "")),
                "evidence": str(f.get("evidence", "")),
            }
            for i, f in enumerate(findings)
        ],
    }


def _contributing_factors(record: dict[str, Any], minutes_to_detect: float | None) -> list[str]:
    diagnosis = record.get("diagnosis") or {}
    factors: list[str] = []
    culprit_name = str((diagnosis.get("culprit") or {}).get("name") or "")
    for finding in scored_findings(diagnosis)[1:]:
        if str(finding.get("subject")) == culprit_name:
            continue  # the root cause again, seen by another check
        if str(finding.get("severity", "")).lower() in ("high", "critical", "medium"):
            factors.append(f"{finding.get('check')} on `{finding.get('subject')}`: {finding.get('evidence')}")
    if diagnosis.get("cause") == "model":
        deploys = [e for e in record.get("timeline", []) if e.get("kind") == "change"
                   and e["data"].get("kind") == "model_deploy" and e["data"].get("origin") != "mitigation"]
        if deploys:
            factors.append("The model deploy went to all traffic at once: no canary stage is recorded for it.")
    if minutes_to_detect is not None and minutes_to_detect > DETECTION_BUDGET_MINUTES:
        factors.append(
            f"Detection took {minutes_to_detect:.1f} min, beyond the 5-minute weekly budget of a 99.95% SLO."
        )
    return factors


def _mitigation_rows(record: dict[str, Any], roles: Roles) -> list[dict[str, str]]:
    rows = []
    for m in record.get("mitigations", []):
        verification = m.get("verification")
        if isinstance(verification, dict):
            verdict = verification.get("summary") or verification.get("message") or compact(verification)
        else:
            verdict = "not verified" if m.get("executed_at") else "—"
        approver = m.get("approved_by")
        rows.append({
            "action": str(m.get("action")),
            "target": str(m.get("target")),
            "status": str(m.get("status")),
            "approved_by": roles.of(approver) if approver else "—",
            "approved_at": fmt_time(parse_time(m.get("approved_at"))),
            "executed_at": fmt_time(parse_time(m.get("executed_at"))),
            "before": compact(m.get("before")),
            "after": compact(m.get("after")),
            "verification": str(verdict),
            "reverted": fmt_time(parse_time(m.get("reverted_at"))) if m.get("reverted_at") else "",
        })
    return rows


def _is_human_text(event: dict[str, Any], roles: Roles) -> bool:
    return not roles.is_system(event.get("actor")) and event.get("kind") in ("note", "status_changed", "change")


def _timeline(record: dict[str, Any], roles: Roles) -> tuple[list[dict[str, str]], list[BlameNote]]:
    rows, review = [], []
    for event in record.get("timeline", []):
        kind = str(event.get("kind"))
        if kind in _HIDDEN_KINDS:
            continue
        at = fmt_time(parse_time(event.get("at")))
        role = roles.of(event.get("actor"))
        message = str(event.get("message", ""))
        if kind == "commander_assigned":
            message = "incident commander assigned"
        elif _is_human_text(event, roles):
            findings = check_blameless(message)
            if findings:
                message = neutral_wording(message)
                reasons = "; ".join(dict.fromkeys(f.reason for f in findings))
                phrases = "; ".join(roles.anonymize(f.phrase) for f in findings)
                review.append(BlameNote(at, role, phrases, reasons, roles.anonymize(message)))
        rows.append({"at": at, "kind": kind, "role": role, "message": roles.anonymize(message)})
    return rows, review


def build_content(record: dict[str, Any], tracking: dict[str, dict[str, str]] | None = None) -> Content:
    """Everything the template shows, except the figures (added by the drafter that draws them).

    ``tracking`` maps action item titles already filed in a tracker to their key, link and state.
    """
    approvers = {m["approved_by"] for m in record.get("mitigations", []) if m.get("approved_by")}
    roles = Roles(record.get("commander"), approvers, rotations=set(_escalation_targets(record)))
    for event in record.get("timeline", []):  # number responders in order of appearance, before any text
        roles.of(event.get("actor"))
    onset, end = onset_of(record), impact_end_of(record)
    timing_rows, timing_values = response_timings(record)
    diagnosis = _diagnosis_view(record, onset)
    timeline, review = _timeline(record, roles)
    executed = executed_mitigations(record)
    actions = [str(m.get("action")) for m in executed]

    services = sorted({record.get("service") or "unknown"} | {
        str(e["data"].get("service")) for e in record.get("timeline", [])
        if e.get("kind") == "change" and e["data"].get("service")})
    models = sorted({str(m.get("target")) for m in record.get("mitigations", []) if m.get("target")})
    versions: set[str] = set()
    for e in record.get("timeline", []):
        if e.get("kind") == "change":
            versions |= {str(v) for v in (e["data"].get("from_version"), e["data"].get("to_version")) if v}
    culprit = (record.get("diagnosis") or {}).get("culprit") or {}
    if culprit.get("kind") == "model_version" and culprit.get("name"):
        versions.add(str(culprit["name"]))
    if not models and versions:
        models = [str(record.get("service"))]
    impact = {
        "duration": fmt_minutes(minutes_between(onset, end)),
        "window": f"{fmt_time(onset)} → {fmt_time(end)}",
        "services": services,
        "models": models,
        "versions": sorted(versions),
    }

    what = cause_phrase(record.get("diagnosis"))
    by_people = responder_changes(record)
    summary = (
        f"On {fmt_time(onset)}, `{record.get('service')}` regressed ({record.get('title')}); "
        f"the diagnosis attributes it to {what}. "
        f"It was detected after {fmt_minutes(timing_values['detect'])} and "
        f"{_mitigation_phrase(record, actions, by_people, timing_values['mitigate'])}; the incident was "
        + (f"resolved at {fmt_time(parse_time(record.get('resolved_at')))}." if record.get("resolved_at")
           else f"still {record.get('status')} when this draft was made.")
    )

    prompts = _prompts(record, timing_values, executed)
    trigger = trigger_change(record, onset)
    holders = roles_from_events(record.get("commander"), [
        _Event(str(e.get("kind")), e.get("data") or {}) for e in record.get("timeline", [])])
    items = derive_action_items(
        record.get("diagnosis"), service=str(record.get("service")), mitigation_actions=actions,
        minutes_to_detect=timing_values["detect"],
        trigger_kind=str(trigger["data"].get("kind")) if trigger else None,
        alert_names=[str(a.get("title") or "") for a in record.get("alerts", [])]
        + [str((a.get("labels") or {}).get("alertname") or "") for a in record.get("alerts", [])]
        + [str(record.get("title") or "")],
        still_in_place=[m for m in record.get("mitigations", []) if m.get("status") in IN_PLACE],
        resolved=bool(record.get("resolved_at")),
        roles=_owners(record, holders, roles),
    )
    return Content(
        incident={
            "id": record.get("id"),
            "title": record.get("title"),
            "severity": record.get("severity"),
            "status": record.get("status"),
            "service": record.get("service"),
            "commander": "assigned" if record.get("commander") else "not assigned",
            "started": fmt_time(onset),
            "opened": fmt_time(parse_time(record.get("created_at"))),
            "mitigated": fmt_time(mitigated_at_of(record)),
            "resolved": fmt_time(parse_time(record.get("resolved_at"))),
        },
        summary=summary,
        timings=timing_rows,
        impact=impact,
        diagnosis=diagnosis,
        contributing_factors=_contributing_factors(record, timing_values["detect"]),
        mitigations=_mitigation_rows(record, roles),
        responder_changes=[{
            "at": fmt_time(parse_time(e.get("at"))), "kind": str(e["data"].get("kind")),
            "service": str(e["data"].get("service")), "description": str(e["data"].get("description")),
        } for e in by_people],
        timeline=timeline,
        prompts=prompts,
        action_items=[{**asdict(item), "tracked": _tracked(item.title, tracking or {})} for item in items],
        blame_review=review,
        onset=onset,
        impact_end=end,
    )


def _owners(record: dict[str, Any], holders: dict[str, str], roles: Roles) -> dict[str, str]:
    """Who owns follow-ups, by role: the roles held, else whoever acknowledged the incident (by their role)
    for the commander's share and the team the runbook escalated to for the service's share."""
    owners = {role: ROLES[role] for role in holders}
    if "commander" not in owners:
        acked = [e.get("actor") for e in record.get("timeline", []) if e.get("kind") == "status_changed"
                 and (e.get("data") or {}).get("to") == "acknowledged" and not roles.is_system(e.get("actor"))]
        if acked:
            owners["commander"] = roles.of(acked[0])
    if "ops" not in owners and _escalation_targets(record):
        owners["ops"] = _escalation_targets(record)[0]
    return owners


def _tracked(title: str, tracking: dict[str, dict[str, str]]) -> str:
    found = tracking.get(title)
    if not found:
        return ""
    key = f"[{found['key']}]({found['url']})" if found.get("url") else found["key"]
    return f"{found['tracker']} {key} ({found['state']})"


@dataclass(frozen=True)
class _Event:
    kind: str
    data: dict[str, Any]


# Mitigation states whose change is still in place in production.
IN_PLACE = ("executed", "verified", "failed_verification")


def _mitigation_phrase(record: dict[str, Any], actions: list[str], by_people: list[dict[str, Any]],
                       minutes: float | None) -> str:
    """How the impact was stopped, in the words the mitigations section backs up."""
    after = f" after {fmt_minutes(minutes)}"
    if actions:
        return "mitigated by " + " and ".join(MITIGATION_PHRASES.get(a, f"`{a}`") for a in dict.fromkeys(actions)) \
            + after
    escalated_to = _escalation_targets(record)
    lead = f"escalated to {', '.join(escalated_to)}, then " if escalated_to else ""
    if by_people:
        first = by_people[0]["data"]
        kind = str(first.get("kind"))
        article = "an" if kind[:1] in "aeiou" else "a"
        return f"{lead}mitigated by {article} {kind} change on `{first.get('service')}` " \
               f"({first.get('description')}){after}"
    if minutes is not None:
        return f"{lead}marked mitigated{after}, with no mitigating action recorded"
    return f"{lead}not mitigated before it was resolved" if record.get("resolved_at") else f"{lead}not mitigated yet"


def _prompts(record: dict[str, Any], timings: dict[str, float | None],
             executed: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Facts that seed each discussion prompt; the team writes the rest."""
    well: list[str] = []
    wrong: list[str] = []
    diagnosis = record.get("diagnosis") or {}
    if diagnosis.get("cause") not in (None, "none"):
        runtime = diagnosis.get("runtime_ms")
        took = f" in {float(runtime) / 1000:.1f} s" if isinstance(runtime, int | float) else ""
        well.append(f"The automated diagnosis localized the cause to {cause_phrase(diagnosis)}{took}.")
    for m in executed:
        verification = m.get("verification") or {}
        if verification.get("recovered") is True or m.get("status") == "verified":
            well.append(f"The `{m.get('action')}` mitigation was verified: the metric recovered.")
        elif m.get("status") in ("failed_verification", "failed"):
            wrong.append(f"The `{m.get('action')}` mitigation did not restore the metric ({m.get('status')}).")
    detect = timings["detect"]
    if detect is not None and detect > DETECTION_BUDGET_MINUTES:
        wrong.append(f"Detection took {detect:.1f} min.")
    elif detect is not None:
        well.append(f"Detection took {detect:.1f} min, inside the 5-minute budget.")
    escalated_to = _escalation_targets(record)
    if escalated_to:
        well.append(f"The runbook escalated to {', '.join(escalated_to)} with the diagnosis attached.")
    elif not executed:
        wrong.append("No mitigation was executed through mlresponder.")
    return {"well": well, "wrong": wrong, "lucky": []}
