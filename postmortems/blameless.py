"""The blameless-language check: find wording that makes a person the cause, suggest a neutral one.

A postmortem asks what in the system let a reasonable action hurt production; "Bob broke the
pipeline" stops that question at a person. The check runs on the notes people added during the
incident. Each rule pairs a pattern with the reason it reads as blame and a rewrite that
names the system, the process or the change instead of the person.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_Rewrite = Callable[[re.Match[str]], str]

# Words that are subjects of blame sentences but are not people.
_THINGS = {
    "it", "this", "that", "the", "deploy", "deployment", "change", "release", "pipeline", "job",
    "model", "feature", "config", "update", "migration", "service", "upstream", "v2", "rollout",
}


@dataclass(frozen=True)
class BlameFinding:
    """One flagged phrase: what matched, why it reads as blame, and the sentence reworded."""

    phrase: str
    reason: str
    suggestion: str


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    reason: str
    rewrite: _Rewrite


def _const(text: str) -> _Rewrite:
    return lambda _m: text


def _person_broke(m: re.Match[str]) -> str:
    subject, verb, obj = m.group("who"), m.group("verb"), m.group("obj")
    if subject.split()[-1].lower() in _THINGS:
        return m.group(0)  # "the deploy broke X" names a change, not a person
    past = {"broke": "broke", "breaks": "broke", "broken": "broke", "took down": "went down",
            "killed": "stopped", "messed up": "degraded", "screwed up": "degraded"}.get(verb.lower(), "broke")
    return f"{obj} {past} after a change"


def _rule(pattern: str, reason: str, rewrite: _Rewrite) -> _Rule:
    return _Rule(re.compile(pattern, re.IGNORECASE), reason, rewrite)


# A person as a sentence subject: a capitalized name (case-sensitive even under IGNORECASE) or a pronoun.
# A person's name or handle, without swallowing the full stop that ends the sentence.
_NAME = r"[\w@-]+(?:\.[\w@-]+)*"
_WHO = r"(?P<who>(?-i:[A-Z][\w.-]*)|someone|somebody|they|he|she|you|I|we|the\s+\w+)"


def _adjective_rewrite(m: re.Match[str]) -> str:
    return "had no safety check" if m.group("copula") else ""


# Nothing but punctuation (or the end) follows: a rewrite must not leave "...that." or "...to." behind.
_CLAUSE_END = r"(?P<end>(?=\s*(?:[.!?,;:]|$)))?"


def _hindsight_known(m: re.Match[str]) -> str:
    return "there was no signal at the time" if m.group("end") is not None else "there was no signal at the time that"


def _blame_rewrite(m: re.Match[str]) -> str:
    return "we looked at the conditions that led to this" if m.group("end") is not None else \
        "we looked at the conditions that led to"


def _hindsight_rewrite(m: re.Match[str]) -> str:
    if m.group("neg"):
        return f"the process had no check against having {m.group('act')}"
    return f"the process did not include a step that would have {m.group('act')}"


_RULES: tuple[_Rule, ...] = (
    _rule(
        _WHO + r"\s+(?P<verb>broke|breaks|took down|killed|messed up|screwed up)\s+"
        r"(?P<obj>(?:the|our|a|an)\s+[\w-]+|[\w-]+)",
        "names a person as the cause of the breakage",
        _person_broke,
    ),
    _rule(
        r"\b(?:(?:the\s+)?fault\s+of\s+" + _NAME + r"|" + _NAME + r"'s\s+fault|(?:his|her|their|my|your)\s+fault)\b",
        "assigns fault to a person",
        _const("a contributing factor"),
    ),
    _rule(
        r"(?:" + _WHO + r"\s+)?\bblam(?:e|es|ed|ing)\b(?:\s+(?:it\s+)?(?:on\s+)?(?!for\b)" + _NAME + r")?(?:\s+for\b)?"
        + _CLAUSE_END,
        "assigns blame", _blame_rewrite),
    _rule(
        r"(?:\b(?P<copula>was|were|is|are|been)\s+)?\b(?:careless(?:ly|ness)?|sloppy|sloppily|"
        r"negligen(?:t|ce)|incompeten(?:t|ce)|lazy|stupid|reckless(?:ly)?)\b",
        "judges a person instead of describing the conditions",
        _adjective_rewrite,
    ),
    _rule(
        r"(?:" + _WHO + r"\s+)?\bshould\s+have\s+known(?:\s+better)?(?:\s+that)?\b" + _CLAUSE_END,
        "hindsight: judges a decision by information that came later",
        _hindsight_known,
    ),
    _rule(
        r"(?:" + _WHO + r"\s+)?\bshould(?P<neg>\s+not|n't)?\s+have\s+(?P<act>\w+)",
        "hindsight about what a person should have done",
        _hindsight_rewrite,
    ),
    _rule(r"\bhuman\s+error\b", "stops the analysis at a person", _const("a gap in tooling or process")),
    _rule(
        r"(?:" + _WHO + r"\s+)?\b(?:forgot|neglected|failed)\s+to\s+(?P<act>\w+)",
        "describes an omission as a personal failing",
        lambda m: f"the checklist did not include a step to {m.group('act')}",
    ),
    _rule(
        r"(?:" + _WHO + r"\s+)?\b(?:didn'?t|did\s+not)\s+bother\s+to\s+(?P<act>\w+)",
        "describes an omission as a personal failing",
        lambda m: f"no step required anyone to {m.group('act')}",
    ),
    _rule(
        r"\b(?:" + _NAME + r"'s|his|her|their|my|your)\s+(?:mistake|screw-?up|fuck-?up|blunder)\b",
        "names a person's mistake as the cause",
        _const("the change"),
    ),
    _rule(
        r"(?:" + _WHO + r"\s+)?\b(?:messed|screwed)\s+(?:it\s+|this\s+|that\s+)?up\b",
        "judges a person instead of describing what changed",
        _const("the change had an unexpected effect"),
    ),
    _rule(r"\bwho(?:'s| is| was)\s+responsible(?:\s+for\s+(?:this|that|it))?", "looks for a person to hold responsible",
          _const("which conditions allowed this")),
)


def check_blameless(text: str) -> list[BlameFinding]:
    """Flag each blaming phrase of ``text`` with the whole text reworded around it."""
    found: list[tuple[int, int, BlameFinding]] = []
    for rule in _RULES:
        for m in rule.pattern.finditer(text):
            replacement = rule.rewrite(m)
            if replacement == m.group(0):
                continue
            if any(start <= m.start() and m.end() <= end for start, end, _ in found):
                continue  # a broader rule already covers this phrase
            suggestion = _tidy(text[: m.start()] + replacement + text[m.end():])
            found.append((m.start(), m.end(), BlameFinding(m.group(0), rule.reason, suggestion)))
    return [finding for _, _, finding in sorted(found, key=lambda item: item[0])]


def neutral_wording(text: str) -> str:
    """``text`` with every blaming phrase replaced by its neutral wording (unchanged if none)."""
    out = text
    for rule in _RULES:
        out = rule.pattern.sub(rule.rewrite, out)
    return _tidy(out) if out != text else text


def _tidy(text: str) -> str:
    text = re.sub(r"\s{2,}", " ", text).strip()
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    # every sentence starts with a capital, the first one and each after a full stop
    text = re.sub(r"([.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
    return text[:1].upper() + text[1:] if text else text
