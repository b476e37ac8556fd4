"""`make bench`: every benchmark against its same-run baseline; one table and one JSON file.

python -m bench [--quick] [--profile [NAME ...]] [--only NAME ...]

`--profile` writes a py-spy flame graph per process (each service the benchmark drives, and
the bench process) to bench/results/profile-<benchmark>-<process>.svg: for every benchmark
run, or only the NAMEs given.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import platform
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.context import bench_context
from bench.harness import PROFILES, ROOT, Figure

BENCHMARKS = [
    "bench.bench_bus",
    "bench.bench_gateway",
    "bench.bench_ingest",
    "bench.bench_e2e",
    "bench.bench_publish",
    "bench.bench_dispatch",
    "bench.bench_samples",
    "bench.bench_analytics",
    "bench.bench_reports",
    "bench.bench_sentiment",
]


def fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def print_table(figures: list[Figure], skipped: dict[str, str]) -> None:
    header = f"{'benchmark':<12} {'figure':<48} {'value':>12} {'baseline':>12} {'ratio':>7}  goal"
    print(header)
    print("-" * len(header))
    for f in figures:
        print(
            f"{f.benchmark:<12} {f.metric[:48]:<48} {fmt(f.value):>12} {fmt(f.baseline):>12} "
            f"{fmt(f.ratio):>7}  {f.goal}"
        )
        if f.rounds:
            base = (
                f"{fmt(min(f.baseline_rounds))}–{fmt(max(f.baseline_rounds))}"
                if f.baseline_rounds
                else ""
            )
            print(
                f"{'':<12} {'  ' + f.unit + ', rounds min–max':<48} "
                f"{fmt(min(f.rounds)) + '–' + fmt(max(f.rounds)):>12} {base:>12}"
            )
        if f.baseline is not None:
            print(f"{'':<12}   baseline: {f.baseline_name}")
    for name, why in skipped.items():
        print(f"{name:<12} not run: {why}")


def write_results(
    path: Path,
    *,
    quick: bool,
    started: float,
    figures: list[Figure],
    skipped: dict[str, str],
    profiles: list[str],
    complete: bool,
) -> dict[str, Any]:
    """Rewritten after every benchmark, so a run cut short keeps what it measured."""
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "quick": quick,
        "complete": complete,
        "seconds": round(time.monotonic() - started, 1),
        "figures": [f.as_dict() for f in figures],
        "not_run": skipped,
        "profiles": profiles,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(path)
    return results


def stop_on_sigterm() -> None:
    """SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C: every service and load generator
    the run started is stopped and its database dropped, instead of being left running."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", nargs="*", metavar="NAME")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    stop_on_sigterm()
    figures: list[Figure] = []
    skipped: dict[str, str] = {}
    started = time.monotonic()
    profile = args.profile is not None
    async with bench_context(quick=args.quick, profile=profile) as ctx:
        PROFILES.configure(args.profile, ctx.results_dir)
        latest = ctx.results_dir / "latest.json"

        def save(complete: bool) -> dict[str, Any]:
            profiles = [str(p.relative_to(ROOT)) for p in PROFILES.written]
            return write_results(
                latest,
                quick=args.quick,
                started=started,
                figures=figures,
                skipped=skipped,
                profiles=profiles,
                complete=complete,
            )

        for module_name in BENCHMARKS:
            short = module_name.split(".")[-1].removeprefix("bench_")
            if args.only and short not in args.only:
                continue
            module = importlib.import_module(module_name)
            t0 = time.monotonic()
            print(f"… {short}", file=sys.stderr, flush=True)
            try:
                async with PROFILES.running(short, ctx._platform):
                    figures += await module.run(ctx)
            except Exception as exc:  # noqa: BLE001  (one failing benchmark must not hide the rest)
                traceback.print_exc()
                skipped[short] = f"failed: {exc}"
            print(f"  {short} took {time.monotonic() - t0:.0f}s", file=sys.stderr, flush=True)
            save(complete=False)
        results = save(complete=True)
    print_table(figures, skipped)
    print(f"\nwrote bench/results/latest.json ({results['seconds']} s)")
    if profile:
        print("profiles (open in a browser):" if PROFILES.written else "no profile was written")
        for path in results["profiles"]:
            print(f"  {path}")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("stopped: what was measured is in bench/results/latest.json", file=sys.stderr)
        sys.exit(130)
