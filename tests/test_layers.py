"""House rules on imports: no cycles, no upward imports, no other module's private names.

Every import counts: at module level, inside functions and classes, relative ones, and between
modules of one layer or package. Only ``if TYPE_CHECKING:`` blocks are skipped (annotations,
never run). Third-party imports are not checked here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import NamedTuple

SRC = Path(__file__).resolve().parents[1] / "src" / "cislearn"

# Layer of each module (by dotted prefix, longest match wins). A module may import modules of
# its own or a lower layer, never a higher one; there must be no cycle at all.
LAYERS: dict[str, int] = {
    "errors": 0,
    "types": 0,
    "config": 0,
    "device": 0,
    "io": 1,
    "encode": 1,
    "intervals": 2,
    "negatives": 2,
    "simulate": 2,
    "simsets": 2,
    "data": 3,
    "features": 3,
    "motif_counts": 3,
    "validate": 3,
    "tracks": 3,
    "folds": 3,
    "leakage": 3,
    "models": 4,
    "losses": 4,
    "metrics": 4,
    "fastpath": 5,
    "train": 6,
    "engine": 6,
    "distribute": 6,
    "ddp": 6,
    "pretrain": 6,
    "baseline": 6,
    "predict": 6,
    "stack": 6,
    "evaluate": 6,
    "runload": 7,
    "interpret": 8,
    "variants": 8,
    "variant_windows": 8,
    "variant_stats": 8,
    "scan": 6,
    "report": 9,
    "pipelines": 10,
    "cli": 11,
    "web": 11,
    "__main__": 11,
}


class Import(NamedTuple):
    """One import of a cislearn module: where it is and what it names."""

    source: str  # the importing module
    lineno: int
    target: str  # the imported cislearn module (the deepest one that exists)
    names: tuple[str, ...]  # names taken from it by ``from target import ...``


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    return ".".join(rel.parts).removesuffix(".__init__")


@cache
def all_modules() -> frozenset[str]:
    return frozenset(module_name(p) for p in SRC.rglob("*.py"))


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "cislearn" or len(parts) == 1:
        return None
    for n in range(len(parts), 1, -1):
        key = ".".join(parts[1:n])
        if key in LAYERS:
            return LAYERS[key]
    raise AssertionError(f"module {module} has no layer in tests/test_layers.py: add it")


def _absolute(node: ast.ImportFrom, source: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = source.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(path: Path) -> Iterator[Import]:
    """Every import of a cislearn module in the file, except under ``if TYPE_CHECKING:``."""
    source = module_name(path)
    tree = ast.parse(path.read_text())
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    modules = all_modules()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("cislearn."):
                    yield Import(source, node.lineno, alias.name, ())
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(node, source, path.name == "__init__.py")
            if not target.startswith("cislearn"):
                continue
            plain = []
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in modules:  # ``from package import module``
                    yield Import(source, node.lineno, sub, ())
                else:
                    plain.append(alias.name)
            if plain and target != "cislearn":
                yield Import(source, node.lineno, target, tuple(plain))


def private_attributes(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, module, name) for each ``module._name`` read through an imported cislearn module."""
    source = module_name(path)
    tree = ast.parse(path.read_text())
    bound: dict[str, str] = {}
    modules = all_modules()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("cislearn.") and alias.asname:
                    bound[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(node, source, path.name == "__init__.py")
            for alias in node.names:
                if f"{target}.{alias.name}" in modules:
                    bound[alias.asname or alias.name] = f"{target}.{alias.name}"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in bound
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and bound[node.value.id] != source
        ):
            yield node.lineno, bound[node.value.id], node.attr


@cache
def all_imports() -> tuple[Import, ...]:
    return tuple(imp for path in sorted(SRC.rglob("*.py")) for imp in imports_of(path))


def _file(module: str) -> str:
    path = SRC.parent / module.replace(".", "/")
    return str(
        (path / "__init__.py" if path.is_dir() else path.with_suffix(".py")).relative_to(SRC.parent)
    )


def _where(imp: Import) -> str:
    return f"{_file(imp.source)}:{imp.lineno}"


def test_imports_resolve_to_modules() -> None:
    """Guards the walker itself: it finds imports inside functions and between siblings."""
    found = {(i.source, i.target) for i in all_imports()}
    assert ("cislearn.predict", "cislearn.io.bundle") in found
    assert any(s.startswith("cislearn.cli.") and t == "cislearn.cli.progress" for s, t in found)
    missing = {t for _, t in found} - all_modules()
    assert not missing, f"imports of modules that do not exist: {sorted(missing)}"


def test_dependency_direction() -> None:
    problems = []
    for imp in all_imports():
        own, other = layer_of(imp.source), layer_of(imp.target)
        if own is None:  # the package __init__ re-exports lazily
            continue
        if other is not None and other > own:
            problems.append(f"{_where(imp)} imports {imp.target}")
    assert not problems, "lower layer imports a higher one:\n" + "\n".join(problems)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
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
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    edges: dict[str, set[str]] = {}
    lines: dict[tuple[str, str], Import] = {}
    for imp in all_imports():
        if imp.source == imp.target:
            continue
        edges.setdefault(imp.source, set()).add(imp.target)
        lines.setdefault((imp.source, imp.target), imp)
    problems = []
    for comp in _cycles(edges):
        members = set(comp)
        via = [
            f"  {_where(imp)} imports {imp.target}"
            for (s, t), imp in sorted(lines.items())
            if s in members and t in members
        ]
        problems.append("cycle among " + ", ".join(comp) + ":\n" + "\n".join(via))
    assert not problems, "import cycles:\n" + "\n".join(problems)


def test_no_private_imports() -> None:
    """No ``from other_module import _name`` nor ``other_module._name``.

    A private submodule (``report/_style.py``) may be imported by modules of its own package.
    """
    problems = []
    for imp in all_imports():
        for name in imp.names:
            if name.startswith("_") and not name.startswith("__"):
                problems.append(f"{_where(imp)} imports {imp.target}.{name}")
    for path in sorted(SRC.rglob("*.py")):
        source = module_name(path)
        for lineno, module, name in private_attributes(path):
            problems.append(f"{_file(source)}:{lineno} reads {module}.{name}")
    for imp in all_imports():
        leaf = imp.target.rsplit(".", 1)
        if leaf[-1].startswith("_") and not leaf[-1].startswith("__"):
            own_package = imp.source.rsplit(".", 1)[0]
            if leaf[0] != own_package and leaf[0] != imp.source:
                problems.append(f"{_where(imp)} imports private module {imp.target}")
    assert not problems, "imports of another module's private names:\n" + "\n".join(problems)
