"""The package's layers import in one direction, with no cycles, and ``corruptions`` stands alone.

Layers, lowest first (``docs/architecture.md``): the standalone ``corruptions`` library; errors and
version; audio, runtime and metrics; backbones; extraction; scoring; the capabilities (corrupt,
datasets, ldm, sweep) and the API; the CLI. A module may import its own layer or lower ones only.
Every import counts, also the ones inside functions that keep start-up light.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RANK = {
    "corruptions": 0,
    "audiometric._version": 1,
    "audiometric.errors": 1,
    "audiometric.audio": 2,
    "audiometric.runtime": 2,
    "audiometric.metrics": 2,
    "audiometric.backbones": 3,
    "audiometric.extraction": 4,
    "audiometric.scoring": 5,
    "audiometric.corrupt": 6,
    "audiometric.datasets": 6,
    "audiometric.ldm": 6,
    "audiometric.sweep": 6,
    "audiometric.api": 7,
    "audiometric.cli": 8,
    "audiometric.__main__": 9,
    "audiometric": 9,  # the package root only re-exports the API, lazily
}
#: Layers of the same rank that must not import each other (the bottom layers are independent).
INDEPENDENT = {"audiometric.audio", "audiometric.runtime", "audiometric.metrics"}


def layer(module: str) -> str:
    """The layer a dotted module name belongs to (the longest key of ``RANK`` that prefixes it)."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in RANK:
            return ".".join(parts[:n])
    raise AssertionError(f"{module}: no layer; add its folder to RANK and to docs/architecture.md")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p) for top in ("audiometric", "corruptions") for p in (ROOT / top).rglob("*.py")}


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; relative imports resolved)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # ``from pkg import sub`` depends on ``pkg.sub``; ``from module import name`` on ``module``
            found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names)
    return {m for m in found if m.split(".")[0] in ("audiometric", "corruptions")}


def graph() -> dict[str, set[str]]:
    files = [p for top in ("audiometric", "corruptions") for p in (ROOT / top).rglob("*.py")]
    return {module_name(p): imports(p) for p in files}


def test_corruptions_stands_alone():
    bad = {
        m: sorted(i for i in deps if i.startswith("audiometric"))
        for m, deps in graph().items()
        if m.startswith("corruptions")
    }
    assert not {m: d for m, d in bad.items() if d}


def test_layers_import_downwards():
    wrong = []
    for module, deps in graph().items():
        own = layer(module)
        for dep in deps:
            target = layer(dep)
            if target == own:
                continue
            if (
                RANK[target] > RANK[own]
                or (RANK[target] == RANK[own] and {own, target} <= INDEPENDENT)
                or (RANK[target] == RANK[own] and own == "audiometric.api")
            ):
                wrong.append(f"{module} -> {dep}")
    assert not wrong, "imports against the layer order:\n" + "\n".join(sorted(wrong))


def test_no_cycle_between_layers():
    edges: dict[str, set[str]] = {}
    for module, deps in graph().items():
        edges.setdefault(layer(module), set()).update(layer(d) for d in deps if layer(d) != layer(module))
    seen: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        if seen.get(node) == 1:
            raise AssertionError("layer cycle: " + " -> ".join([*path, node]))
        if seen.get(node) == 2:
            return
        seen[node] = 1
        for nxt in sorted(edges.get(node, ())):
            visit(nxt, [*path, node])
        seen[node] = 2

    for start in sorted(edges):
        visit(start, [])


def test_no_module_level_import_cycle():
    """No two modules import each other at import time (function-level imports excluded)."""
    files = [p for top in ("audiometric", "corruptions") for p in (ROOT / top).rglob("*.py")]
    names = {module_name(p) for p in files}
    top_level: dict[str, set[str]] = {}
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        module = module_name(path)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        deps: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                deps.update(n for n in [base, *(f"{base}.{a.name}" for a in node.names)] if n in names)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in names)
        top_level[module] = deps - {module}
    cycles = sorted(
        f"{a} <-> {b}"
        for a, deps in top_level.items()
        for b in deps
        if a < b and a in top_level.get(b, set()) and not b.startswith(a + ".") and not a.startswith(b + ".")
    )
    assert not cycles, cycles


def test_top_level_is_small():
    modules = sorted(p.name for p in (ROOT / "audiometric").glob("*.py"))
    assert len(modules) <= 5, modules
