"""The packages import each other one way: statement, bench -> pipeline ->
extract, load -> core. A module importing against that arrow fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What each package may import of the project, besides itself.
ALLOWED = {
    "core": set(),
    "extract": {"core"},
    "load": {"core"},
    "pipeline": {"core", "extract", "load"},
    "statement": {"core", "pipeline"},
    "bench": {"core", "extract", "load", "pipeline"},
    "grafana": set(),
}


def project_imports(path: Path) -> set[str]:
    """The project's packages a module imports, at any depth of the module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names} & set(ALLOWED)
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_lies_below_it(package: str) -> None:
    modules = sorted((ROOT / package).rglob("*.py"))
    assert modules
    against = {
        str(module.relative_to(ROOT)): sorted(
            project_imports(module) - ALLOWED[package] - {package}
        )
        for module in modules
    }
    assert {module: names for module, names in against.items() if names} == {}


def test_the_rule_catches_an_import_against_the_arrow(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from pipeline.run import run\n")
    assert project_imports(module) - ALLOWED["load"] == {"pipeline"}
