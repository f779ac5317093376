"""``POST /loki/api/v1/push`` and the legacy ``POST /api/prom/push``.

204 with an empty body on success; 400 listing dropped entries on partial acceptance (the good
ones are written); 413 for oversized bodies; 429 for rate limits; 5xx only for transient
server-side failures, so promtail retries exactly when it should.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from lokipy.api.errors import valid_utf8
from lokipy.api.state import AppState
from lokipy.api.tenant import tenant_of
from lokipy.model.errors import RequestTooLarge

router = APIRouter()


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing (413) before reading more than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"request body too large: {declared} bytes, limit: {limit} bytes")
    chunks = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise RequestTooLarge(f"request body too large: more than {limit} bytes")
        chunks.append(part)
    return b"".join(chunks)


PushHandler = Callable[[Request, bytes, str, bool], Awaitable[Response]]
"""Takes (request, body, tenant, legacy) once the body is read and the tenant known."""


def add_push_routes(router: APIRouter, handle: PushHandler) -> None:
    """Loki's two push routes on ``router``: the v1 path and the legacy ``/api/prom/push``
    (v0 JSON shape), both reading the body under the server's size limit and resolving the
    tenant before ``handle`` (the store here, the counting sink in sink mode)."""

    async def push(request: Request, legacy: bool) -> Response:
        state: AppState = request.app.state.lokipy
        tenant = tenant_of(request, state.config.server.auth_enabled)
        body = await read_body(request, state.config.server.max_recv_msg_size)
        return await handle(request, body, tenant, legacy)

    @router.post("/loki/api/v1/push")
    async def push_v1(request: Request) -> Response:
        return await push(request, legacy=False)

    @router.post("/api/prom/push")
    async def push_legacy(request: Request) -> Response:
        return await push(request, legacy=True)


# Pushes run here, off the event loop. A pool of our own rather than Starlette's
# run_in_threadpool: anyio's hand-off measured ~0.5 ms more per push (loopback, bench bodies).
# Pushes serialise on the store's lock, so a few threads are plenty.
_PUSH_THREADS = 4
_push_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _push_pool
    if _push_pool is None:
        _push_pool = ThreadPoolExecutor(_PUSH_THREADS, thread_name_prefix="lokipy-push")
    return _push_pool


async def _store_push(request: Request, body: bytes, tenant: str, legacy: bool) -> Response:
    state: AppState = request.app.state.lokipy
    content_type = request.headers.get("content-type")
    content_encoding = request.headers.get("content-encoding")
    result = await asyncio.get_running_loop().run_in_executor(
        _executor(),
        lambda: state.logstore.push_body(body, content_type, content_encoding, tenant=tenant, legacy=legacy),
    )
    if result.errors:
        status = 429 if result.rate_limited else 400
        return PlainTextResponse(valid_utf8(result.message) + "\n", status_code=status)
    return Response(status_code=204)


add_push_routes(router, _store_push)
