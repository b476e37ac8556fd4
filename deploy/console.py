"""Builds the web console (console/) and the TypeScript client it imports (clients/typescript/).

`make run` and the browser tests call `ensure_built()`: it installs the npm packages exactly as
locked (`npm ci`) when they are missing or the lock changed, and rebuilds when a source file is
newer than the build. `python -m deploy.console` does the same from the command line (`make
console`); `--force` rebuilds regardless.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIENT = ROOT / "clients" / "typescript"
CONSOLE = ROOT / "console"
DIST = CONSOLE / "dist"


class BuildFailed(RuntimeError):
    pass


def _newest(paths: Iterable[Path]) -> float:
    newest = 0.0
    for path in paths:
        if path.is_dir():
            newest = max(newest, _newest(p for p in path.rglob("*") if p.is_file()))
        elif path.is_file():
            newest = max(newest, path.stat().st_mtime)
    return newest


def _run(args: list[str], cwd: Path) -> None:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildFailed(f"{' '.join(args)} in {cwd} failed:\n{done.stdout}\n{done.stderr}")


def _install(package: Path) -> None:
    """`npm ci` when node_modules is missing or older than the lock file."""
    marker = package / "node_modules" / ".package-lock.json"
    lock = package / "package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        _run(["npm", "ci", "--no-audit", "--no-fund"], package)


def stale() -> bool:
    """Whether the console's build is missing or older than a source it is built from."""
    index = DIST / "index.html"
    if not index.exists():
        return True
    sources = [
        CONSOLE / "src",
        CONSOLE / "index.html",
        CONSOLE / "vite.config.ts",
        CONSOLE / "package-lock.json",
        CLIENT / "src",
        CLIENT / "package-lock.json",
    ]
    return _newest(sources) > index.stat().st_mtime


def ensure_built(*, force: bool = False) -> Path:
    """The console's dist directory, built first when missing or stale."""
    if not force and not stale():
        return DIST
    if shutil.which("npm") is None:
        raise BuildFailed("npm is not installed: install Node.js 20 to build the console")
    _install(CLIENT)
    _run(["npm", "run", "build"], CLIENT)
    _install(CONSOLE)
    _run(["npm", "run", "build"], CONSOLE)
    precompress(DIST)
    return DIST


def precompress(dist: Path) -> None:
    """A gzip copy beside each script, style and page, which the gateway sends to browsers that
    accept it (compressed once here, not on every request)."""
    for path in dist.rglob("*"):
        if path.suffix in (".js", ".css", ".html", ".svg") and path.is_file():
            data = path.read_bytes()
            Path(f"{path}.gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    try:
        dist = ensure_built(force="--force" in args)
    except BuildFailed as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(1) from None
    print(f"console built in {dist}")


if __name__ == "__main__":
    main()
