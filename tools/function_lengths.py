"""Lists the functions longer than 80 lines outside tests, the sandbox and migrations.

    python tools/function_lengths.py            # the repository
    python tools/function_lengths.py services   # some folders of it

Exits 1 when there is any: a function that long does several things, each of which wants a
name of its own.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

LIMIT = 80
ROOT = Path(__file__).resolve().parents[1]
# Tests read as scenarios, the sandbox is a stand-in for the networks, migrations are
# generated; none of them is held to the limit. The rest are not the project's code.
LEFT_OUT = {"tests", "sandbox", "migrations", ".venv", "node_modules", "__pycache__", ".git"}


def python_files(roots: list[Path]) -> Iterator[Path]:
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if not LEFT_OUT.intersection(path.relative_to(ROOT).parts):
                yield path


def long_functions(path: Path, limit: int = LIMIT) -> Iterator[tuple[int, str]]:
    """(lines, "path:line name") of each function of `path` longer than `limit` lines."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
            lines = node.end_lineno - node.lineno + 1
            if lines > limit:
                shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                yield lines, f"{shown}:{node.lineno} {node.name}"


def main(argv: list[str]) -> int:
    roots = [(ROOT / arg).resolve() for arg in argv] or [ROOT]
    found = sorted(
        (row for path in python_files(roots) for row in long_functions(path)), reverse=True
    )
    for lines, where in found:
        print(f"{lines} {where}")
    print(f"{len(found)} functions over {LIMIT} lines")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
