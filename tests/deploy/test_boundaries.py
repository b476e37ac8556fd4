"""The boundaries the architecture rests on (docs/architecture.md): no service imports
another, and the sandbox imports nothing of Herald. Checked on every import statement,
function-local ones included."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())


def imported_modules(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def crossings(folder: Path, allowed: tuple[str, ...]) -> list[str]:
    bad = []
    for path in sorted(folder.rglob("*.py")):
        for module in imported_modules(path):
            herald = module.split(".")[0] in {"services", "shared", "sandbox"}
            if herald and not module.startswith(allowed):
                bad.append(f"{path.relative_to(ROOT)} imports {module}")
    return bad


def test_no_service_imports_another() -> None:
    bad = []
    for service in SERVICES:
        bad += crossings(ROOT / "services" / service, (f"services.{service}", "shared"))
    assert bad == []


def test_the_sandbox_imports_nothing_of_herald() -> None:
    assert crossings(ROOT / "sandbox", ("sandbox",)) == []


def test_the_kit_imports_no_service() -> None:
    assert crossings(ROOT / "shared", ("shared",)) == []
