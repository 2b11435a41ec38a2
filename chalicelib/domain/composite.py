"""Composite workflows: a version made of steps that run other catalog workflows (pure rules, no I/O).

A composite version carries ``steps`` (and optionally ``finally``) instead of ``container_image``.
Each step names a catalog workflow and an npm-style SemVer range (domain/semver_range.py) and
passes it parameters: literal values, or ``$(params.NAME)`` for a parameter of the composite.
``run_after`` orders steps (steps with no dependency between them run in parallel); finally steps
run after all the others, ``when`` the pipeline ``succeeded``, ``failed`` or ``always``.

What is checked where:
- ``parse_composition``: everything the body itself says: unique step names, ``run_after`` naming
  known steps, no cycle (the cycle is named), ranges that parse, references to declared parameters
  of the composite, literal values that Tekton would not rewrite.
- ``resolve`` and ``wiring_errors``: what needs the catalog. A range resolves to the highest active
  version in range of an enabled, single-image workflow; the step's parameters must then fit that
  version's schema (required ones supplied, literals valid, wired types compatible, writeOnly kept
  writeOnly). The catalog checks them at create, and resolves every step again at each execution.
- ``plan_steps``: at execution, each step's values from the composite's values, checked against
  the step's schema. A caller's bad value is the caller's error (400); a step that no longer fits
  its composite is the catalog's (409 unresolvable-step).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.errors import FieldError
from chalicelib.domain.parameter_schema import validate_parameters
from chalicelib.domain.semver_range import Range, parse_range
from chalicelib.domain.storable import first_unstorable
from chalicelib.domain.vocabularies import FinallyWhen

SUCCEEDED, FAILED, ALWAYS = FinallyWhen
WHEN = tuple(FinallyWhen)
REFERENCE = re.compile(r"^\$\(params\.([A-Z][A-Z0-9_]*)\)$")
MAX_LISTED_VERSIONS = 10


@dataclass(frozen=True)
class Step:
    """One step as written in the composite (``when`` is set for finally steps only)."""

    name: str
    workflow_id: str
    version: str  # an npm-style SemVer range
    parameters: dict[str, Any] = field(default_factory=dict)
    run_after: tuple[str, ...] = ()
    when: str | None = None
    path: str = "$.steps[0]"  # where it stands in the request, for error paths

    @property
    def is_finally(self) -> bool:
        return self.when is not None

    @property
    def range(self) -> Range:
        return parse_range(self.version)

    @property
    def references(self) -> dict[str, str]:
        """Step parameter -> the composite parameter it receives."""
        found = {name: _reference(value) for name, value in self.parameters.items()}
        return {name: reference for name, reference in found.items() if reference is not None}

    @property
    def literals(self) -> dict[str, Any]:
        return {name: value for name, value in self.parameters.items() if not _reference(value)}

    def to_content(self) -> dict[str, Any]:
        """The canonical form kept (and hashed) as content: every field present, defaults filled in."""
        content: dict[str, Any] = {"name": self.name, "workflow_id": self.workflow_id, "version": self.version,
                                   "parameters": dict(self.parameters)}
        if self.is_finally:
            content["when"] = self.when
        else:
            content["run_after"] = list(self.run_after)
        return content


@dataclass(frozen=True)
class Composition:
    steps: tuple[Step, ...]
    finally_steps: tuple[Step, ...] = ()

    @property
    def all_steps(self) -> tuple[Step, ...]:
        return self.steps + self.finally_steps

    def to_content(self) -> dict[str, Any]:
        return {"steps": [s.to_content() for s in self.steps], "finally": [s.to_content() for s in self.finally_steps]}

    @classmethod
    def from_content(cls, content: Mapping[str, Any]) -> Composition:
        """A stored composition (already validated when it was written)."""
        return cls(_steps(content.get("steps") or [], "$.steps", final=False),
                   _steps(content.get("finally") or [], "$.finally", final=True))


def _reference(value: object) -> str | None:
    match = REFERENCE.fullmatch(value) if isinstance(value, str) else None
    return match.group(1) if match else None


def _steps(items: Sequence[Mapping[str, Any]], where: str, final: bool) -> tuple[Step, ...]:
    return tuple(
        Step(name=item["name"], workflow_id=item["workflow_id"], version=item["version"].strip(),
             parameters=dict(item.get("parameters") or {}),
             run_after=() if final else tuple(item.get("run_after") or ()),
             when=(item.get("when") or ALWAYS) if final else None, path=f"{where}[{index}]")
        for index, item in enumerate(items)
    )


# --- what the body says -------------------------------------------------------------------------
def parse_composition(body: Mapping[str, Any], own_schema: Mapping[str, Any] | None
                      ) -> tuple[Composition, list[FieldError]]:
    """The composition of a create body whose ``steps``/``finally`` passed the contract (types, names,
    ``when``), and every problem the body itself shows (references are checked against ``own_schema``,
    the composite's parameters, unless it is None because it is itself invalid)."""
    composition = Composition.from_content({"steps": body.get("steps"), "finally": body.get("finally")})
    errors: list[FieldError] = []
    errors += _name_errors(composition)
    errors += _order_errors(composition.steps)
    declared = own_schema.get("properties", {}) if own_schema is not None else None
    for step in composition.all_steps:
        try:
            step.range  # noqa: B018 - parsing is the check
        except ValueError as exc:
            errors.append(FieldError(f"{step.path}.version", f"is not an npm-style SemVer range: {exc}"))
        for name, value in step.parameters.items():
            where = f"{step.path}.parameters.{name}"
            reference = _reference(value)
            if reference is not None and declared is not None and reference not in declared:
                errors.append(FieldError(where, f"refers to $(params.{reference}), which the composite's parameters "
                                                "do not declare"))
            elif reference is not None:
                continue
            elif isinstance(value, str) and "$(" in value:
                # Tekton would substitute it: a value is either literal text or exactly one reference.
                errors.append(FieldError(where, 'must be a literal value or exactly "$(params.NAME)"; "$(" starts a '
                                                "Tekton substitution"))
            else:
                bad = first_unstorable(value, where)
                if bad:
                    errors.append(bad)
    return composition, errors


def _name_errors(composition: Composition) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: dict[str, str] = {}
    for step in composition.all_steps:
        if step.name in seen:
            errors.append(FieldError(f"{step.path}.name", f"'{step.name}' is already the name of {seen[step.name]}; "
                                                          "step names are unique across steps and finally"))
        else:
            seen[step.name] = step.path
    return errors


def _order_errors(steps: Sequence[Step]) -> list[FieldError]:
    errors = []
    names = {step.name for step in steps}
    for step in steps:
        for index, other in enumerate(step.run_after):
            where = f"{step.path}.run_after[{index}]"
            if other == step.name:
                errors.append(FieldError(where, "a step cannot run after itself"))
            elif other not in names:
                errors.append(FieldError(where, f"'{other}' is not a step of this composite (finally steps always run "
                                                "last and cannot be waited for)"))
    cycle = find_cycle({s.name: [o for o in s.run_after if o in names and o != s.name] for s in steps})
    if cycle:
        first = next(s for s in steps if s.name == cycle[0])
        errors.append(FieldError(f"{first.path}.run_after", "run_after makes a cycle: " + " -> ".join(cycle)))
    return errors


def find_cycle(after: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A cycle of ``after`` (step -> the steps it runs after) as [a, b, ..., a], or None. Deterministic:
    steps are visited in the given order, so the same composition always names the same cycle."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in after.get(node, ()):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in after:
        if node not in state:
            found = visit(node)
            if found:
                # Name it in the direction it runs (a runs after b: b -> a).
                return list(reversed(found))
    return None


# --- what needs the catalog ---------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """An active version of a step's workflow, as the catalog holds it."""

    version: str
    container_image: str | None  # None: a composite version
    parameters: Mapping[str, Any]
    title: str


@dataclass(frozen=True)
class StepWorkflow:
    """What the catalog knows about the workflow a step names."""

    workflow_id: str
    exists: bool
    enabled: bool
    active: Sequence[Candidate]  # every active version, any order
    approval_required: bool = False  # its executions wait for approval, so a composite running it does too


@dataclass(frozen=True)
class Resolved:
    step: Step
    workflow_id: str
    version: str
    container_image: str
    parameters: Mapping[str, Any]
    title: str
    approval_required: bool = False  # the step's workflow requires approval

    def to_record(self) -> dict[str, Any]:
        return {"step": self.step.name, "finally": self.step.is_finally, "workflow_id": self.workflow_id,
                "version": self.version, "container_image": self.container_image}


class Unresolvable(Exception):
    """Why a step does not resolve, in words naming the step; ``field`` is the step's field at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def resolve(step: Step, workflow: StepWorkflow, own_workflow_id: str) -> Resolved:
    """The highest active version in the step's range; Unresolvable says why there is none."""
    name = f"step '{step.name}'"
    if step.workflow_id == own_workflow_id:
        raise Unresolvable(f"{name} names the composite's own workflow '{step.workflow_id}'", "workflow_id")
    if not workflow.exists:
        raise Unresolvable(f"{name}: no workflow '{step.workflow_id}' in the catalog", "workflow_id")
    if not workflow.enabled:
        raise Unresolvable(f"{name}: workflow '{step.workflow_id}' is disabled", "workflow_id")
    by_version = {c.version: c for c in workflow.active}
    chosen = step.range.highest(list(by_version))
    if chosen is None:
        listed = ", ".join(_newest_first(list(by_version))[:MAX_LISTED_VERSIONS]) or "none"
        raise Unresolvable(f"{name}: workflow '{step.workflow_id}' has no active version in range '{step.version}' "
                           f"(active versions: {listed})", "version")
    candidate = by_version[chosen]
    if candidate.container_image is None:
        raise Unresolvable(f"{name}: {step.workflow_id} {chosen} is a composite workflow; a step runs a single-image "
                           "workflow", "version")
    return Resolved(step, step.workflow_id, chosen, candidate.container_image, candidate.parameters, candidate.title,
                    workflow.approval_required)


def _newest_first(versions: list[str]) -> list[str]:
    from chalicelib.domain.semver_range import parse_version

    return sorted(versions, key=lambda v: parse_version(v).key, reverse=True)


def wiring_errors(resolved: Resolved, own_schema: Mapping[str, Any]) -> list[FieldError]:
    """How the step's parameters fail the schema of the version it resolves to (empty when they fit)."""
    step, schema = resolved.step, resolved.parameters
    label = f"{resolved.workflow_id} {resolved.version}"
    properties: Mapping[str, Any] = schema.get("properties", {})
    own: Mapping[str, Any] = own_schema.get("properties", {})
    errors: list[FieldError] = []
    for name in step.parameters:
        if name not in properties:
            errors.append(FieldError(f"{step.path}.parameters.{name}", f"is not a parameter of {label}"))
    supplied = set(step.parameters) | {n for n, p in properties.items() if isinstance(p, Mapping) and "default" in p}
    for name in schema.get("required", []):
        if name not in supplied:
            errors.append(FieldError(f"{step.path}.parameters.{name}",
                                     f"is required by {label}: give a value or \"$(params.NAME)\""))
    for name, needed in schema.get("dependentRequired", {}).items():
        for other in needed:
            if name in step.parameters and other not in supplied:
                errors.append(FieldError(f"{step.path}.parameters.{other}",
                                         f"is required by {label} when {name} is set"))
    literals = {n: v for n, v in step.literals.items() if n in properties}
    checked = {"type": "object", "properties": {n: properties[n] for n in literals}}
    literal_errors, _ = validate_parameters(checked, literals)
    errors += [FieldError(step.path + e.path.removeprefix("$"), f"{e.message} (for {label})") for e in literal_errors]
    for name in literals:
        if _write_only(properties[name]):
            errors.append(FieldError(f"{step.path}.parameters.{name}", f"is writeOnly in {label}: pass it with "
                                     "\"$(params.NAME)\" from a writeOnly parameter instead of writing it here"))
    for name, reference in step.references.items():
        if name not in properties or reference not in own:
            continue
        problem = _type_problem(own[reference], properties[name])
        where = f"{step.path}.parameters.{name}"
        if problem:
            errors.append(FieldError(where, f"$(params.{reference}) {problem} {name} of {label}"))
        if _write_only(properties[name]) and not _write_only(own[reference]):
            errors.append(FieldError(where, f"feeds the writeOnly parameter {name} of {label}: declare {reference} "
                                            "writeOnly in the composite's parameters too"))
    return errors


def _write_only(prop: object) -> bool:
    return isinstance(prop, Mapping) and prop.get("writeOnly") is True


def _types(prop: Mapping[str, Any]) -> set[str]:
    if "type" in prop:
        return {prop["type"]} if isinstance(prop["type"], str) else set(prop["type"])
    kinds = set()
    for value in prop.get("enum", []):
        if isinstance(value, bool):
            kinds.add("boolean")
        elif isinstance(value, int):
            kinds.add("integer")
        elif isinstance(value, float):
            kinds.add("number")
        else:
            kinds.add("string")
    return kinds


def _type_problem(own: Mapping[str, Any], target: Mapping[str, Any]) -> str | None:
    """Why a composite parameter cannot feed a step parameter (types must agree; an integer may feed a number;
    every value of an enum must be valid for the step), or None."""
    accepted = _types(target)
    if "number" in accepted:
        accepted.add("integer")
    wrong = sorted(_types(own) - accepted)
    if wrong:
        return f"is {' or '.join(wrong)}, which cannot feed the {' or '.join(sorted(_types(target)))} parameter"
    for value in own.get("enum", []):
        problems, _ = validate_parameters({"type": "object", "properties": {"X": target}}, {"X": value})
        if problems:
            return f"may be {value!r} ({problems[0].message}), which is not valid for the parameter"
    return None


# --- at execution -------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlannedStep:
    """A resolved step with the values it runs with (defaults of its schema applied)."""

    resolved: Resolved
    values: dict[str, Any]
    wired: dict[str, str]  # step parameter -> composite parameter whose value it carries


class StepMismatch(Exception):
    """The step no longer fits its composite (the catalog's problem, not the caller's)."""


def plan_step(resolved: Resolved, own_schema: Mapping[str, Any], values: Mapping[str, Any]
              ) -> tuple[PlannedStep, list[FieldError]]:
    """The step's values from the composite's validated ``values``; returns the caller's errors (a value the
    step refuses, at the composite parameter's path) and raises StepMismatch when the composition itself no
    longer fits the version the step resolved to."""
    step = resolved.step
    mismatch = wiring_errors(resolved, own_schema)
    if mismatch:
        raise StepMismatch(f"step '{step.name}' resolves to {resolved.workflow_id} {resolved.version} now, which "
                           f"the composite no longer fits: {mismatch[0].path.removeprefix(step.path + '.')} "
                           f"{mismatch[0].message}")
    wired = {name: ref for name, ref in step.references.items() if ref in values}
    given = {**step.literals, **{name: values[ref] for name, ref in wired.items()}}
    problems, with_defaults = validate_parameters(resolved.parameters, given)
    by_step_parameter = {f"$.parameters.{name}": ref for name, ref in step.references.items()}
    errors = []
    for problem in problems:
        reference = by_step_parameter.get(problem.path)
        where = f"$.parameters.{reference}" if reference else "$.parameters"
        errors.append(FieldError(where, f"step '{step.name}' ({resolved.workflow_id} {resolved.version}), parameter "
                                        f"{problem.path.removeprefix('$.parameters.')}: {problem.message}"))
    return PlannedStep(resolved, with_defaults, wired), errors
