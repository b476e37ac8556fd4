"""The merged OpenAPI document and the interactive docs that read it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
async def openapi_document(request: Request, refresh: bool = False) -> JSONResponse:
    state: Any = request.app.state
    doc = await state.openapi.document(state.forwarder.client, refresh=refresh)
    return JSONResponse(doc)


@router.get("/docs")
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="Herald API")
