"""The layers import one way: ``ir`` <- ``passes``/``codegen`` <- ``frontend``/``transforms``
<- ``tools``.

Every import in every module of the lower layers is read from its source (also
imports inside functions, relative ones, and ``importlib.import_module`` of a
literal name), so a lower layer can be read and tested without the ones above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent  # the repository root is the package llax

# Layer -> the layers it must not import.
FORBIDDEN = {
    "ir": ("passes", "codegen", "frontend", "transforms", "tools"),
    "passes": ("frontend", "transforms", "tools"),
    "codegen": ("frontend", "transforms", "tools"),
}



def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("llax", *parts))


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` (the text of ``module``) imports, by absolute name."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            if base == "llax":  # "from llax import frontend" imports llax.frontend
                found.update(f"llax.{alias.name}" for alias in node.names)
            else:  # the layer shows in the module named; a name in it adds nothing
                found.add(base)
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and ast.unparse(node.func) in ("importlib.import_module", "import_module",
                                             "__import__")):
            found.add(node.args[0].value)
    return found


def layer_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "llax" else None


def violations() -> set[tuple[str, str]]:
    """(module, imported module) for every import a lower layer must not make."""
    found = set()
    for layer, forbidden in FORBIDDEN.items():
        for path in sorted((ROOT / layer).rglob("*.py")):
            module = module_name(path)
            for imported in imported_modules(path.read_text(), module,
                                             path.name == "__init__.py"):
                if layer_of(imported) in forbidden:
                    found.add((module, imported))
    return found


def test_lower_layers_never_import_higher_ones() -> None:
    found = sorted(violations())
    assert not found, "imports against the layering:\n" + "\n".join(
        f"  {m} imports {i}" for m, i in found)


def test_codegen_reaches_compiled_without_the_frontend() -> None:
    from llax.codegen import executable

    src = Path(executable.__file__).read_text()
    assert "llax.codegen.compiled" in imported_modules(src, "llax.codegen.executable")


@pytest.mark.parametrize("source, expected", [
    ("import llax.frontend.core", "llax.frontend.core"),
    ("def f():\n    from llax.frontend.core import bind\n", "llax.frontend.core"),
    ("from llax import transforms", "llax.transforms"),
    ("from ..frontend import api", "llax.frontend"),
    ("from . import lower", "llax.codegen"),
    ("import importlib\nimportlib.import_module('llax.tools.dump')", "llax.tools.dump"),
])
def test_every_kind_of_import_is_seen(source: str, expected: str) -> None:
    assert expected in imported_modules(source, "llax.codegen.target")


def test_layer_of_a_module() -> None:
    assert layer_of("llax.frontend.core") == "frontend"
    assert layer_of("llax.config") == "config"
    assert layer_of("numpy.linalg") is None


def test_every_package_is_installed():
    # pyproject lists the packages explicitly (the root is the package, so setuptools cannot
    # find them itself); one left out works in an editable install and is missing from a
    # wheel.
    import re

    text = (ROOT / "pyproject.toml").read_text()
    listed = set(re.findall(r'"([\w.]+)"', re.search(r"^packages = \[(.*?)\]", text,
                                                      re.S | re.M).group(1)))
    found = {module_name(p) for p in ROOT.rglob("__init__.py")
             if not {"tests", "examples", "build", ".git"} & set(p.relative_to(ROOT).parts)}
    assert found == listed
