"""The shape of the code, held to what docs/architecture.md says.

Read from the source with ``ast`` (nothing is imported): each module imports
only from its own layer or below, no two modules import each other through any
chain, no module outgrows a sitting's reading, SQL stays in the data layer, and
the document names every stage of the road in the order the pipeline runs them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mailintake"
# Bottom to top: a module may import from its own layer and the layers before it.
LAYERS = ("base", "permits", "desk", "intake", "ops", "cli")
MAX_LINES = 420
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.S)


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``path`` imports (at any depth of the file)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mailintake"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("mailintake"))
    return {m for m in found if m in modules}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_module_imports_only_its_own_layer_or_below() -> None:
    modules = _modules()
    upward = []
    for name, path in modules.items():
        mine = _layer(name)
        if mine is None:
            continue
        for target in _imports(path, modules):
            theirs = _layer(target)
            if theirs is not None and theirs > mine:
                upward.append(f"{name} -> {target}")
    assert upward == [], "imports that run back up a layer:\n" + "\n".join(upward)


def test_no_import_circles() -> None:
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    # A package's __init__ re-exporting its children is not a circle of design.
    graph = {n: {t for t in ts if not n.startswith(t + ".")} for n, ts in graph.items()}
    circles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(" -> ".join(stack[stack.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert circles == []


def test_no_module_outgrows_a_sitting() -> None:
    long = {name: n for name, path in _modules().items() if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_sql_lives_in_the_data_layer() -> None:
    outside = [
        name
        for name, path in _modules().items()
        if not name.startswith("mailintake.base.data") and SQL.search(path.read_text(encoding="utf-8"))
    ]
    assert outside == []


def test_the_architecture_document_names_the_road_in_order_and_every_package() -> None:
    from mailintake.intake.pipeline import STAGES

    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    names = [stage[0] if isinstance(stage, tuple) else stage.name for stage in STAGES]
    assert names[0] == "limits" and names[-1] == "respond"
    road = doc[doc.index("```") :]
    positions = [road.find(n) for n in names]
    assert -1 not in positions and positions == sorted(positions), (names, positions)
    for package in LAYERS:
        assert f"`{package}/`" in doc, package
