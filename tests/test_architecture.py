"""The suite's architecture, read from its code (issue 21).

- No module of the five extensions imports one of the suite's modules
  inside a function: imports sit at module top, so the dependencies between
  modules are what a reader (or a tool drawing them) sees.
- No circle between modules.
- An extension reaches another only through its public facade,
  `ckanext.<name>.shared`, and declares it in its `pyproject.toml`.

Tests and migrations are left out (fixtures and Alembic's environment import
where they need to).
"""

from __future__ import annotations

import ast
import pathlib
import tomllib
from collections import defaultdict

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
# distribution directory -> its package under ckanext
EXTENSIONS = {
    "ckanext-grandlyon-access": "grandlyon_access",
    "ckanext-grandlyon-licence": "grandlyon_licence",
    "ckanext-communes": "communes",
    "ckanext-dataviz": "dataviz",
    "ckanext-history": "history",
}
SUITE = tuple(f"ckanext.{package}" for package in EXTENSIONS.values())


def _modules() -> dict[str, tuple[pathlib.Path, bool]]:
    """module name -> (file, is a package's __init__)"""
    out = {}
    for directory in EXTENSIONS:
        for path in (ROOT / directory / "ckanext").rglob("*.py"):
            relative = path.relative_to(ROOT / directory)
            if {"tests", "migration"} & set(relative.parts):
                continue
            parts = list(relative.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = (path, path.name == "__init__.py")
    return out


MODULES = _modules()


def _targets(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The suite modules an import statement names."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = (module if is_package else module.rsplit(".", 1)[0]).split(".")
            base = base[:len(base) - (node.level - 1)]
            origin = ".".join(base + ([node.module] if node.module else []))
        else:
            origin = node.module or ""
        names = [f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in MODULES else origin
                 for alias in node.names]
    else:
        return []
    return [name for name in names if name.startswith(SUITE)]


def _imports() -> tuple[list[tuple[str, int, str]], dict[str, set[str]]]:
    """(imports inside functions, module -> modules it imports at load)"""
    inside, edges = [], defaultdict(set)
    for module, (path, is_package) in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_function = {id(node) for function in ast.walk(tree)
                       if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
                       for node in ast.walk(function)}
        for node in ast.walk(tree):
            for target in _targets(node, module, is_package):
                if id(node) in in_function:
                    inside.append((str(path.relative_to(ROOT)), node.lineno, target))
                elif target in MODULES and target != module:
                    edges[module].add(target)
    return inside, edges


INSIDE, EDGES = _imports()


def _extension(module: str) -> str:
    return module.split(".")[1]


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(set(edges) | {other for others in edges.values() for other in others}):
        if node not in index:
            visit(node)
    return found


def test_the_checks_see_the_suite():
    """The checks below read every extension (a wrong path would pass them all)."""
    assert {_extension(module) for module in MODULES} == set(EXTENSIONS.values())
    assert len(MODULES) > 80
    assert sum(len(targets) for targets in EDGES.values()) > 100


def test_no_suite_import_inside_a_function():
    assert INSIDE == []


def test_the_circle_finder_finds_circles():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) != []


def test_no_circle_between_modules():
    assert _circles(EDGES) == []


def test_extensions_meet_only_through_their_facades():
    crossing = sorted(f"{module} -> {target}" for module, targets in EDGES.items()
                      for target in targets
                      if _extension(module) != _extension(target)
                      and target != f"ckanext.{_extension(target)}.shared")
    assert crossing == []


@pytest.mark.parametrize("directory", sorted(EXTENSIONS))
def test_an_extension_declares_the_extensions_it_imports(directory):
    package = EXTENSIONS[directory]
    by_package = {package: name for name, package in EXTENSIONS.items()}
    imported = {by_package[_extension(target)] for module, targets in EDGES.items()
                if _extension(module) == package for target in targets
                if _extension(target) != package}
    project = tomllib.loads((ROOT / directory / "pyproject.toml").read_text(encoding="utf-8"))
    declared = {requirement.split(";")[0].split("[")[0].strip()
                for requirement in project["project"].get("dependencies", [])}
    # an optional import (try/except ImportError) need not be declared
    optional = _optional_imports(package)
    assert imported - declared - optional == set()


def _optional_imports(package: str) -> set[str]:
    by_package = {package: name for name, package in EXTENSIONS.items()}
    out = set()
    for module, (path, is_package) in MODULES.items():
        if _extension(module) != package:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Try) and any(
                    isinstance(handler.type, ast.Name) and handler.type.id == "ImportError"
                    for handler in node.handlers):
                for statement in node.body:
                    out |= {by_package[_extension(t)]
                            for t in _targets(statement, module, is_package)}
    return out
