"""The trainer's layers in ``.importlinter`` cover every module, and its core reads nothing.

import-linter checks the imports; this checks what it cannot: that a new module was
given a layer at all, and that the core reaches no file or environment by name (the
``open`` builtin needs no import).
"""

from __future__ import annotations

import ast
import configparser
from pathlib import Path

import modelpipe_trainer

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(modelpipe_trainer.__file__).parent
BY_NAME = {"open", "environ", "environb", "getenv", "putenv", "unsetenv"}


def _contract(name: str) -> configparser.SectionProxy:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return config[f"importlinter:contract:{name}"]


def _modules() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] != "__init__":
            found.add(".".join(parts))
    return found


def _layered() -> list[set[str]]:
    lines = _contract("trainer-layers")["layers"].strip().splitlines()
    return [{m.strip() for m in line.split(":")} for line in lines]


def test_every_trainer_module_sits_in_a_layer() -> None:
    layered = set().union(*_layered())
    assert _modules() - layered == set()
    assert layered - _modules() == set()


def test_the_core_is_the_pure_contracts_source() -> None:
    sources = set(_contract("trainer-core-is-pure")["source_modules"].split())
    assert sources == _layered()[-1]


def test_the_core_reads_no_file_or_environment_by_name() -> None:
    found = []
    for module in _layered()[-1]:
        path = PACKAGE.parent.joinpath(*module.split(".")).with_suffix(".py")
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)
            if name in BY_NAME:
                found.append(f"{module}:{node.lineno}: {name}")  # type: ignore[attr-defined]
    assert found == []
