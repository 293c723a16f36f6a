"""The shape of the package: no import circles, and typer only in the commands.

The import graph is read from the source with `ast`, not by importing it, so
an import inside a function (the lazy imports that keep start-up fast) counts
as much as one at the top of a module: a circle through a lazy import still
ties two modules together, and it only waits for the right call to fail with a
half-initialised module. Imports under `if TYPE_CHECKING:` are left out; they
never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "mtb"


def _module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(src: Path = SRC, package: str = PACKAGE) -> dict[str, Path]:
    return {_module_name(path, src): path for path in sorted((src / package).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: at module level or in a function,
    but not in the body of an `if TYPE_CHECKING:` (its `else:` does run)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _runtime_imports_of(child)
            continue
        yield from _runtime_imports_of(node)


def _runtime_imports_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _runtime_imports(node)


def _base_of(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a `from X import ...` names, relative ones resolved."""
    if node.level == 0:
        return node.module or ""
    # A package's __init__ is its own anchor; a plain module's is its parent.
    anchor = module.split(".") if is_package else module.split(".")[:-1]
    anchor = anchor[: len(anchor) - (node.level - 1)]
    return ".".join([*anchor, node.module] if node.module else anchor)


def import_graph(src: Path = SRC, package: str = PACKAGE) -> dict[str, set[str]]:
    """Module of `package` → the modules of `package` it imports. `from pkg import name`
    is an edge to `pkg.name` where that is a module, otherwise to `pkg`.

    A computed import (`importlib.import_module(name)`, as the protocol registry
    does) is not an edge: its target is not in the source.
    """
    modules = _modules(src, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in _runtime_imports(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _base_of(node, name, is_package)
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    targets.append(submodule if submodule in modules else base)
            for target in targets:
                # `import mtb.a.b` names mtb.a.b; keep the longest known prefix.
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components, iteratively (the graph is small, but recursion
    depth should not depend on how long an import chain is)."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = lowlink[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = lowlink[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    advanced = True
                    break
                if successor in on_stack:
                    lowlink[node] = min(lowlink[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                lowlink[parent] = min(lowlink[parent], lowlink[node])
            if lowlink[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def _a_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One concrete circle through a component's first module, for the message."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for successor in sorted(graph[node] & members):
                if successor == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if successor not in previous:
                    previous[successor] = node
                    following.append(successor)
        frontier = following
    return component


def test_the_graph_counts_lazy_and_relative_imports_but_not_type_checking_ones(tmp_path: Path) -> None:
    """The graph builder itself, on a small package whose every edge is known."""
    files = {
        "pkg/__init__.py": "from pkg import leaf\n",  # a submodule: an edge to pkg.leaf
        "pkg/leaf.py": "X = 1\n",
        "pkg/a.py": (
            "from typing import TYPE_CHECKING\n"
            "from .leaf import X\n"  # relative: pkg.leaf
            "if TYPE_CHECKING:\n"
            "    from pkg import b\n"  # never runs: no edge
            "else:\n"
            "    import pkg.sub.c\n"  # runs: pkg.sub.c
            "def f():\n"
            "    from pkg.b import g\n"  # lazy: pkg.b
        ),
        "pkg/b.py": "def g():\n    from . import X\n",  # a name of the package: pkg
        "pkg/sub/__init__.py": "from .. import leaf\n",  # relative from a package's __init__
        "pkg/sub/c.py": "from . import d\nfrom .d import e\n",  # pkg.sub.d, twice
        "pkg/sub/d.py": "import json\nimport pkg.sub\n",  # outside the package: no edge
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    graph = import_graph(tmp_path, "pkg")
    assert graph == {
        "pkg": {"pkg.leaf"},
        "pkg.leaf": set(),
        "pkg.a": {"pkg.leaf", "pkg.sub.c", "pkg.b"},
        "pkg.b": {"pkg"},
        "pkg.sub": {"pkg.leaf"},
        "pkg.sub.c": {"pkg.sub.d"},
        "pkg.sub.d": {"pkg.sub"},
    }
    circles = [c for c in strongly_connected(graph) if len(c) > 1]
    # pkg.sub.c → pkg.sub.d → pkg.sub, which does not lead back: no circle yet.
    assert circles == []
    graph["pkg.sub"].add("pkg.sub.c")
    assert [c for c in strongly_connected(graph) if len(c) > 1] == [["pkg.sub", "pkg.sub.c", "pkg.sub.d"]]
    assert _a_cycle(graph, ["pkg.sub", "pkg.sub.c", "pkg.sub.d"]) == [
        "pkg.sub",
        "pkg.sub.c",
        "pkg.sub.d",
        "pkg.sub",
    ]


def test_no_import_circles() -> None:
    graph = import_graph()
    circles = [component for component in strongly_connected(graph) if len(component) > 1]
    message = "\n".join(
        f"{len(component)} modules: "
        + " → ".join(_a_cycle(graph, component))
        + f"\n    all: {', '.join(component)}"
        for component in circles
    )
    assert not circles, f"import circles in src/{PACKAGE}:\n{message}"


def test_only_the_commands_import_typer() -> None:
    """typer is the command layer's; everything below it must be callable
    (and importable) without it."""
    offenders: list[str] = []
    for name, path in _modules().items():
        if name == f"{PACKAGE}.cli" or name.startswith(f"{PACKAGE}.cli."):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported = [node.module or ""]
            else:
                continue
            if any(module == "typer" or module.startswith("typer.") for module in imported):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not offenders, "typer imported outside mtb.cli:\n" + "\n".join(offenders)


def test_the_use_cases_import_neither_typer_nor_rich_and_no_command_calls_another() -> None:
    """mtb.app is the library's: a Python user calls it without the command line's
    dependencies; `mtb eval` reaches the other steps through it, never through their commands."""
    graph = import_graph()
    app_modules = [name for name in graph if name == f"{PACKAGE}.app" or name.startswith(f"{PACKAGE}.app.")]
    assert len(app_modules) >= 6, app_modules
    offenders: list[str] = []
    for name, path in _modules().items():
        if name not in app_modules:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported = [node.module or ""]
            else:
                continue
            if any(m.split(".")[0] in ("typer", "rich") or m.startswith(f"{PACKAGE}.cli") for m in imported):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not offenders, "mtb.app imports typer, rich or a command:\n" + "\n".join(offenders)
    commands = ("generate", "judge", "results", "agreement", "browse", "download")
    assert not [m for m in graph[f"{PACKAGE}.cli.eval"] if m in {f"{PACKAGE}.cli.{c}" for c in commands}]
