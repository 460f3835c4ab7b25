"""The house's arrows point one way (DESIGN §2): steps -> support -> (network) -> chat.

Steps import only the harness (and behave); the harness never imports the tools, and of
the harness only the embedded stack imports the service; the service knows nothing of
behave, the harness or the tools. Read from the source with `ast`, so a new module is
checked the day it appears.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STEPS_MAY_IMPORT = {"behave", "parse", "support"}


def imported_roots(path: Path) -> set[str]:
    """The top-level package of every absolute import in a module."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_the_checker_sees_imports_of_every_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os.path\nfrom tools.bench import x\nfrom . import y\n"
                      "def f():\n    import chat.app\n")
    assert imported_roots(sample) == {"os", "tools", "chat"}


@pytest.mark.parametrize("path", modules("steps") + [ROOT / "environment.py"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_steps_import_nothing_but_the_harness(path: Path) -> None:
    project = {"chat", "support", "tools", "steps", "peers"}
    assert imported_roots(path) & project <= STEPS_MAY_IMPORT, path


@pytest.mark.parametrize("path", modules("support"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_harness_never_imports_the_tools_and_only_the_stack_imports_the_service(
        path: Path) -> None:
    roots = imported_roots(path)
    assert "tools" not in roots, path
    if path.relative_to(ROOT) != Path("support/stack.py"):
        assert "chat" not in roots, path


@pytest.mark.parametrize("path", modules("chat"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_service_knows_nothing_of_the_suite(path: Path) -> None:
    assert not imported_roots(path) & {"behave", "support", "tools", "steps"}, path


@pytest.mark.parametrize("folder", ["chat", "support", "tools", "steps"])
def test_no_module_holds_two_concepts(folder: str) -> None:
    """A module over 400 lines is a sign it holds two (DESIGN §2)."""
    long = {str(p.relative_to(ROOT)): n for p in modules(folder)
            if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}
