"""The lokipy error tree.

Errors are grouped by what the caller can do about them; the web layer maps each class to a
status code once (``lokipy/api/errors.py``). Messages use Loki's wording where Loki has one,
because clients (promtail, Grafana, logcli) show them to users verbatim.
"""

from __future__ import annotations


class LokipyError(Exception):
    """Root of every error lokipy raises on purpose."""


class InvalidInput(LokipyError, ValueError):
    """The request or argument is wrong and retrying it unchanged cannot help (HTTP 400)."""


class InvalidLabels(InvalidInput):
    """A label set could not be parsed or failed validation."""


class RequestTooLarge(InvalidInput):
    """A body or decompressed body is over the configured size (HTTP 413)."""


class NoStreams(InvalidInput):
    """A push with no streams at all (Loki answers 422)."""


class LimitExceeded(LokipyError):
    """A tenant limit was hit. ``retryable`` limits (rates) are 429, the others 400."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class NotFound(LokipyError, LookupError):
    """The thing asked for does not exist (HTTP 404)."""


class Unauthorized(LokipyError):
    """A tenant is required and was not given (HTTP 401, Loki's ``no org id``)."""


class StorageUnavailable(LokipyError):
    """A transient server-side failure: disk full, WAL write failed, store closed (HTTP 5xx).

    Never a 4xx: promtail drops a batch on 4xx but retries on 5xx.
    """


class CorruptData(LokipyError):
    """Bytes on disk or in a block failed their checksum or could not be decoded.

    Names where: the file path (if any) and the byte offset, so an operator can find it.
    """

    def __init__(self, message: str, *, path: str | None = None, offset: int | None = None):
        where = []
        if path is not None:
            where.append(path)
        if offset is not None:
            where.append(f"offset {offset}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)
        self.path = path
        self.offset = offset


class QueryTimeout(LokipyError):
    """A query ran past its timeout (HTTP 504)."""


class LogQLParseError(InvalidInput):
    """A LogQL query failed to parse or validate.

    ``line``/``col`` are 1-based; both are 0 for semantic errors without a position, which Loki
    prints as ``parse error : <msg>``.
    """

    def __init__(self, msg: str, line: int = 0, col: int = 0, query: str = "") -> None:
        self.msg = msg
        self.line = line
        self.col = col
        self.query = query
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.line == 0 and self.col == 0:
            return f"parse error : {self.msg}"
        return f"parse error at line {self.line}, col {self.col}: {self.msg}"


class LogQLEvalError(InvalidInput):
    """A well-formed query that cannot be evaluated (pipeline errors, bad templates, limits)."""
