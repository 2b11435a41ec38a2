"""Structural check of Tekton ``tekton.dev/v1`` PipelineRun manifests, and Tekton's param substitution.

No Tekton controller or Kubernetes API server can run here, so this encodes
the parts of Tekton's v1 API that a PipelineRun with an inline pipelineSpec/taskSpec uses: the JSON
field names of PipelineRunSpec, PipelineSpec, PipelineTask, EmbeddedTask/TaskSpec (with its
PipelineTaskMetadata), Step, Param, ParamSpec and WhenExpression (tektoncd/pipeline
pkg/apis/pipeline/v1/*_types.go), Tekton's name rules, Kubernetes' label rules, the scoping of
``$(params.X)`` (inside a pipeline task's ``params`` it names a pipeline param, inside a ``taskSpec``
a task param), and the pipeline graph: task names unique across ``tasks`` and ``finally``,
``runAfter`` naming other tasks without a cycle, no ``runAfter`` in ``finally``, and
``$(tasks.status)`` (Succeeded, Failed, Completed, None) only in the ``when`` of finally tasks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

RUN_FIELDS = {"apiVersion", "kind", "metadata", "spec"}
METADATA_FIELDS = {"name", "generateName", "namespace", "labels", "annotations"}
RUN_SPEC_FIELDS = {"pipelineRef", "pipelineSpec", "params", "status", "timeouts", "taskRunTemplate", "workspaces",
                   "taskRunSpecs", "managedBy"}
PIPELINE_SPEC_FIELDS = {"displayName", "description", "tasks", "params", "workspaces", "results", "finally"}
PIPELINE_TASK_FIELDS = {"name", "displayName", "description", "taskRef", "taskSpec", "when", "onError", "retries",
                        "runAfter", "params", "matrix", "workspaces", "timeout", "pipelineRef", "pipelineSpec"}
TASK_SPEC_FIELDS = {"spec", "metadata", "params", "displayName", "description", "steps", "volumes", "stepTemplate",
                    "sidecars", "workspaces", "results"}
STEP_FIELDS = {"name", "displayName", "image", "command", "args", "workingDir", "env", "envFrom", "computeResources",
               "volumeMounts", "volumeDevices", "imagePullPolicy", "securityContext", "script", "timeout",
               "workspaces", "onError", "stdoutConfig", "stderrConfig", "params", "results", "when", "ref"}
PARAM_SPEC_FIELDS = {"name", "type", "description", "properties", "default", "enum"}
EMBEDDED_METADATA_FIELDS = {"labels", "annotations"}  # PipelineTaskMetadata
WHEN_FIELDS = {"input", "operator", "values", "cel"}  # WhenExpression
WHEN_OPERATORS = {"in", "notin"}
# $(tasks.status), only in finally tasks: the aggregate state of the pipeline's tasks.
TASKS_STATUS = "$(tasks.status)"
TASKS_STATUS_VALUES = {"Succeeded", "Failed", "Completed", "None"}

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
PARAM_NAME = re.compile(r"^[A-Za-z_][-A-Za-z0-9_.]*$")  # Tekton's ValidateParameterNameFormat
PARAM_REF = re.compile(r"\$\(params\.([^)\s]*)\)")
DIGEST_PINNED = re.compile(r"@sha256:[a-f0-9]{64}$")
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")  # a key of a Secret's data


def problems(run: Any) -> list[str]:
    """Every way ``run`` departs from a valid tekton.dev/v1 PipelineRun with inline specs (empty if none)."""
    found: list[str] = []
    if not isinstance(run, Mapping):
        return ["the manifest is not an object"]
    found += _fields("", run, RUN_FIELDS)
    if run.get("apiVersion") != "tekton.dev/v1":
        found.append(f"apiVersion is {run.get('apiVersion')!r}")
    if run.get("kind") != "PipelineRun":
        found.append(f"kind is {run.get('kind')!r}")
    found += _metadata(run.get("metadata", {}))
    spec = run.get("spec")
    if not isinstance(spec, Mapping):
        return [*found, "spec is missing"]
    found += _fields("spec", spec, RUN_SPEC_FIELDS)
    if ("pipelineRef" in spec) == ("pipelineSpec" in spec):
        found.append("spec needs exactly one of pipelineRef and pipelineSpec")
    run_params = _values("spec.params", spec.get("params", []), found)
    pipeline = spec.get("pipelineSpec") or {}
    found += _fields("spec.pipelineSpec", pipeline, PIPELINE_SPEC_FIELDS)
    declared = _param_specs("spec.pipelineSpec.params", pipeline.get("params", []), found)
    for name in sorted(set(run_params) - set(declared)):
        found.append(f"spec.params.{name} is not declared by the pipeline")
    for name in sorted(set(declared) - set(run_params)):
        if "default" not in declared[name]:
            found.append(f"pipeline param {name} has no value and no default")
    tasks = pipeline.get("tasks") or []
    final = pipeline.get("finally") or []
    if not tasks:
        found.append("spec.pipelineSpec.tasks is empty")
    for index, task in enumerate(tasks):
        found += _task(f"spec.pipelineSpec.tasks[{index}]", task, declared)
    for index, task in enumerate(final):
        found += _task(f"spec.pipelineSpec.finally[{index}]", task, declared, final=True)
    found += _graph(tasks, final)
    return found


def _graph(tasks: list[Mapping[str, Any]], final: list[Mapping[str, Any]]) -> list[str]:
    """Task names unique across tasks and finally; runAfter names tasks (not finally tasks, not itself) without
    a cycle; finally tasks take no runAfter (they run after every task)."""
    found: list[str] = []
    names = [str(t.get("name")) for t in [*tasks, *final]]
    for name in sorted({n for n in names if names.count(n) > 1}):
        found.append(f"task name {name!r} is used twice (tasks and finally share one namespace)")
    task_names = {str(t.get("name")) for t in tasks}
    after: dict[str, list[str]] = {}
    for task in tasks:
        name = str(task.get("name"))
        run_after = task.get("runAfter", [])
        if not isinstance(run_after, list) or not all(isinstance(n, str) for n in run_after):
            found.append(f"task {name}: runAfter must be a list of task names")
            continue
        for other in run_after:
            if other == name or other not in task_names:
                found.append(f"task {name}: runAfter names {other!r}, which is not another task of the pipeline")
        after[name] = [o for o in run_after if o in task_names and o != name]
    for task in final:
        if "runAfter" in task:
            found.append(f"finally task {task.get('name')}: runAfter is not allowed in finally")
    if _has_cycle(after):
        found.append("runAfter makes a cycle")
    return found


def _has_cycle(after: Mapping[str, list[str]]) -> bool:
    remaining = {name: set(deps) for name, deps in after.items()}
    while remaining:
        ready = [name for name, deps in remaining.items() if not deps & set(remaining)]
        if not ready:
            return True
        for name in ready:
            del remaining[name]
    return False


def _when(where: str, expressions: Any, final: bool) -> list[str]:
    if not isinstance(expressions, list) or not expressions:
        return [f"{where}.when must be a non-empty list of WhenExpressions"]
    found: list[str] = []
    for index, expression in enumerate(expressions):
        at = f"{where}.when[{index}]"
        found += _fields(at, expression, WHEN_FIELDS)
        if not isinstance(expression, Mapping):
            continue
        if expression.get("operator") not in WHEN_OPERATORS:
            found.append(f"{at}.operator must be in or notin")
        values = expression.get("values")
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            found.append(f"{at}.values must be a non-empty list of strings")
        if expression.get("input") == TASKS_STATUS:
            if not final:
                found.append(f"{at}: $(tasks.status) is only available in finally tasks")
            for value in values if isinstance(values, list) else []:
                if value not in TASKS_STATUS_VALUES:
                    found.append(f"{at}: $(tasks.status) is never {value!r}")
        elif not isinstance(expression.get("input"), str):
            found.append(f"{at}.input must be a string")
    return found


def _task(where: str, task: Mapping[str, Any], pipeline_params: Mapping[str, Any], final: bool = False) -> list[str]:
    found = _fields(where, task, PIPELINE_TASK_FIELDS)
    if not DNS_LABEL.match(str(task.get("name", ""))):
        found.append(f"{where}.name is not a DNS-1123 label")
    if "when" in task:
        found += _when(where, task["when"], final)
    given = _values(f"{where}.params", task.get("params", []), found)
    for name, value in given.items():
        found += _unresolved(f"{where}.params.{name}", value, pipeline_params)
    task_spec = task.get("taskSpec")
    if not isinstance(task_spec, Mapping):
        return [*found, f"{where}.taskSpec is missing"]
    found += _fields(f"{where}.taskSpec", task_spec, TASK_SPEC_FIELDS)
    if "metadata" in task_spec:
        found += _fields(f"{where}.taskSpec.metadata", task_spec["metadata"], EMBEDDED_METADATA_FIELDS)
        found += _labels(f"{where}.taskSpec.metadata", task_spec["metadata"])
    task_params = _param_specs(f"{where}.taskSpec.params", task_spec.get("params", []), found)
    for name in sorted(set(given) - set(task_params)):
        found.append(f"{where}.params.{name} is not a param of the task")
    for name in sorted(set(task_params) - set(given)):
        if "default" not in task_params[name]:
            found.append(f"task param {name} has no value and no default")
    steps = task_spec.get("steps") or []
    if not steps:
        found.append(f"{where}.taskSpec.steps is empty")
    for index, step in enumerate(steps):
        step_where = f"{where}.taskSpec.steps[{index}]"
        found += _fields(step_where, step, STEP_FIELDS)
        if not DNS_LABEL.match(str(step.get("name", ""))):
            found.append(f"{step_where}.name is not a DNS-1123 label")
        if not isinstance(step.get("image"), str):
            found.append(f"{step_where}.image is missing")
        for env in step.get("env", []):
            if set(env) - {"name", "value", "valueFrom"} or not isinstance(env.get("name"), str) or \
                    ("value" in env) == ("valueFrom" in env):
                found.append(f"{step_where}.env entry {env!r} is not an EnvVar")
            elif "valueFrom" in env:
                found += _secret_ref(f"{step_where}.env.{env['name']}", env["valueFrom"])
        for text in _strings(step):
            found += _unresolved(step_where, text, task_params)
    return found


def _secret_ref(where: str, source: Any) -> list[str]:
    """An EnvVarSource reading one key of a Secret (the only kind the catalog writes)."""
    ref = source.get("secretKeyRef") if isinstance(source, Mapping) else None
    if not isinstance(ref, Mapping) or set(source) != {"secretKeyRef"} or set(ref) - {"name", "key", "optional"}:
        return [f"{where}: valueFrom must be a secretKeyRef"]
    if not isinstance(ref.get("name"), str) or not DNS_SUBDOMAIN.match(ref["name"]):
        return [f"{where}: secretKeyRef.name is not a Secret name"]
    if not isinstance(ref.get("key"), str) or not SECRET_KEY.match(ref["key"]):
        return [f"{where}: secretKeyRef.key is not a valid Secret key"]
    return []


def _metadata(meta: Any) -> list[str]:
    if not isinstance(meta, Mapping):
        return ["metadata is not an object"]
    found = _fields("metadata", meta, METADATA_FIELDS)
    name = meta.get("name")
    if not isinstance(name, str) or not DNS_LABEL.match(name):
        found.append(f"metadata.name {name!r} is not a DNS-1123 label (TaskRun labels carry it)")
    return found + _labels("metadata", meta)


def _labels(where: str, meta: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for key, value in (meta.get("labels") or {}).items():
        prefix, _, label = key.rpartition("/")
        if (prefix and not DNS_SUBDOMAIN.match(prefix)) or not LABEL_NAME.match(label):
            found.append(f"{where}: label key {key!r} is invalid")
        if not isinstance(value, str) or not LABEL_VALUE.match(value):
            found.append(f"{where}: label {key} has an invalid value {value!r}")
    for key, value in (meta.get("annotations") or {}).items():
        if not isinstance(value, str):
            found.append(f"{where}: annotation {key} is not a string")
    return found


def _fields(where: str, node: Any, allowed: set[str]) -> list[str]:
    if not isinstance(node, Mapping):
        return [f"{where or 'the manifest'} is not an object"]
    return [f"{where}.{key} is not a tekton.dev/v1 field" for key in sorted(set(node) - allowed)]


def _values(where: str, params: Any, found: list[str]) -> dict[str, str]:
    """Param list ``[{name, value}]`` -> {name: value}; string params only."""
    result: dict[str, str] = {}
    for param in params:
        name = param.get("name")
        if set(param) != {"name", "value"}:
            found.append(f"{where}: {name} must have exactly name and value")
        if not isinstance(name, str) or not PARAM_NAME.match(name):
            found.append(f"{where}: invalid param name {name!r}")
            continue
        if name in result:
            found.append(f"{where}: {name} is given twice")
        if not isinstance(param.get("value"), str):
            found.append(f"{where}.{name} value is not a string")
        result[name] = param.get("value")
    return result


def _param_specs(where: str, specs: Any, found: list[str]) -> dict[str, Mapping[str, Any]]:
    result: dict[str, Mapping[str, Any]] = {}
    for spec in specs:
        found += _fields(where, spec, PARAM_SPEC_FIELDS)
        name = spec.get("name")
        if not isinstance(name, str) or not PARAM_NAME.match(name):
            found.append(f"{where}: invalid param name {name!r}")
            continue
        if name in result:
            found.append(f"{where}: {name} is declared twice")
        if spec.get("type", "string") != "string":
            found.append(f"{where}.{name} is not a string param")
        result[name] = spec
    return result


def _unresolved(where: str, text: Any, scope: Mapping[str, Any]) -> list[str]:
    if not isinstance(text, str):
        return []
    return [f"{where}: $(params.{ref}) is not declared in scope" for ref in PARAM_REF.findall(text) if ref not in scope]


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def step_environment(run: Mapping[str, Any], secret: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The environment the (single) step sees after Tekton's substitutions: run params -> pipeline task
    params -> task params -> step env (one substitution pass per level, as Tekton does); a variable read from a
    Secret gets its value from ``secret`` (a Secret manifest with stringData, as a claim hands it out), else
    ``secretKeyRef:<secret name>/<key>``."""
    (task,) = run["spec"]["pipelineSpec"]["tasks"]
    return task_environment(run, task["name"], secret)


def task_environment(run: Mapping[str, Any], name: str, secret: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The environment of the (single) step of the pipeline task (or finally task) ``name``."""
    pipeline = run["spec"]["pipelineSpec"]
    (task,) = [t for t in [*pipeline["tasks"], *pipeline.get("finally", [])] if t["name"] == name]
    pipeline_values = {p["name"]: p["value"] for p in run["spec"].get("params", [])}
    task_values = {p["name"]: _substitute(p["value"], pipeline_values) for p in task.get("params", [])}
    (step,) = task["taskSpec"]["steps"]
    return {env["name"]: _from_secret(env["valueFrom"]["secretKeyRef"], secret) if "valueFrom" in env
            else _substitute(env["value"], task_values) for env in step.get("env", [])}


def _from_secret(ref: Mapping[str, str], secret: Mapping[str, Any] | None) -> str:
    if secret is not None and secret["metadata"]["name"] == ref["name"]:
        return str(secret["stringData"][ref["key"]])
    return f"secretKeyRef:{ref['name']}/{ref['key']}"


def _substitute(text: str, values: Mapping[str, str]) -> str:
    return PARAM_REF.sub(lambda m: values[m.group(1)], text)


def is_digest_pinned(image: str) -> bool:
    return bool(DIGEST_PINNED.search(image))
