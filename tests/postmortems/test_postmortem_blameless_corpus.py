"""The blameless rewrite on a corpus of blaming sentences: the result is neutral and reads as grammatical text."""

from __future__ import annotations

import re

import pytest

from postmortems.blameless import check_blameless, neutral_wording

CORPUS = [
    "The outage followed a deploy by the data team. Bob should have known that the schema changed.",
    "The outage followed a deploy by the data team. Bob should have known better.",
    "Ivan should have known.",
    "Bob should have known that, honestly.",
    "Alice broke the pipeline.",
    "Bob broke the pipeline on Friday and nobody noticed.",
    "Mallory took down the API.",
    "It was the fault of Carol.",
    "This was Bob's fault.",
    "It was his fault.",
    "Dave was careless with the config.",
    "The rollout was sloppy.",
    "The on-call engineer was negligent.",
    "He forgot to update the feature schema.",
    "They failed to run the backfill.",
    "Someone should have checked the canary.",
    "We shouldn't have deployed on Friday.",
    "It was human error.",
    "Eve didn't bother to test it.",
    "It was Frank's mistake.",
    "Grace messed up the migration.",
    "Judy messed it up again.",
    "Who is responsible for this?",
    "I blame Heidi for the outage.",
    "I blame Heidi.",
    "we blamed it on Oscar.",
    "the deploy went out. he should have known better. then it failed.",
    "Peggy forgot to rotate the key. Trent should have noticed.",
]

# A sentence that ends on one of these words was cut where its object should be ("...at the time that.").
_DANGLING = re.compile(r"\b(that|to|the|a|an|of|for|by|with|against|at|on|led)\s*[.!?,;:]", re.IGNORECASE)

# A removed name leaves two prepositions side by side ("traced the issue to for the outage").
_STACKED = re.compile(r"\b(to|of|for|at|by|with|on)\s+(to|of|for|at|by|with|on)\b", re.IGNORECASE)


def grammar_problems(text: str) -> list[str]:
    problems = []
    if "  " in text or re.search(r"\s[.,;:!?]", text):
        problems.append("stray whitespace")
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        if not sentence:
            continue
        if not sentence[0].isupper():
            problems.append(f"sentence starts in lower case: {sentence!r}")
        if re.fullmatch(r"[.!?]+", sentence):
            problems.append("empty sentence")
    if _DANGLING.search(text):
        problems.append(f"dangling word before punctuation: {_DANGLING.search(text).group(0)!r}")  # type: ignore[union-attr]
    if _STACKED.search(text):
        problems.append(f"two prepositions in a row: {_STACKED.search(text).group(0)!r}")  # type: ignore[union-attr]
    if text.rstrip()[-1:] not in ".!?":
        problems.append("no final punctuation")
    return problems


@pytest.mark.parametrize("sentence", CORPUS)
def test_rewrite_is_neutral_and_grammatical(sentence: str) -> None:
    assert check_blameless(sentence), f"the corpus sentence is not flagged at all: {sentence!r}"
    rewritten = neutral_wording(sentence)
    assert check_blameless(rewritten) == [], rewritten
    assert grammar_problems(rewritten) == [], rewritten


def test_the_reported_sentence() -> None:
    assert neutral_wording("The outage followed a deploy by the data team. Bob should have known better.") == (
        "The outage followed a deploy by the data team. There was no signal at the time.")
    assert neutral_wording("Bob should have known that the schema changed.") == (
        "There was no signal at the time that the schema changed.")


def test_the_checker_itself_catches_the_old_output() -> None:
    assert grammar_problems("…a deploy by the data team. there was no signal at the time that.")
    assert grammar_problems("I traced the issue to for the outage.")
    assert grammar_problems("Neutral text, well formed.") == []
