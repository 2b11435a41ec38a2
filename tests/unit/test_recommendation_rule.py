"""The repeat rule of recommendations on given stems (the stemming itself is PostgreSQL's: the API tests in
tests/recommendations run the rule on real summaries)."""

from __future__ import annotations

import pytest

from chalicelib.domain.recommendations import Candidate, content_terms, repeated, similarity

IGNORED = ["workflow", "need", "oom", "kill", "deploy"]


def test_content_terms_drop_compounds_generic_and_group_words() -> None:
    stems = ["scale-out", "scale", "payments-api", "payment", "api", "workflow", "oom", "kill", "cpu"]
    assert content_terms(stems, IGNORED) == {"scale", "payment", "api", "cpu"}


@pytest.mark.parametrize(("a", "b", "expected"), [
    (set(), set(), 1.0),
    ({"x"}, set(), 0.0),
    ({"a", "b", "c", "d"}, {"a", "b", "c", "d", "e"}, 8 / 9),  # one extra word
    ({"a", "b", "c", "d"}, {"a", "b", "c", "e"}, 0.75),  # one word swapped among four
    ({"a", "b", "c", "d", "e"}, {"a", "b", "c", "d", "f"}, 0.8),  # one word swapped among five
])
def test_similarity_is_the_dice_coefficient(a: set[str], b: set[str], expected: float) -> None:
    assert similarity(frozenset(a), frozenset(b)) == pytest.approx(expected)


def test_the_most_similar_open_recommendation_is_repeated_the_oldest_on_a_tie() -> None:
    terms = frozenset({"restart", "heap", "dump", "memori", "leak"})
    candidates = [
        Candidate(7, ["restart", "heap", "dump", "memori", "leak", "captur"]),  # 10/11
        Candidate(3, ["restart", "heap", "dump", "memori", "leak", "workflow"]),  # identical once "workflow" goes
        Candidate(2, ["restart", "heap", "dump", "memori", "leak", "need"]),  # identical too, and older
        Candidate(1, ["rais", "memori", "limit"]),
    ]
    assert repeated(terms, candidates, IGNORED) == 2
    assert repeated(terms, candidates[:1], IGNORED) == 7
    assert repeated(terms, [candidates[3]], IGNORED) is None
