"""The demo's closing summary: what happened, how long each stage took, where the postmortem is."""

from __future__ import annotations

from bot.demo.flow import DemoOutcome
from bot.demo.scenarios import SCENARIOS


def summary(outcome: DemoOutcome) -> str:
    scenario = SCENARIOS[outcome.scenario]
    d = outcome.diagnosis
    culprit = d.get("culprit") or {}
    marks = outcome.marks
    mitigations = outcome.incident.get("mitigations") or []
    if mitigations:
        m = mitigations[0]
        what = (f"{m['action']} ({m['status']}): serving v{(m.get('before') or {}).get('version')} → "
                f"v{(m.get('after') or {}).get('version')}")
    else:
        what = "escalated to the service owner (no model change: the fault is in the serving platform)"

    def at(name: str) -> str:
        return f"{marks[name]:.1f} s" if name in marks else "n/a"

    lines = [
        f"What happened: {scenario.story}.",
        f"  {outcome.incident['id']} opened from the Alertmanager alert {at('alert')} after the change.",
        f"  Diagnosis ({at('diagnosis')}): cause {d.get('cause')}, culprit {culprit.get('kind')} "
        f"{culprit.get('name')} (confidence {float(d.get('confidence') or 0):.2f}).",
        f"  Mitigation ({at('mitigation')}): {what}; the registry serves v{outcome.serving_version}.",
    ]
    if "recovered" in marks:
        lines.append(f"  The service owner reverted the infra change; latency recovered at {at('recovered')}; "
                     f"resolved at {at('resolved')}.")
    elif "verification" in marks:
        lines.append(f"  Verified at {at('verification')}; resolved at {at('resolved')}.")
    else:
        lines.append(f"  Resolved at {at('resolved')}.")
    lines.append(f"Postmortem: {outcome.postmortem_path}")
    return "\n".join(lines)
