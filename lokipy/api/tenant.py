"""Tenant resolution from ``X-Scope-OrgID`` (dskit's rules)."""

from __future__ import annotations

import re

from starlette.requests import Request

from lokipy.model.errors import InvalidInput, Unauthorized

DEFAULT_TENANT = "fake"
_VALID = re.compile(r"[A-Za-z0-9!\-_.*'()]{1,150}\Z")


def tenant_of(request: Request, auth_enabled: bool, *, multi: bool = False) -> str:
    """The request's tenant. Without auth a missing header means ``fake``."""
    raw = request.headers.get("x-scope-orgid")
    if not raw:
        if auth_enabled:
            raise Unauthorized("no org id")
        return DEFAULT_TENANT
    tenants = raw.split("|") if multi else [raw]
    for t in tenants:
        if not _VALID.match(t) or t in (".", ".."):
            raise InvalidInput(f"tenant ID '{t}' is not valid")
    if len(tenants) > 1:
        raise InvalidInput("multi-tenant queries are not supported by lokipy")
    return tenants[0]
