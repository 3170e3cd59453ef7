"""The blameless check on sample sentences: blame is flagged with a neutral rewording, facts are not."""

from __future__ import annotations

import pytest

from postmortems.blameless import check_blameless, neutral_wording

BLAMING = [
    ("Bob broke the pipeline", "Bob"),
    ("It was the fault of alice from the data team", "fault of"),
    ("it was carol's fault", "fault"),
    ("Careless deploy on a Friday", "Careless"),
    ("The on-call was careless.", "careless"),
    ("They should have known the feature was null", "should have known"),
    ("I should have tested v2 on the holdout", "should have"),
    ("We should not have shipped on Friday", "should not have"),
    ("Root cause: human error in the config", "human error"),
    ("Dave forgot to run the validation job", "forgot"),
    ("Eve messed up the migration", "messed up"),
    ("That was Frank's mistake", "mistake"),
    ("Who is responsible for this model?", "responsible"),
    ("Don't blame the intern", "blame"),
]

NEUTRAL = [
    "Rolled back scoring to v1; accuracy back to 0.95",
    "The deploy broke scoring for the eu segment",
    "Feature mean_radius is null in 60% of rows since 12:04",
    "Latency p95 went from 40 ms to 900 ms after the infra change",
    "Paged the service owner, waiting for an answer",
]


@pytest.mark.parametrize(("sentence", "blaming_word"), BLAMING)
def test_blaming_sentence_is_flagged_with_a_neutral_suggestion(sentence: str, blaming_word: str) -> None:
    findings = check_blameless(sentence)
    assert findings, sentence
    assert any(blaming_word.lower() in f.phrase.lower() for f in findings)
    for finding in findings:
        assert finding.reason
        assert blaming_word.lower() not in finding.suggestion.lower()
    rewritten = neutral_wording(sentence)
    assert check_blameless(rewritten) == [], rewritten


@pytest.mark.parametrize("sentence", NEUTRAL)
def test_neutral_sentence_is_left_alone(sentence: str) -> None:
    assert check_blameless(sentence) == []
    assert neutral_wording(sentence) == sentence


def test_suggestions_name_the_system_not_the_person() -> None:
    (finding,) = check_blameless("Bob broke the pipeline")
    assert finding.suggestion == "The pipeline broke after a change"
    assert "Bob" not in neutral_wording("Dave forgot to run the validation; Bob broke the pipeline")
