"""House rule: a lower layer never imports a higher one (imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "cislearn"

# Layer of each module (by dotted prefix, longest match wins). Same layer may import itself.
LAYERS: dict[str, int] = {
    "errors": 0,
    "types": 0,
    "config": 0,
    "io": 1,
    "encode": 1,
    "intervals": 2,
    "negatives": 2,
    "simulate": 2,
    "data": 3,
    "features": 3,
    "motif_counts": 3,
    "validate": 3,
    "prepare": 4,
    "models": 4,
    "losses": 4,
    "metrics": 4,
    "train": 5,
    "engine": 5,
    "pretrain": 5,
    "baseline": 5,
    "predict": 5,
    "evaluate": 5,
    "interpret": 6,
    "variants": 6,
    "report": 7,
    "runs": 7,
    "panel": 7,
    "pipelines": 7,
    "cli": 8,
    "web": 8,
    "__main__": 8,
}


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "cislearn" or len(parts) == 1:
        return None
    for n in range(len(parts), 1, -1):
        key = ".".join(parts[1:n])
        if key in LAYERS:
            return LAYERS[key]
    raise AssertionError(f"module {module} has no layer in tests/test_layers.py: add it")


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every absolute import in the file, except those under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            type_only |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    found = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_dependency_direction() -> None:
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        module = ".".join(rel.parts).removesuffix(".__init__")
        own = layer_of(module)
        if own is None:  # the package __init__ re-exports lazily
            continue
        for lineno, target in imports_of(path):
            other = layer_of(target) if target.startswith("cislearn.") else None
            if other is not None and other > own:
                problems.append(f"{path.relative_to(SRC.parent)}:{lineno} imports {target}")
    assert not problems, "lower layer imports a higher one:\n" + "\n".join(problems)
