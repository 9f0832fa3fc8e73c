"""Imports run one way: data -> models -> attacks / defenses -> eval -> cli, with no import
from a lower stage to a higher one and none between attacks and defenses."""
from __future__ import annotations

import ast
from pathlib import Path

import fastpoison

PACKAGE = Path(fastpoison.__file__).resolve().parent
#: Stage of each top-level name; the foundation (-1) is shared by every stage.
STAGES = {"_core": -1, "errors": -1, "jsonio": -1, "options": -1, "plugins": -1, "data": 0, "models": 1, "attacks": 2,
          "defenses": 2, "eval": 3, "cli": 4}
FACADES = {"__init__", "__main__"}  # the package's own front doors import from every stage


def top_level(module: Path) -> str:
    return module.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imported_top_levels(module: Path, root: Path = PACKAGE) -> set[str]:
    """The package's top-level names that ``module`` (a file under ``root``, the package
    folder) imports, relatively or as ``fastpoison.NAME``."""
    folders = list(module.relative_to(root).parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                path = folders[: len(folders) - (node.level - 1)]
                parts = path + (node.module.split(".") if node.module else [a.name for a in node.names])
            elif node.module and node.module.split(".")[0] == "fastpoison":
                parts = node.module.split(".")[1:] or [a.name for a in node.names]
            else:
                continue
            names.add(parts[0])
        elif isinstance(node, ast.Import):
            names.update(a.name.split(".")[1] for a in node.names if a.name.startswith("fastpoison."))
    return names


def test_imports_run_one_way():
    modules = [m for m in PACKAGE.rglob("*.py") if m.stem not in FACADES or m.parent != PACKAGE]
    assert len(modules) > 30
    wrong = []
    for module in modules:
        here = top_level(module)
        for there in imported_top_levels(module) - {here}:
            upward = STAGES[there] > STAGES[here]
            across = {here, there} == {"attacks", "defenses"}
            if upward or across:
                wrong.append(f"{module.relative_to(PACKAGE)} imports {there}")
    assert not wrong, wrong


def test_the_check_sees_every_kind_of_import(tmp_path):
    module = tmp_path / "attacks" / "deep" / "x.py"
    module.parent.mkdir(parents=True)
    module.write_text("from ...defenses.tcd import TCD\nfrom .. import base\nfrom ... import eval\n"
                      "import fastpoison.cli\nfrom fastpoison.models import MF\nimport numpy\n")
    assert imported_top_levels(module, tmp_path) == {"defenses", "attacks", "eval", "cli", "models"}
