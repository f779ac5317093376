"""JSON bodies in Loki's exact shapes (``docs/api.md``): envelopes, streams, stats."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

JSON_TYPE = "application/json; charset=UTF-8"


class LokiJSON(Response):
    media_type = JSON_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def success(data: Any) -> LokiJSON:
    return LokiJSON({"status": "success", "data": data})


def line_text(line: bytes) -> str:
    """Go's JSON encoder replaces invalid UTF-8 with U+FFFD; so do we."""
    return line.decode("utf-8", "replace")
