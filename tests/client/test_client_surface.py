"""The client package's public surface, and the layering it promises."""

from __future__ import annotations

import ast
from pathlib import Path

import sendx_worker.client as client_package

CLIENT_DIR = Path(client_package.__file__).parent


def test_the_client_package_exports_exactly_its_public_names() -> None:
    assert sorted(client_package.__all__) == [
        "Contact",
        "IdentifyResult",
        "OnResponse",
        "SendxClient",
        "TrackResult",
        "Verdict",
        "classify",
        "is_transient",
        "parse_retry_after",
    ]
    assert all(hasattr(client_package, name) for name in client_package.__all__)


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


def test_no_client_module_imports_celery_or_the_task_layer() -> None:
    modules = sorted(CLIENT_DIR.glob("*.py"))
    assert len(modules) >= 7
    for module in modules:
        for name in imported_modules(module):
            assert not name.startswith(("celery", "kombu")), f"{module.name} imports {name}"
            assert "tasks" not in name and "schemas" not in name, f"{module.name} imports {name}"


def test_no_client_module_sleeps_or_retries() -> None:
    for module in sorted(CLIENT_DIR.glob("*.py")):
        text = module.read_text(encoding="utf-8")
        assert "sleep(" not in text, f"{module.name} sleeps: the broker holds the delay"
        assert "max_retries=0" in text or "max_retries" not in text, f"{module.name} configures retries"


def test_every_client_module_stays_small() -> None:
    for module in sorted(CLIENT_DIR.glob("*.py")):
        lines = len(module.read_text(encoding="utf-8").splitlines())
        assert lines < 250, f"{module.name} has {lines} lines"
