"""The layers of the code base, checked by walking every import (the README's "Architecture").

    app          bot.api, bot.cli, bot.commands, bot.wiring, bot.demo,     (HTTP, CLI, wiring of parts,
                 bot.migrations                                            Alembic: it sees every table)
    parts        bot.chat, bot.monitors, runbooks, postmortems             (each imports core + diagnostics)
    core         every other module of bot (store, models, events, ...)    (imports diagnostics at most)
    diagnostics  diagnostics                                               (imports none of the above)

Imports under ``if TYPE_CHECKING:`` are left out (they never run); imports inside functions
count, since they run. Adding a module to `bot/` makes it core unless it belongs to a part
or the app below.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "runbooks", "diagnostics", "postmortems")
APP = ("bot.api", "bot.cli", "bot.commands", "bot.wiring", "bot.demo", "bot.migrations")
BOT_PARTS = ("bot.chat", "bot.monitors")
# Which layer may import which (a layer may always import itself).
ALLOWED: dict[str, set[str]] = {
    "diagnostics": set(),
    "core": {"diagnostics"},
    "chat": {"core", "diagnostics"},
    "monitors": {"core", "diagnostics"},
    "runbooks": {"core", "diagnostics"},
    "postmortems": {"core", "diagnostics"},
    "app": {"core", "diagnostics", "chat", "monitors", "runbooks", "postmortems"},
}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layer(module: str) -> str:
    if any(_within(module, p) for p in APP):
        return "app"
    for p in BOT_PARTS:
        if _within(module, p):
            return p.split(".")[1]
    top = module.split(".")[0]
    return "core" if top == "bot" else top


def _resolve(name: str) -> str | None:
    """The project module an import name refers to (``pkg.mod.attr`` → ``pkg.mod``), else None."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skipped.update(id(n) for n in ast.walk(inner))
    return skipped


def _imported_names(module: str, path: Path) -> Iterator[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    skipped = _type_checking_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, node.lineno
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno


def _graph() -> dict[str, dict[str, int]]:
    """module → {imported project module: first line}."""
    graph: dict[str, dict[str, int]] = {}
    for module, path in MODULES.items():
        targets: dict[str, int] = {}
        for name, line in _imported_names(module, path):
            target = _resolve(name)
            if target is not None and target != module:
                targets.setdefault(target, line)
        graph[module] = targets
    return graph


GRAPH = _graph()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_walk_sees_the_whole_code_base() -> None:
    # a walk that found nothing would make every other test here pass vacuously
    assert {"bot.runtime", "bot.wiring", "diagnostics.loader", "runbooks.executor", "postmortems.worker"} <= set(GRAPH)
    assert "bot.runtime" in GRAPH["bot.wiring"]
    assert "diagnostics.log" in GRAPH["diagnostics.loader"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_between_modules() -> None:
    cycles = _cycles({m: set(t) for m, t in GRAPH.items()})
    assert cycles == [], "modules importing each other (directly or around a loop): " + "; ".join(
        " <-> ".join(c) for c in cycles
    )


def test_no_import_cycle_between_packages_or_layers() -> None:
    # bot holds both the core and the app on top of everything: the app counts as a package of its own
    def package(module: str) -> str:
        return "app" if layer(module) == "app" else module.split(".")[0]

    by_package: dict[str, set[str]] = {}
    by_layer: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        for target in targets:
            if package(module) != package(target):
                by_package.setdefault(package(module), set()).add(package(target))
            if layer(module) != layer(target):
                by_layer.setdefault(layer(module), set()).add(layer(target))
    assert _cycles(by_package) == []
    assert _cycles(by_layer) == []


@pytest.mark.parametrize("importer", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_below(importer: str) -> None:
    wrong = [
        f"{module} ({MODULES[module].relative_to(ROOT)}:{line}) imports {target} ({layer(target)})"
        for module, targets in sorted(GRAPH.items())
        if layer(module) == importer
        for target, line in sorted(targets.items())
        if layer(target) != importer and layer(target) not in ALLOWED[importer]
    ]
    assert wrong == [], f"{importer} may import only {sorted(ALLOWED[importer]) or 'nothing of the project'}:\n" + \
        "\n".join(wrong)


def test_diagnostics_imports_nothing_of_the_app() -> None:
    outside = {
        (module, target)
        for module, targets in GRAPH.items()
        if module.startswith("diagnostics")
        for target in targets
        if not target.startswith("diagnostics")
    }
    assert outside == set()


def test_runbooks_and_postmortems_use_only_bots_core() -> None:
    used = {
        target
        for module, targets in GRAPH.items()
        if module.split(".")[0] in ("runbooks", "postmortems")
        for target in targets
        if target.split(".")[0] == "bot"
    }
    assert used, "runbooks and postmortems are expected to build on bot's core (store, events, settings)"
    assert {t for t in used if layer(t) != "core"} == set()
