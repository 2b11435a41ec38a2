"""The layers of chalicelib, checked from the imports (function-level imports included).

routes -> http -> services -> stores / adapters, with a pure domain under all of them:
- the domain imports only the domain and pure libraries, and reads no files;
- stores talk SQL and nothing above them; adapters talk to the outside world and nothing above them;
- services never run SQL themselves (no psycopg2, no execute/fetch calls): they hand a unit of work
  to store functions;
- http (the edge) never imports routes, and routes never reach stores or adapters;
- no import cycle anywhere in chalicelib;
- chalicelib (what Lambda gets) imports nothing outside it: not the development server (devserver/), the tools
  (devtools/, bench/) or the tests.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator

import pytest

from tests.support.paths import ROOT

PACKAGE = ROOT / "chalicelib"

# Which top-level parts of chalicelib each layer may import (its own layer included).
ALLOWED = {
    "domain": {"domain"},
    "stores": {"domain", "stores"},
    "adapters": {"domain", "adapters", "config", "observability", "metrics"},
    "services": {"domain", "services", "stores", "adapters", "observability", "metrics"},
    "http": {"domain", "http", "services", "config", "observability"},
    "routes": {"domain", "http", "services", "container", "observability"},
}
# Named exceptions, each with its reason.
EXCEPTIONS = {
    # The authorizer is a Lambda entry point of its own: it asks the composition root for the key service.
    ("chalicelib.http.auth", "container"),
}
PURE_LIBRARIES = {"jsonschema", "semver", "yaml", "cryptography", "regress"}
NO_FILES = {"open", "read_text", "read_bytes", "write_text", "write_bytes", "Path"}


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        yield name, ast.parse(path.read_text())


def imported(tree: ast.Module) -> set[str]:
    """Every module an import statement names, wherever it stands (function bodies included)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


MODULES = dict(modules())


def part(module: str) -> str:
    return module.split(".")[1] if module.count(".") else module


def internal(tree: ast.Module) -> set[str]:
    """The chalicelib modules imported (the package itself, ``from chalicelib import x``, is not one)."""
    return {name for name in imported(tree) if name in MODULES and name != "chalicelib"}


@pytest.mark.parametrize("name", [n for n in MODULES if part(n) in ALLOWED])
def test_each_layer_imports_only_what_it_may(name: str) -> None:
    layer = part(name)
    reached = {part(module) for module in internal(MODULES[name])}
    forbidden = {target for target in reached - ALLOWED[layer] if (name, target) not in EXCEPTIONS}
    assert not forbidden, f"{name} ({layer}) imports {sorted(forbidden)}"


@pytest.mark.parametrize("name", [n for n in MODULES if part(n) == "domain"])
def test_the_domain_is_pure_and_reads_no_files(name: str) -> None:
    tree = MODULES[name]
    outside = {
        module.split(".")[0] for module in imported(tree)
        if not module.startswith("chalicelib") and module.split(".")[0] not in sys.stdlib_module_names
    }
    assert outside <= PURE_LIBRARIES, f"{name} imports {sorted(outside - PURE_LIBRARIES)}"
    assert not {"os", "io", "pathlib", "socket", "subprocess"} & {m.split(".")[0] for m in imported(tree)}
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    used |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert not used & NO_FILES, f"{name} touches files: {sorted(used & NO_FILES)}"


@pytest.mark.parametrize("name", [n for n in MODULES if part(n) == "services"])
def test_services_run_no_sql(name: str) -> None:
    tree = MODULES[name]
    assert not any(module.split(".")[0] == "psycopg2" for module in imported(tree))
    calls = {node.func.attr for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    assert not calls & {"execute", "fetchone", "fetchall", "one", "copy_from_csv", "cursor"}, name


@pytest.mark.parametrize("name", list(MODULES))
def test_the_package_lambda_gets_imports_no_development_code(name: str) -> None:
    outside = {module for module in imported(MODULES[name])
               if module.split(".")[0] in {"devserver", "devtools", "bench", "tests", "watcher"}}
    assert not outside, f"{name} imports {sorted(outside)}"


def test_no_import_cycles() -> None:
    graph = {name: internal(tree) - {name} for name, tree in MODULES.items()}
    # A module imports its package's __init__ implicitly; that is not a cycle of ours.
    graph = {name: {t for t in targets if not name.startswith(t + ".")} for name, targets in graph.items()}
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == [], "\n".join(" -> ".join(cycle) for cycle in cycles)
