"""The composite-workflow rules (chalicelib/domain/composite.py) without a database: what the body says,
how a step resolves, how its parameters must fit the version it resolves to, and each step's values at
execution."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chalicelib.domain.composite import (
    Candidate,
    Composition,
    StepMismatch,
    StepWorkflow,
    Unresolvable,
    find_cycle,
    parse_composition,
    plan_step,
    resolve,
    wiring_errors,
)

OWN = {"type": "object", "properties": {
    "NS": {"type": "string", "description": "namespace"},
    "COUNT": {"type": "integer", "description": "count"},
    "RATIO": {"type": "number", "description": "ratio"},
    "MODE": {"enum": ["fast", "safe"], "description": "mode"},
    "SECRET": {"type": "string", "description": "secret", "writeOnly": True},
}, "required": ["NS"]}
STEP_SCHEMA: dict[str, Any] = {"type": "object", "properties": {
    "NAMESPACE": {"type": "string", "description": "namespace", "pattern": "^[a-z]+$"},
    "REPLICAS": {"type": "integer", "description": "replicas", "minimum": 1, "maximum": 10},
    "FACTOR": {"type": "number", "description": "factor"},
    "MODE": {"enum": ["fast", "safe", "slow"], "description": "mode"},
    "STRICT": {"enum": ["safe"], "description": "strict mode"},
    "TOKEN": {"type": "string", "description": "token", "writeOnly": True},
    "WAIT": {"type": "integer", "description": "wait", "default": 30},
}, "required": ["NAMESPACE", "REPLICAS"]}


def step(name: str = "a", **fields: Any) -> dict[str, Any]:
    return {"name": name, "workflow_id": "scale", "version": "^1.0.0", **fields}


def composition_errors(steps: list[dict[str, Any]], final: list[dict[str, Any]] | None = None,
                       own: dict[str, Any] | None = OWN) -> dict[str, str]:
    body: dict[str, Any] = {"steps": steps}
    if final is not None:
        body["finally"] = final
    _, errors = parse_composition(body, own)
    return {e.path: e.message for e in errors}


def test_a_well_formed_composition_has_no_problem() -> None:
    steps = [step("a", parameters={"NAMESPACE": "$(params.NS)", "REPLICAS": 3}), step("b", run_after=["a"])]
    assert composition_errors(steps, [step("undo", when="failed")]) == {}


def test_step_names_are_unique_across_steps_and_finally() -> None:
    errors = composition_errors([step("a"), step("a")], [step("a", when="always")])
    assert set(errors) == {"$.steps[1].name", "$.finally[0].name"}
    assert "already the name of $.steps[0]" in errors["$.steps[1].name"]


@pytest.mark.parametrize(("run_after", "message"), [
    (["missing"], "'missing' is not a step of this composite"),
    (["undo"], "'undo' is not a step of this composite"),  # finally steps cannot be waited for
    (["a"], "a step cannot run after itself"),
])
def test_run_after_must_name_another_step(run_after: list[str], message: str) -> None:
    errors = composition_errors([step("a", run_after=run_after)], [step("undo", when="failed")])
    assert message in errors["$.steps[0].run_after[0]"]


def test_a_cycle_is_named_in_the_order_it_runs() -> None:
    steps = [step("a", run_after=["c"]), step("b", run_after=["a"]), step("c", run_after=["b"]), step("d")]
    errors = composition_errors(steps)
    assert errors == {"$.steps[0].run_after": "run_after makes a cycle: a -> b -> c -> a"}


def test_find_cycle() -> None:
    assert find_cycle({"a": [], "b": ["a"], "c": ["a", "b"]}) is None
    assert find_cycle({"x": ["y"], "y": ["x"]}) == ["x", "y", "x"]


@pytest.mark.parametrize(("value", "path", "message"), [
    ("$(params.MISSING)", "$.steps[0].parameters.NAMESPACE", "do not declare"),
    ("prefix-$(params.NS)", "$.steps[0].parameters.NAMESPACE", "exactly \"$(params.NAME)\""),
    ("$(params.ns)", "$.steps[0].parameters.NAMESPACE", "Tekton substitution"),
    ("nul\x00", "$.steps[0].parameters.NAMESPACE", "NUL"),
])
def test_parameter_values(value: str, path: str, message: str) -> None:
    errors = composition_errors([step(parameters={"NAMESPACE": value})])
    assert message in errors[path]


def test_references_are_not_checked_against_a_schema_that_is_itself_invalid() -> None:
    assert composition_errors([step(parameters={"NAMESPACE": "$(params.ANY)"})], own=None) == {}


def test_a_range_that_does_not_parse() -> None:
    errors = composition_errors([step(version="^1.x.3 ||| 2")])
    assert "is not an npm-style SemVer range" in errors["$.steps[0].version"]


def test_content_is_canonical() -> None:
    composition, _ = parse_composition({"steps": [step(version=" ^1.0.0 ")], "finally": [step("z")]}, OWN)
    assert composition.to_content() == {
        "steps": [{"name": "a", "workflow_id": "scale", "version": "^1.0.0", "parameters": {}, "run_after": []}],
        "finally": [{"name": "z", "workflow_id": "scale", "version": "^1.0.0", "parameters": {}, "when": "always"}],
    }
    assert Composition.from_content(composition.to_content()) == composition


# --- resolution ---------------------------------------------------------------------------------
def candidate(version: str, image: bool = True, schema: dict[str, Any] | None = None) -> Candidate:
    return Candidate(version, f"ghcr.io/acme/scale:{version}@sha256:" + "a" * 64 if image else None,
                     schema or STEP_SCHEMA, f"Scale {version}")


def workflow(*versions: Candidate, exists: bool = True, enabled: bool = True) -> StepWorkflow:
    return StepWorkflow("scale", exists, enabled, list(versions))


def the_step(**fields: Any) -> Any:
    composition, errors = parse_composition({"steps": [step(**fields)]}, OWN)
    assert errors == []
    return composition.steps[0]


def test_a_range_resolves_to_the_highest_active_version_in_range_not_a_newer_major() -> None:
    versions = [candidate(v) for v in ("1.0.0", "1.10.0", "1.2.0", "2.0.0", "1.11.0-rc.1")]
    resolved = resolve(the_step(version="^1.2.0"), workflow(*versions), "composite")
    assert resolved.version == "1.10.0"
    assert resolved.container_image.endswith("@sha256:" + "a" * 64)


@pytest.mark.parametrize(("target", "own_id", "field", "message"), [
    (workflow(exists=False), "composite", "workflow_id", "no workflow 'scale' in the catalog"),
    (workflow(candidate("1.0.0"), enabled=False), "composite", "workflow_id", "is disabled"),
    (workflow(candidate("0.9.0"), candidate("2.0.0")), "composite", "version",
     "no active version in range '^1.0.0' (active versions: 2.0.0, 0.9.0)"),
    (workflow(), "composite", "version", "(active versions: none)"),
    (workflow(candidate("1.0.0", image=False)), "composite", "version", "is a composite workflow"),
    (workflow(candidate("1.0.0")), "scale", "workflow_id", "the composite's own workflow"),
])
def test_why_a_step_does_not_resolve(target: StepWorkflow, own_id: str, field: str, message: str) -> None:
    with pytest.raises(Unresolvable) as raised:
        resolve(the_step(), target, own_id)
    assert raised.value.field == field
    assert message in str(raised.value) and "step 'a'" in str(raised.value)


# --- wiring -------------------------------------------------------------------------------------
def wiring(parameters: dict[str, Any], schema: dict[str, Any] | None = None) -> dict[str, str]:
    resolved = resolve(the_step(parameters=parameters), workflow(candidate("1.0.0", schema=schema)), "composite")
    return {e.path: e.message for e in wiring_errors(resolved, OWN)}


def test_parameters_that_fit() -> None:
    assert wiring({"NAMESPACE": "$(params.NS)", "REPLICAS": "$(params.COUNT)", "FACTOR": "$(params.COUNT)",
                   "MODE": "$(params.MODE)", "TOKEN": "$(params.SECRET)"}) == {}


def test_a_required_parameter_of_the_step_must_be_supplied() -> None:
    errors = wiring({"NAMESPACE": "$(params.NS)"})
    assert errors == {"$.steps[0].parameters.REPLICAS":
                      'is required by scale 1.0.0: give a value or "$(params.NAME)"'}


def test_an_undeclared_parameter_of_the_step() -> None:
    errors = wiring({"NAMESPACE": "x", "REPLICAS": 1, "COLOR": "red"})
    assert errors == {"$.steps[0].parameters.COLOR": "is not a parameter of scale 1.0.0"}


@pytest.mark.parametrize(("name", "value"), [("REPLICAS", 0), ("REPLICAS", "3"), ("NAMESPACE", "UPPER"),
                                             ("MODE", "turbo"), ("REPLICAS", 2.5)])
def test_a_literal_must_be_valid_for_the_step(name: str, value: Any) -> None:
    parameters = {"NAMESPACE": "ok", "REPLICAS": 1, name: value}
    errors = wiring(parameters)
    assert list(errors) == [f"$.steps[0].parameters.{name}"]
    assert errors[f"$.steps[0].parameters.{name}"].endswith("(for scale 1.0.0)")


@pytest.mark.parametrize(("name", "reference", "message"), [
    ("REPLICAS", "NS", "is string, which cannot feed the integer parameter"),
    ("REPLICAS", "RATIO", "is number, which cannot feed the integer parameter"),
    ("STRICT", "MODE", "may be 'fast'"),
])
def test_wired_types_must_agree(name: str, reference: str, message: str) -> None:
    errors = wiring({"NAMESPACE": "ok", "REPLICAS": 1, name: f"$(params.{reference})"})
    assert message in errors[f"$.steps[0].parameters.{name}"]


def test_write_only_stays_write_only() -> None:
    errors = wiring({"NAMESPACE": "ok", "REPLICAS": 1, "TOKEN": "$(params.NS)"})
    assert "declare NS writeOnly" in errors["$.steps[0].parameters.TOKEN"]
    errors = wiring({"NAMESPACE": "ok", "REPLICAS": 1, "TOKEN": "plain-text-secret"})
    assert "is writeOnly in scale 1.0.0" in errors["$.steps[0].parameters.TOKEN"]


# --- execution ----------------------------------------------------------------------------------
def test_plan_applies_the_step_defaults_and_maps_errors_to_the_composite_parameter() -> None:
    resolved = resolve(the_step(parameters={"NAMESPACE": "$(params.NS)", "REPLICAS": "$(params.COUNT)"}),
                       workflow(candidate("1.0.0")), "composite")
    planned, errors = plan_step(resolved, OWN, {"NS": "shop", "COUNT": 4})
    assert errors == []
    assert planned.values == {"NAMESPACE": "shop", "REPLICAS": 4, "WAIT": 30}
    assert planned.wired == {"NAMESPACE": "NS", "REPLICAS": "COUNT"}
    _, errors = plan_step(resolved, OWN, {"NS": "shop", "COUNT": 40})
    assert [(e.path, e.message) for e in errors] == [
        ("$.parameters.COUNT", "step 'a' (scale 1.0.0), parameter REPLICAS: must satisfy maximum 10")]
    _, errors = plan_step(resolved, OWN, {"NS": "shop"})  # an optional parameter of the composite not given
    assert [e.path for e in errors] == ["$.parameters.COUNT"]


def test_a_step_that_no_longer_fits_is_a_mismatch_not_a_caller_error() -> None:
    schema = copy.deepcopy(STEP_SCHEMA)
    schema["required"].append("FACTOR")  # a newer version in range requires more
    resolved = resolve(the_step(parameters={"NAMESPACE": "$(params.NS)", "REPLICAS": 2}),
                       workflow(candidate("1.1.0", schema=schema)), "composite")
    with pytest.raises(StepMismatch, match=r"step 'a' resolves to scale 1\.1\.0 now"):
        plan_step(resolved, OWN, {"NS": "shop"})
