"""What the pytest fixtures hand a test: push, query, wait, and assertions that show the store.

:class:`LokiTestClient` holds everything both fixture flavours share; a subclass supplies four
primitives (push a request, range query, instant query, list streams), in process
(:class:`lokipy.testing.clients.StoreClient`) or over HTTP
(:class:`lokipy.testing.clients.HTTPClient`). Queries are full LogQL whenever the store's
engine is: nothing here parses LogQL; line filters in ``assert_logged`` run on the results.

Defaults suit tests rather than dashboards: queries cover the last 30 days up to now (everything
Loki accepts with its default limits), oldest entry first, up to 5000 entries; the default step
divides that window exactly, so a metric range query's last point is now.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lokipy.model.entry import PushRequest, PushStream
from lokipy.model.labels import Labels
from lokipy.model.regex import compile_regex
from lokipy.testing.results import LogEntry, QueryResult

if TYPE_CHECKING:
    from lokipy.handler import LokiHandler

NS = 10**9
DEFAULT_LOOKBACK_NS = 720 * 3600 * NS  # Loki's max_query_length is 721h
# Just past "now": the last point of a default metric range query is then (almost) now, so
# `count_over_time(...[1m])` sees what was just pushed. Entries stamped ahead of the clock
# (Loki accepts up to 10 minutes) need an explicit ``end``.
DEFAULT_LOOKAHEAD_NS = NS
DEFAULT_LIMIT = 5000  # Loki's max_entries_limit_per_query
DUMP_STREAMS = 20
DUMP_LINES = 20

EntryInput = str | bytes | tuple[int, str | bytes] | tuple[int, str | bytes, Mapping[str, str]]


class PushRejected(AssertionError):
    """The store refused some or all pushed entries; the message is Loki's."""


class LokiQueryError(AssertionError):
    """A query failed (bad LogQL, bad parameters); the message is the server's."""


def default_step_ns(start: int, end: int) -> int:
    """Loki's default range-query step: ``max(floor(range_seconds / 250), 1)`` seconds."""
    return max((end - start) // NS // 250, 1) * NS


class LokiTestClient:
    """Push, query and assert against one tenant of a lokipy store."""

    tenant: str

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self._last_ts = 0
        self._handlers: list[LokiHandler] = []

    # --- what a subclass provides -------------------------------------------------------------

    @property
    def url(self) -> str:
        raise NotImplementedError

    def _push_request(self, req: PushRequest, tenant: str) -> None:
        raise NotImplementedError

    def _range_data(
        self, query: str, start: int, end: int, step: int, limit: int, direction: str, tenant: str
    ) -> Mapping[str, Any]:
        raise NotImplementedError

    def _instant_data(
        self, query: str, ts: int, limit: int, direction: str, tenant: str
    ) -> Mapping[str, Any]:
        raise NotImplementedError

    def _series(self, start: int, end: int, tenant: str) -> list[dict[str, str]]:
        raise NotImplementedError

    # --- addresses for the application under test ---------------------------------------------

    @property
    def push_url(self) -> str:
        return self.url + "/loki/api/v1/push"

    @property
    def headers(self) -> dict[str, str]:
        """Headers an HTTP client must send to land in this test's tenant."""
        return {"X-Scope-OrgID": self.tenant}

    def handler(self, labels: Mapping[str, str] | None = None, **kwargs: Any) -> LokiHandler:
        """A :class:`lokipy.handler.LokiHandler` pushing to this tenant; closed at teardown,
        flushed before every query so assertions see what was logged."""
        from lokipy.handler import LokiHandler

        kwargs.setdefault("tenant", self.tenant)
        kwargs.setdefault("flush_interval", 0.05)
        h = LokiHandler(self.url, labels, **kwargs)
        self._handlers.append(h)
        return h

    def close(self) -> None:
        for h in self._handlers:
            h.close()
        self._handlers.clear()

    # --- writing --------------------------------------------------------------------------------

    def push(
        self, labels: str | Mapping[str, str], entries: Iterable[EntryInput], *, tenant: str | None = None
    ) -> int:
        """Push entries of one stream; returns how many were sent.

        An entry is a line (``str``/``bytes``, stamped with the current time, strictly
        increasing within this client), ``(ts_ns, line)`` or ``(ts_ns, line, metadata)``.
        Raises :class:`PushRejected` with Loki's message when anything was refused.
        """
        stream = PushStream(labels if isinstance(labels, str) else Labels.from_map(labels))
        metadata = []
        for e in entries:
            if isinstance(e, str | bytes):
                ts, line, md = self._next_ts(), e, None
            else:
                ts, line = int(e[0]), e[1]
                md = e[2] if len(e) > 2 else None  # type: ignore[misc]
            stream.timestamps.append(ts)
            stream.lines.append(
                line.encode("utf-8", "surrogateescape") if isinstance(line, str) else bytes(line)
            )
            metadata.append(tuple(sorted(md.items())) if md else ())
        if any(metadata):
            stream.metadata = metadata
        self._push_request(PushRequest([stream]), tenant or self.tenant)
        return len(stream.timestamps)

    def _next_ts(self) -> int:
        self._last_ts = max(time.time_ns(), self._last_ts + 1)
        return self._last_ts

    # --- reading --------------------------------------------------------------------------------

    def flush_handlers(self) -> None:
        for h in self._handlers:
            h.flush()

    def query(
        self,
        logql: str,
        *,
        start: int | None = None,
        end: int | None = None,
        step: int | None = None,
        limit: int = DEFAULT_LIMIT,
        direction: str = "forward",
        tenant: str | None = None,
    ) -> QueryResult:
        """A range query (``/loki/api/v1/query_range``); times are unix ns."""
        from lokipy.testing.results import parse_data

        self.flush_handlers()
        end = time.time_ns() + DEFAULT_LOOKAHEAD_NS if end is None else end
        start = end - DEFAULT_LOOKBACK_NS if start is None else start
        step = default_step_ns(start, end) if step is None else step
        data = self._range_data(logql, start, end, step, limit, direction, tenant or self.tenant)
        return parse_data(data, direction)

    def query_instant(
        self,
        logql: str,
        *,
        time_ns: int | None = None,
        limit: int = DEFAULT_LIMIT,
        direction: str = "backward",
        tenant: str | None = None,
    ) -> QueryResult:
        """An instant query (``/loki/api/v1/query``): metric queries only, as in Loki."""
        from lokipy.testing.results import parse_data

        self.flush_handlers()
        ts = time.time_ns() if time_ns is None else time_ns
        return parse_data(self._instant_data(logql, ts, limit, direction, tenant or self.tenant), direction)

    def lines(self, logql: str, **kwargs: Any) -> list[str]:
        return self.query(logql, **kwargs).lines

    def streams(self, *, tenant: str | None = None) -> list[dict[str, str]]:
        """Label sets of every stream of the tenant in the default query window."""
        end = time.time_ns() + DEFAULT_LOOKAHEAD_NS
        self.flush_handlers()
        return self._series(end - DEFAULT_LOOKBACK_NS, end, tenant or self.tenant)

    def wait_for(
        self,
        query: str,
        count: int = 1,
        timeout: float = 5.0,
        *,
        until: Callable[[QueryResult], bool] | None = None,
        instant: bool = False,
        interval: float = 0.02,
        **kwargs: Any,
    ) -> QueryResult:
        """Poll ``query`` until it has at least ``count`` results (entries of a log query,
        series of a metric query) or ``until(result)`` is true; AssertionError on timeout.
        ``instant=True`` polls an instant query (metric queries), else a range query."""
        deadline = time.monotonic() + timeout
        run = self.query_instant if instant else self.query
        while True:
            result = run(query, **kwargs)
            ok = until(result) if until is not None else result.count >= count
            if ok:
                return result
            if time.monotonic() >= deadline:
                want = "the condition" if until is not None else f"{count} result(s)"
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {want} from {query}; got {result.count}.\n"
                    + self.describe(tenant=kwargs.get("tenant"))
                )
            time.sleep(interval)

    # --- assertions -----------------------------------------------------------------------------

    def assert_logged(
        self,
        selector: str,
        contains: str | Sequence[str] | None = None,
        *,
        regex: str | None = None,
        metadata: Mapping[str, str] | None = None,
        count: int | None = None,
        timeout: float = 0.0,
        tenant: str | None = None,
    ) -> list[LogEntry]:
        """Assert that entries matching ``selector`` (any LogQL log query) and the filters
        exist: at least one, or exactly ``count``. ``contains`` substrings must all be in the
        line; ``regex`` (RE2) must match somewhere in it; ``metadata`` must be a subset of the
        entry's structured metadata. Polls up to ``timeout`` seconds. Returns the matches."""
        deadline = time.monotonic() + timeout
        while True:
            found = self._matching(selector, contains, regex, metadata, tenant)
            ok = len(found) >= 1 if count is None else len(found) == count
            if ok or time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        if not ok:
            want = (
                "at least 1 entry" if count is None else f"exactly {count} entr{'y' if count == 1 else 'ies'}"
            )
            raise AssertionError(
                f"expected {want} matching {self._what(selector, contains, regex, metadata)}, found {len(found)}"
                + "".join(f"\n  {e}" for e in found[:DUMP_LINES])
                + "\n"
                + self.describe(tenant=tenant)
            )
        return found

    def assert_not_logged(
        self,
        selector: str,
        contains: str | Sequence[str] | None = None,
        *,
        regex: str | None = None,
        metadata: Mapping[str, str] | None = None,
        tenant: str | None = None,
    ) -> None:
        found = self._matching(selector, contains, regex, metadata, tenant)
        if found:
            raise AssertionError(
                f"expected no entry matching {self._what(selector, contains, regex, metadata)}, found {len(found)}"
                + "".join(f"\n  {e}" for e in found[:DUMP_LINES])
            )

    def _matching(
        self,
        selector: str,
        contains: str | Sequence[str] | None,
        regex: str | None,
        metadata: Mapping[str, str] | None,
        tenant: str | None,
    ) -> list[LogEntry]:
        needles = [contains] if isinstance(contains, str) else list(contains or ())
        pattern = compile_regex(regex) if regex is not None else None
        out = []
        for e in self.query(selector, tenant=tenant).entries:
            if any(n not in e.line for n in needles):
                continue
            if pattern is not None and pattern.search(e.line) is None:
                continue
            if metadata and any(e.metadata.get(k) != v for k, v in metadata.items()):
                continue
            out.append(e)
        return out

    @staticmethod
    def _what(selector: str, contains: Any, regex: str | None, metadata: Mapping[str, str] | None) -> str:
        parts = [selector]
        if contains:
            parts.append(f"containing {contains!r}")
        if regex is not None:
            parts.append(f"matching regex {regex!r}")
        if metadata:
            parts.append(f"with metadata {dict(metadata)}")
        return " ".join(parts)

    def describe(
        self, *, tenant: str | None = None, max_streams: int = DUMP_STREAMS, max_lines: int = DUMP_LINES
    ) -> str:
        """What the tenant holds: each stream's labels and its newest lines (for failures)."""
        tenant = tenant or self.tenant
        try:
            streams = sorted(self.streams(tenant=tenant), key=lambda d: str(Labels.from_map(d)))
        except Exception as err:  # a description must never hide the real failure
            return f"(could not list what tenant {tenant!r} holds: {err})"
        if not streams:
            return f"tenant {tenant!r} holds no streams."
        out = [f"tenant {tenant!r} holds {len(streams)} stream(s):"]
        for labels in streams[:max_streams]:
            sel = str(Labels.from_map(labels))
            try:
                res = self.query(sel, limit=max_lines, direction="backward", tenant=tenant)
                entries = list(reversed(res.entries))  # newest N, shown oldest first
            except Exception as err:
                out.append(f"  {sel}: (query failed: {err})")
                continue
            more = " (newest shown)" if len(entries) >= max_lines else ""
            out.append(f"  {sel}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}{more}")
            out.extend(f"    {e}" for e in entries)
        if len(streams) > max_streams:
            out.append(f"  ... and {len(streams) - max_streams} more stream(s)")
        return "\n".join(out)
