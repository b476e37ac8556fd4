"""No function of the project's code is longer than 80 lines (tools/function_lengths.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tools.function_lengths import LIMIT, long_functions

ROOT = Path(__file__).resolve().parents[2]


def _function(name: str, lines: int) -> str:
    body = "".join(f"    x{i} = {i}\n" for i in range(lines - 2))
    return f"def {name}():\n{body}    return 0\n\n\n"


def test_the_tool_lists_a_function_one_line_over_the_limit(tmp_path):
    source = tmp_path / "module.py"
    source.write_text(_function("at_the_limit", LIMIT) + _function("over_it", LIMIT + 1))
    found = list(long_functions(source))
    assert found == [(LIMIT + 1, f"{source}:{LIMIT + 3} over_it")]


def test_no_function_is_longer_than_the_limit():
    run = subprocess.run(
        [sys.executable, "tools/function_lengths.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout
