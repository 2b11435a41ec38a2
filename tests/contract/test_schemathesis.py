"""The bounded contract run in `make test`: schemathesis, every check on, about a minute, a fixed seed.

Fails on any server error, response that breaks its documented schema, undocumented status or schema-valid
request refused, except the intended exceptions of tests/contract/hooks.py (each with its reason). The run
may revoke keys it created itself, never its own (it would spend the rest of its budget on 401s).
"""

from __future__ import annotations

import re

from tests.contract.fuzz import run
from tests.contract.hooks import EXCEPTIONS, excepted

BUDGET_SECONDS = 60


def test_schemathesis_finds_nothing_to_trip_on_in_the_published_contract() -> None:
    outcome = run(BUDGET_SECONDS)
    assert outcome.returncode == 0, outcome.output[-12000:]
    assert outcome.key_still_valid, "the run revoked its own key"
    counts = outcome.counts
    assert counts["generated"] > 1000 and counts["failures"] == 0, outcome.summary
    selected, tested = (re.search(rf"{label}: (\d+)", outcome.output) for label in ("Selected", "Tested"))
    assert selected and tested and selected.group(1) == tested.group(1)  # every operation but /mcp was reached


def test_an_exception_covers_only_the_refusal_it_names() -> None:
    cursor = {"errors": [{"path": "$.cursor", "message": "not a cursor this endpoint issued"}]}
    assert excepted("ST202", "GET", "/api/v1/executions", 400, cursor) is EXCEPTIONS[0]
    # The same refusal with one more error, another status or another check is not excepted.
    more = {"errors": [*cursor["errors"], {"path": "$.limit", "message": "must be at most 200"}]}
    assert excepted("ST202", "GET", "/api/v1/executions", 400, more) is None
    assert excepted("ST202", "GET", "/api/v1/executions", 500, cursor) is None
    assert excepted("ST101", "GET", "/api/v1/executions", 400, cursor) is None
    assert excepted("ST202", "POST", "/api/v1/executions", 400, {"errors": [{"path": "$.target.kind"}]}) is None
    assert all(rule.reason.endswith(".") and len(rule.reason) > 40 for rule in EXCEPTIONS)
