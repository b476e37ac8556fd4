"""Writes the merged OpenAPI document to a file.

    python -m services.gateway.openapi_cli docs/openapi.json             # `make openapi`
    python -m services.gateway.openapi_cli --offline docs/openapi.json   # no process running

Apart from `edge/openapi.py` because it builds the whole gateway app (and, offline, every
service's), which the merging code must not import.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from pathlib import Path

import httpx

from services.gateway.app import create_app
from services.gateway.edge.openapi import Document, MergedOpenApi, merge_documents
from services.gateway.settings import GatewaySettings


async def build_merged() -> Document:
    """The merged document of the services configured by env (`GATEWAY_*_URL`)."""
    settings = GatewaySettings()
    app = create_app(settings)
    merged: MergedOpenApi = app.state.openapi
    async with httpx.AsyncClient() as client:
        return await merged.document(client, refresh=True)


def build_offline() -> Document:
    """The merged document built from every service's app in this process, none running:
    what the TypeScript client is generated from (the same merge as the gateway's)."""
    services = {
        name: importlib.import_module(f"services.{name}.app").create_app().openapi()
        for name in ("scheduler", "publisher", "inbox", "metrics")
    }
    merged: MergedOpenApi = create_app().state.openapi
    return merge_documents(own=merged.own(), services=services)


def write_merged(path: Path, *, offline: bool = False) -> Document:
    doc = build_offline() if offline else asyncio.run(build_merged())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    offline = "--offline" in args
    args = [a for a in args if a != "--offline"]
    target = Path(args[0] if args else "docs/openapi.json")
    doc = write_merged(target, offline=offline)
    missing = doc.get("x-herald-unavailable-services", [])
    print(f"wrote {target} ({len(doc['paths'])} paths)")
    if missing:
        print(f"warning: not running, so not included: {', '.join(missing)}", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
