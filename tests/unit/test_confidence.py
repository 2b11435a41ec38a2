"""The `confident` decision as pure functions (chalicelib/domain/confidence.py)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain import confidence
from chalicelib.domain.confidence import Signals


def row(semantic: float, text: float) -> dict[str, Any]:
    return {"semantic": semantic, "text": text}


def agreement(ranked: list[dict[str, Any]], window: int = 40) -> float:
    found = confidence.signals(ranked, window, 0.5, 0.5)
    assert found is not None
    return found.agreement


def test_agreement_needs_the_top_result_first_in_both_rankings() -> None:
    assert agreement([row(0.6, 0.8), row(0.5, 0.7), row(0.2, 0.1)]) == 1.0
    assert agreement([row(0.6, 0.8), row(0.7, 0.2)]) == 0.0  # another is semantically nearer
    assert agreement([row(0.6, 0.5), row(0.5, 0.7)]) == 0.0  # another matches the text better
    assert agreement([row(0.6, 0.8), row(0.6, 0.8)]) == 1.0  # a tie is not a lost vote


def test_agreement_compares_text_within_the_nearest_window_only() -> None:
    """So that asking for more results (a larger pool) does not change the decision."""
    ranked = [row(0.9, 0.5), row(0.8, 0.1), row(0.1, 0.9)]
    assert agreement(ranked, window=2) == 1.0
    assert agreement(ranked, window=3) == 0.0


def test_a_ranking_of_zeros_puts_nobody_first() -> None:
    assert agreement([row(0.0, 0.0), row(0.0, 0.0)]) == 0.0
    assert agreement([row(0.4, 0.0), row(0.1, 0.0)]) == 0.0


def test_no_candidates_no_signals_and_coverages_are_clamped() -> None:
    assert confidence.signals([], 40, 1.0, 1.0) is None
    assert confidence.signals([row(0.5, 0.5)], 40, 1.5, -0.2) == Signals(1.0, 1.0, 0.0)


def test_more_evidence_never_lowers_the_probability() -> None:
    """The fitted model keeps the direction each signal argues for (a re-fit that flips one is wrong)."""
    base = Signals(0.0, 0.4, 0.4)
    for better in (Signals(1.0, 0.4, 0.4), Signals(0.0, 0.8, 0.4), Signals(0.0, 0.4, 0.8)):
        assert confidence.probability(better) > confidence.probability(base)
    assert 0.0 < confidence.probability(Signals(0.0, 0.0, 0.0)) < confidence.probability(Signals(1.0, 1.0, 1.0)) < 1.0


@pytest.mark.parametrize(("has_query", "results", "found", "expected"), [
    (True, 0, Signals(1.0, 1.0, 1.0), False),  # nothing returned is never confident
    (False, 0, None, False),
    (False, 3, None, True),  # without a query: something matched the labels
    (True, 3, None, False),
    (True, 3, Signals(1.0, 1.0, 1.0), True),
    (True, 3, Signals(0.0, 0.0, 0.0), False),
])
def test_is_confident(has_query: bool, results: int, found: Signals | None, expected: bool) -> None:
    assert confidence.is_confident(has_query, results, found) is expected


def test_is_confident_is_the_probability_at_the_threshold() -> None:
    weak, strong = Signals(1.0, 0.2, 0.2), Signals(1.0, 0.9, 0.9)
    assert confidence.probability(weak) < confidence.THRESHOLD <= confidence.probability(strong)
    assert not confidence.is_confident(True, 1, weak)
    assert confidence.is_confident(True, 1, strong)


@pytest.mark.parametrize(("text", "expected"), [
    ("The PersistentVolume claimed by data-loki-0 only has 2.11% free inodes.", "The PersistentVolume claimed by only has free inodes"),
    ("Systemd service kubelet.service has being restarted (crash looping).", "Systemd service has being restarted crash looping"),
    ("Disk IO queue (aqu-sq) is high on nvme0n1 at 10.0.42.17:9100.", "Disk IO queue is high on at"),
    ('etcd cluster "etcd": 5 leader changes', "etcd cluster etcd leader changes"),
])
def test_plain_words_keep_standalone_words_and_drop_instances_and_numbers(text: str, expected: str) -> None:
    assert confidence.plain_words(text) == expected


def test_a_composite_and_its_own_steps_are_one_family_not_rivals_in_the_agreement_vote() -> None:
    steps_of = {"raise-and-restart": frozenset({"raise-memory", "restart"}), "other-composite": frozenset({"x"})}
    assert confidence.family_of("raise-memory", steps_of) == {"raise-and-restart"}
    assert confidence.family_of("raise-and-restart", steps_of) == {"raise-memory", "restart"}
    assert confidence.family_of("unrelated", steps_of) == frozenset()
    # The step ranks first semantically, its composite first on text: a split vote without the family rule.
    ranked = [{"workflow_id": "raise-memory", "semantic": 0.9, "text": 0.70},
              {"workflow_id": "raise-and-restart", "semantic": 0.8, "text": 0.72},
              {"workflow_id": "unrelated", "semantic": 0.1, "text": 0.1}]
    assert confidence.signals(ranked, 20, 1.0, 1.0).agreement == 0.0
    family = confidence.family_of("raise-memory", steps_of)
    assert confidence.signals(ranked, 20, 1.0, 1.0, family).agreement == 1.0
    # A rival outside the family still splits the vote.
    rival = [*ranked, {"workflow_id": "unrelated-2", "semantic": 0.2, "text": 0.75}]
    assert confidence.signals(rival, 20, 1.0, 1.0, family).agreement == 0.0
