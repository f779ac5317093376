"""One table from error class to HTTP status; routes raise, they never build error bodies.

Loki answers errors as plain text (``text/plain; charset=utf-8``); push errors end in ``\\n``.
A transient server-side failure is a 5xx, never a 4xx: promtail drops a batch on 4xx.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import PlainTextResponse, Response

from lokipy.model.errors import (
    InvalidInput,
    LimitExceeded,
    LokipyError,
    NoStreams,
    NotFound,
    QueryTimeout,
    RequestTooLarge,
    StorageUnavailable,
    Unauthorized,
)

log = logging.getLogger(__name__)

TIMEOUT_MESSAGE = (
    "request timed out, decrease the duration of the request or add more label matchers "
    "(prefer exact match over regex match) to reduce the amount of data processed"
)


def status_for(err: Exception) -> int:
    if isinstance(err, RequestTooLarge):
        return 413
    if isinstance(err, NoStreams):
        return 422
    if isinstance(err, InvalidInput):
        return 400
    if isinstance(err, LimitExceeded):
        return 429 if err.retryable else 400
    if isinstance(err, Unauthorized):
        return 401
    if isinstance(err, NotFound):
        return 404
    if isinstance(err, QueryTimeout):
        return 504
    if isinstance(err, StorageUnavailable):
        return 503
    return 500


def valid_utf8(text: str) -> str:
    """Messages quote user input, which may hold raw bytes (surrogates); Go writes U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def error_response(err: Exception, *, newline: bool = False) -> Response:
    status = status_for(err)
    text = valid_utf8(TIMEOUT_MESSAGE if isinstance(err, QueryTimeout) else str(err))
    if status >= 500:
        log.warning("answering %d: %s", status, text)
    return PlainTextResponse(text + ("\n" if newline else ""), status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(LokipyError)
    async def _lokipy_error(request: Request, err: LokipyError) -> Response:
        return error_response(err, newline=request.url.path.endswith("/push"))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, err: RequestValidationError) -> Response:
        return PlainTextResponse(f"invalid request: {err.errors()}", status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, err: StarletteHTTPException) -> Response:
        if err.status_code == 404:  # Go's net/http wording, which clients probing for features see
            return PlainTextResponse("404 page not found\n", status_code=404)
        return PlainTextResponse(str(err.detail), status_code=err.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, err: Exception) -> Response:
        log.exception("unexpected error serving %s", request.url.path)
        return PlainTextResponse(f"internal server error: {err}", status_code=500)
