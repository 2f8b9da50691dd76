"""The package's modules import downward only (``socialsim.LAYERS``) and never in a circle.

Every ``import`` statement counts, including those inside functions (they run too, only later)."""

from __future__ import annotations

import ast
from pathlib import Path

import socialsim

SOURCE = Path(socialsim.__file__).resolve().parent


def _module_name(path: Path, root: Path) -> str:
    """'phases.read' for root/phases/read.py, 'phases' for root/phases/__init__.py, '' for the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """{module: modules of the package it imports}, module names relative to the package ('' is the package)."""
    files = {_module_name(p, root): p for p in sorted(root.rglob("*.py"))}

    def resolve(dotted: str) -> str:
        while dotted not in files:  # an attribute of a module, e.g. socialsim.io.read_table
            dotted = dotted.rpartition(".")[0]
        return dotted

    def join(*parts: str) -> str:
        return ".".join(p for p in parts if p)

    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        here = name if is_package else name.rpartition(".")[0]  # the package a relative import starts from
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == package or alias.name.startswith(package + "."):
                        targets.add(resolve(alias.name.removeprefix(package).lstrip(".")))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here
                    for _ in range(node.level - 1):
                        base = base.rpartition(".")[0]
                    base = join(base, node.module or "")
                elif node.module == package or (node.module or "").startswith(package + "."):
                    base = node.module.removeprefix(package).lstrip(".")
                else:
                    continue
                for alias in node.names:
                    full = join(base, alias.name)
                    targets.add(full if full in files else resolve(base))
        targets.discard(name)
        graph[name] = targets
    return graph


def layer_of(module: str, layers) -> int:
    """Index of the layer holding ``module`` (a subpackage's modules sit in the subpackage's layer)."""
    top = module.split(".")[0]
    for i, members in enumerate(layers):
        if top in members:
            return i
    raise AssertionError(f"module {module!r} is in no layer: add it to socialsim.LAYERS")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def violations(graph: dict[str, set[str]], layers) -> list[str]:
    """Every upward import and every import circle, one line each."""
    found = [f"upward import: {a or '(package)'} (layer {layer_of(a, layers)}) imports {b or '(package)'} "
             f"(layer {layer_of(b, layers)})"
             for a in sorted(graph) for b in sorted(graph[a]) if layer_of(b, layers) > layer_of(a, layers)]
    found += [f"import circle: {' -> '.join(c)}" for c in sorted(cycles(graph))]
    return found


def test_socialsim_imports_downward_only_and_without_circles():
    graph = import_graph(SOURCE, "socialsim")
    assert {"io", "recovery", "config", "analysis", "phases.read"} <= set(graph)  # the walk found the package
    assert "runfolder" in graph["recovery"] and "recovery" in graph["io"]
    assert violations(graph, socialsim.LAYERS) == []


def test_every_module_is_in_exactly_one_layer():
    names = [m for layer in socialsim.LAYERS for m in layer]
    assert len(names) == len(set(names))
    for module in import_graph(SOURCE, "socialsim"):
        layer_of(module, socialsim.LAYERS)


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_check_flags_an_upward_import_and_a_circle(tmp_path):
    pkg = _package(tmp_path / "pkg", {
        "__init__.py": "",
        "low.py": "def f():\n    from .high import g  # upward, inside a function\n",
        "high.py": "from pkg import low\nfrom . import mid\n",
        "mid.py": "import pkg.other\n",
        "other.py": "from .mid import x  # mid <-> other: a circle within one layer\n",
        "sub/__init__.py": "from . import leaf\n",
        "sub/leaf.py": "from ..low import f\nimport os\n",
    })
    graph = import_graph(pkg, "pkg")
    assert graph == {"": set(), "low": {"high"}, "high": {"low", "mid"}, "mid": {"other"}, "other": {"mid"},
                     "sub": {"sub.leaf"}, "sub.leaf": {"low"}}
    layers = (("low", ""), ("sub",), ("mid", "other", "high"))
    assert violations(graph, layers) == [
        "upward import: low (layer 0) imports high (layer 2)",
        "import circle: high -> low",
        "import circle: mid -> other",
    ]
    assert violations({"a": {"b"}, "b": set()}, (("a", "b"),)) == []  # within a layer, no circle: fine
