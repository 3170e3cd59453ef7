"""Markdown rendering of a diagnosis: the verdict first, then the ranked findings."""

from __future__ import annotations

from diagnostics.findings import Diagnosis, iso_utc


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _trigger(d: Diagnosis) -> str:
    t = d.trigger
    if t is None:
        return "none recorded that the evidence supports"
    return f"{t.kind} of {t.service} at {iso_utc(t.timestamp)}: {_cell(t.description)}"


def to_markdown(diagnosis: Diagnosis, title: str = "Diagnosis") -> str:
    d = diagnosis
    onset_note = " (detected)" if d.onset_detected else ""
    if d.cause == "none":
        verdict = "**No cause found**: nothing in the log explains a regression."
    else:
        verdict = (
            f"**Cause: {d.cause}** — {d.culprit_kind} `{d.culprit_name}`; "
            f"recommended mitigation: **{d.recommended_mitigation}**."
        )
    lines = [
        f"# {title}",
        "",
        verdict,
        "",
        f"- confidence: {d.confidence:.2f}",
        f"- onset: {d.onset_iso}{onset_note}",
        f"- trigger: {_trigger(d)}",
        f"- runtime: {d.runtime_ms:.0f} ms",
        "",
    ]
    if d.findings:
        lines += [
            "| # | cause | check | subject | score | severity | evidence |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for i, f in enumerate(d.findings, 1):
            lines.append(
                f"| {i} | {f.cause} | {f.check} | {_cell(f.subject)} | {f.score:.2f} | {f.severity} "
                f"| {_cell(f.evidence)} |"
            )
    else:
        lines.append("No findings.")
    return "\n".join(lines) + "\n"
