"""The question set's targets (issue 2), on the real report, model and index."""

from __future__ import annotations

from pathlib import Path

from dzqa.engine import Engine
from dzqa.evaluate import evaluate, load_questions

DATA = Path(__file__).parent / "data"


def test_question_set_is_broad() -> None:
    items = load_questions(DATA / "questions.jsonl")
    types = {i.type for i in items}
    assert len(items) >= 80 and sum(not i.in_scope for i in items) >= 15
    assert {"direct", "numeric", "colloquial", "traditional", "english", "typo", "offtopic"} <= types


def test_targets_on_the_question_set(engine: Engine) -> None:
    m = evaluate(engine, load_questions(DATA / "questions.jsonl")).metrics()
    assert m["hit@1"] >= 0.90
    assert m["hit@3"] >= 0.97
    assert m["answer_has_gold"] >= 0.90
    assert m["off_topic_refused"] >= 0.90
    assert m["in_scope_answered"] >= 0.95


def test_calibration_set_does_not_collapse(engine: Engine) -> None:
    """The set the relevance model was fitted on (written separately from questions.jsonl): a floor."""
    m = evaluate(engine, load_questions(DATA / "calibration.jsonl")).metrics()
    assert m["hit@3"] >= 0.9 and m["in_scope_answered"] >= 0.85 and m["off_topic_refused"] >= 0.6
