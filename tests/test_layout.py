"""The package layout docs/architecture.md draws: imports go one way, and no module imports
itself back through others.

Layers, lowest first: common < ingest < index < llm < qa < wpqa. A module may import its own
package and lower layers, never a higher one. Every import counts, the ones inside functions
too (they run later, but they are still dependencies); `if TYPE_CHECKING:` blocks do not.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["common", "ingest", "index", "llm", "qa", "wpqa"]


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in LAYERS:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Import nodes of a module, skipping `if TYPE_CHECKING:` bodies."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def import_graph() -> dict[str, set[str]]:
    """module -> the repository modules it imports (names as in `import`)."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        here = name if is_pkg else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                if node.level:
                    base = here.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod
                targets = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in mods else prefix for a in node.names]
            for t in targets:
                while t and t not in mods:  # `import a.b.c` of a module: the deepest repository module
                    t = t.rpartition(".")[0]
                if t and t != name:
                    edges.add(t)
        graph[name] = edges
    return graph


def _layer(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_the_repository():
    g = import_graph()
    assert {"llm.factory", "qa.retrieve", "wpqa.cli", "wpqa.api", "index.embeddings"} <= set(g)
    assert "llm.bundled" in g["llm.factory"] and "qa.retrieve" in g["wpqa.api"]  # relative and lazy imports


def test_lower_layers_never_import_higher_ones():
    g = import_graph()
    upward = sorted(f"{a} -> {b}" for a, targets in g.items() for b in targets if _layer(b) > _layer(a))
    assert not upward, "imports against the layering common < ingest < index < llm < qa < wpqa:\n" + "\n".join(upward)


def test_no_import_cycle_between_modules():
    cycles = _cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def _doc_sections() -> dict[str, str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    parts = text.split("\n## ")[1:]
    return {p.split("\n", 1)[0].strip(): p for p in parts}


def test_architecture_doc_names_every_module_and_only_real_ones():
    """docs/architecture.md has one section per package naming each of its modules."""
    import re

    sections = _doc_sections()
    assert set(LAYERS) <= set(sections)
    problems = []
    for pkg in LAYERS:
        named = set(re.findall(r"`([a-z_]+\.py)`", sections[pkg]))
        real = {p.name for p in (ROOT / pkg).glob("*.py") if p.name != "__init__.py"}
        problems += [f"{pkg}/{m}: in the code, not in docs/architecture.md" for m in sorted(real - named)]
        problems += [f"{pkg}/{m}: in docs/architecture.md, not in the code" for m in sorted(named - real)]
    assert not problems, "\n".join(problems)
