"""The one place where failures become HTTP answers, in the standard envelope (DESIGN §6)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from genq.domain.errors import (
    GenqError,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
)

log = logging.getLogger("genq.api")


def envelope(error: GenqError) -> dict[str, Any]:
    """``{error, message, code, timestamp, details?}`` for an error."""
    body: dict[str, Any] = {
        "error": error.title,
        "message": error.message,
        "code": error.code,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    if error.details is not None:
        body["details"] = error.details
    return body


def error_response(error: GenqError) -> Response:
    """The HTTP response for an error."""
    headers = dict(error.headers)
    if error.status == 503:
        headers.setdefault("Retry-After", "1")
    if error.status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return Response(
        orjson.dumps(envelope(error)),
        status_code=error.status,
        media_type="application/json",
        headers=headers,
    )


def validation_error(exc: RequestValidationError) -> InvalidRequest:
    """A 400 naming each bad field; a body that is not JSON says so."""
    fields = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return InvalidRequest(
                "the request body is not valid JSON",
                {"reason": str(err.get("ctx", {}).get("error", "malformed JSON"))},
            )
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header"):
            where, loc = loc[0], loc[1:]
        else:
            where = "body"
        fields.append(
            {"field": ".".join(loc) or where, "in": where, "message": err.get("msg", "invalid")}
        )
    names = ", ".join(f["field"] for f in fields)
    return InvalidRequest(f"invalid request: {names}", {"fields": fields})


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the envelope."""

    @app.exception_handler(GenqError)
    async def _genq(_request: Request, exc: GenqError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        return error_response(validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(NotFound(f"no route for {request.method} {request.url.path}"))
        if exc.status_code == 405:
            return error_response(MethodNotAllowed(f"{request.method} is not allowed here"))
        if exc.status_code == 413:
            return error_response(PayloadTooLarge())
        if exc.status_code == 400:
            return error_response(InvalidRequest(str(exc.detail)))
        return error_response(InternalError())

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(InternalError())
