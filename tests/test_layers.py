"""The import graph of the package: one way only, no cycles, no shortcuts across layers.

Read from the source with ``ast`` (every import counts, those inside functions
too), so a change that makes a layer reach back up fails here, not in review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import fasthpo

PACKAGE = Path(fasthpo.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Modules of the package that ``path`` imports (``from a import b`` counts a.b when it is one)."""
    name = _module_name(path)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {m for m in found if m == "fasthpo" or m.startswith("fasthpo.")}


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        graph[name] = {m for m in _imports(path) if m in modules and m != name}
    return graph


GRAPH = _graph()


def _reaches(source: str, target_prefix: str) -> list[str]:
    """Modules under ``source`` (a module or package prefix) importing anything under ``target_prefix``."""
    return sorted(
        f"{m} -> {t}"
        for m, targets in GRAPH.items()
        if m == source or m.startswith(source + ".")
        for t in targets
        if t == target_prefix or t.startswith(target_prefix + ".")
    )


def test_the_graph_was_read():
    assert "fasthpo.runner.loop" in GRAPH and "fasthpo.gp.model" in GRAPH
    assert "fasthpo.gp.kernels" in GRAPH["fasthpo.gp.model"]


def test_no_import_cycle():
    """No module reaches itself through its imports. Edges into a package's ``__init__``
    are left out: ``from fasthpo.gp import model`` is counted as an import of
    ``fasthpo.gp.model`` itself, and an ``__init__`` only re-exports."""
    packages = {_module_name(p) for p in PACKAGE.rglob("__init__.py")}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(GRAPH[m] - packages):
            if state.get(t) == 1:
                pytest.fail("import cycle: " + " -> ".join([*stack[stack.index(t) :], t]))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


@pytest.mark.parametrize(
    ("source", "forbidden"),
    [
        ("fasthpo.config", "fasthpo.runner"),
        ("fasthpo.config", "fasthpo.storage"),
        ("fasthpo.gp", "fasthpo.strategies"),
        ("fasthpo.gp", "fasthpo.runner"),
        ("fasthpo.gp", "fasthpo.storage"),
        ("fasthpo.gp", "fasthpo.space"),
        ("fasthpo.strategies", "fasthpo.runner"),
        ("fasthpo.strategies", "fasthpo.storage"),
        ("fasthpo.strategies", "fasthpo.config"),
        ("fasthpo.storage", "fasthpo.runner"),
        ("fasthpo.storage", "fasthpo.strategies"),
        ("fasthpo.runner.backend", "fasthpo.storage"),
        ("fasthpo.runner.local", "fasthpo.storage"),
        ("fasthpo.runner.logs", "fasthpo.storage"),
        ("fasthpo.runner.function", "fasthpo.storage"),
        ("fasthpo.runner", "fasthpo.config"),
        ("fasthpo.runner", "fasthpo.cli"),
        ("fasthpo.objective", "fasthpo.storage"),
        ("fasthpo.space", "fasthpo.strategies"),
        ("fasthpo.benchmark", "fasthpo.runner"),
        ("fasthpo.benchmark", "fasthpo.storage"),
        ("fasthpo.visualization", "fasthpo.runner"),
        ("fasthpo.visualization", "fasthpo.cli"),
        ("fasthpo.visualization", "fasthpo.dashboard"),
        ("fasthpo.dashboard", "fasthpo.runner"),
        ("fasthpo.dashboard", "fasthpo.cli"),
        ("fasthpo.sagemaker", "fasthpo.config"),
        ("fasthpo.sagemaker", "fasthpo.runner"),
        ("fasthpo.sagemaker", "fasthpo.storage"),
        ("fasthpo.integrations", "fasthpo.runner"),
        ("fasthpo.integrations", "fasthpo.storage"),
        ("fasthpo.integrations", "fasthpo.config"),
    ],
)
def test_a_layer_never_imports_what_sits_above_it(source, forbidden):
    assert _reaches(source, forbidden) == []


def test_what_training_scripts_import_stays_in_the_standard_library():
    """``fasthpo.report`` is imported by every training job: it must not pull in the package's maths."""
    reachable, todo = set(), ["fasthpo.reporting"]
    while todo:
        m = todo.pop()
        if m not in reachable:
            reachable.add(m)
            todo.extend(GRAPH.get(m, ()))
    assert not {m for m in reachable if m.startswith(("fasthpo.gp", "fasthpo.strategies", "fasthpo.runner"))}


def test_the_script_mode_launcher_stays_in_the_standard_library():
    """It starts before every trial of a job translated from a tuning-job request."""
    assert GRAPH["fasthpo.sagemaker.script_mode"] <= {"fasthpo.trial_env"}
