"""The web console, served as static files at /console.

The console is a single-page app built with Vite (console/, `npm run build`); it calls the
public API with the user's own API key, so its files need none. Hashed assets
(`/console/assets/name-<hash>.js`) never change under their name and are cached for a year;
`index.html` and any other path under /console (the app's own routes, e.g. /console/calendar)
answer the page itself, revalidated on every load so a new build is picked up at once.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from shared.errors import NotFound, Unavailable

# services/gateway/edge/console.py → the repository root, where the console is built.
DEFAULT_DIST = Path(__file__).resolve().parents[3] / "console" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# The page loads only its own files and talks only to its own origin (the gateway).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob: https:; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)

mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/css", ".css")


def console_router(dist: str = "") -> APIRouter:
    root = Path(dist) if dist else DEFAULT_DIST
    router = APIRouter(include_in_schema=False)

    @router.get("/console")
    async def console_root() -> Response:
        return RedirectResponse("/console/", status_code=308)

    @router.api_route("/console/{path:path}", methods=["GET", "HEAD"])
    async def console_file(path: str, request: Request) -> Response:
        index = root / "index.html"
        if not index.is_file():
            raise Unavailable(
                "The web console has not been built: run `make console` (npm ci and npm run "
                f"build in console/), or `make run`, which builds it; looked in {root}."
            )
        file = _within(root, path)
        if file is not None and file.is_file():
            cache = IMMUTABLE if path.startswith("assets/") else REVALIDATE
            return _file(file, cache, request)
        if path.startswith("assets/"):
            # A missing hashed asset is an old page asking for a file that no longer exists;
            # answering the page in its place would run HTML as a script.
            raise NotFound(f"No console asset {path}.")
        return _file(index, REVALIDATE, request)

    return router


def _file(file: Path, cache: str, request: Request) -> FileResponse:
    """The file, or its gzip copy (written by the build) when the browser accepts gzip."""
    headers = {**_headers(cache), "Vary": "Accept-Encoding"}
    media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    packed = file.with_name(file.name + ".gz")
    if "gzip" in request.headers.get("accept-encoding", "") and packed.is_file():
        headers["Content-Encoding"] = "gzip"
        return FileResponse(packed, media_type=media_type, headers=headers)
    return FileResponse(file, media_type=media_type, headers=headers)


def _within(root: Path, path: str) -> Path | None:
    """The file `path` names inside `root`, or None when it would step outside it."""
    if not path:
        return None
    candidate = (root / path).resolve()
    try:
        candidate.relative_to(root.resolve())
    except ValueError:
        return None
    return candidate


def _headers(cache: str) -> dict[str, str]:
    return {
        "Cache-Control": cache,
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
