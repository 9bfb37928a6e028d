"""The dependency rule of docs/architecture.md, read from the imports of every installed module.

training and serving meet only in the model layer (``reviewguard.model``): neither imports the
other; features know nothing of models, training or serving; the model layer knows nothing of
training or serving.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# (importer package, imported package): never allowed.
FORBIDDEN = (
    ("reviewguard.training", "reviewguard.serving"),
    ("reviewguard.serving", "reviewguard.training"),
    ("reviewguard.features", "reviewguard.training"),
    ("reviewguard.features", "reviewguard.serving"),
    ("reviewguard.features", "reviewguard.model"),
    ("reviewguard.model", "reviewguard.training"),
    ("reviewguard.model", "reviewguard.serving"),
)


def installed_modules() -> dict[str, Path]:
    """Module name -> source file, through pyproject's package-dir mapping (the installed layout)."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    out: dict[str, Path] = {}
    for package in cfg["packages"]:
        folder = ROOT / cfg["package-dir"][package]
        for f in sorted(folder.glob("*.py")):
            out[package if f.stem == "__init__" else f"{package}.{f.stem}"] = f
    return out


def imports_of(path: Path, module: str) -> set[str]:
    """Every module a file imports, relative imports resolved, including imports inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.stem == "__init__" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return found


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_scan_sees_the_layers() -> None:
    modules = installed_modules()
    for package in ("reviewguard.model", "reviewguard.training", "reviewguard.serving", "reviewguard.features"):
        assert any(_inside(m, package) for m in modules), package
    # The scanner itself must see an import that exists: training does import the model layer.
    assert "reviewguard.model.bundle" in imports_of(
        modules["reviewguard.training.pipeline"], "reviewguard.training.pipeline"
    )


@pytest.mark.parametrize(("importer", "imported"), FORBIDDEN, ids=lambda p: p.removeprefix("reviewguard."))
def test_dependency_rule(importer: str, imported: str) -> None:
    offenders = [
        f"{module} imports {name}"
        for module, path in installed_modules().items()
        if _inside(module, importer)
        for name in sorted(imports_of(path, module))
        if _inside(name, imported)
    ]
    assert not offenders, offenders
