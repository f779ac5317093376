"""The lokipy pytest plugin (entry point ``pytest11``): ``pip install lokipy`` is all it takes.

Fixtures:

``lokipy_store`` (function)
    A fresh in-memory :class:`~lokipy.logstore.LogStore` behind a
    :class:`~lokipy.testing.clients.StoreClient`: milliseconds to create, nothing shared.
    ``.url`` starts an HTTP server on it the first time it is read.
``lokipy_server`` (function, over one server per session)
    A real HTTP server on 127.0.0.1:<ephemeral>, started once per session (once per worker
    under pytest-xdist), seen through a client whose tenant (``X-Scope-OrgID``) is unique to
    the test: tests never see each other's logs. The server is multi-tenant (Loki's
    ``auth_enabled: true``): the code under test must send ``lokipy_server.headers`` (or pass
    ``tenant=lokipy_server.tenant`` to the handler); a request without it gets 401 ``no org id``.
``lokipy_server_fn`` (function)
    A server of the test's own, default tenant ``fake`` (what Loki uses when no
    ``X-Scope-OrgID`` is sent): for code that cannot set a tenant.
``lokipy_server_session`` (session)
    The shared :class:`~lokipy.testing.clients.LokipyServer` itself, for session-scoped
    fixtures of your own.
``lokipy_config`` (session)
    The :class:`~lokipy.config.Config` every fixture uses: Loki's defaults. Override it in a
    ``conftest.py`` to change limits, e.g. ``Config().with_limits(discover_service_name=())``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from lokipy.config import Config
    from lokipy.testing.clients import HTTPClient, LokipyServer, StoreClient

# lokipy itself is imported inside the fixtures: this module is loaded by every pytest session
# of an environment where lokipy is installed, used or not, and must cost next to nothing.

_TENANT_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_counter = itertools.count(1)


def tenant_for(node: pytest.Item | None) -> str:
    """A valid, unique, readable tenant ID for a test: ``t<n>-<test name>``."""
    name = getattr(node, "name", "test")
    slug = _TENANT_UNSAFE.sub("_", name).strip("_") or "test"
    return f"t{next(_counter)}-{slug}"[:150]


@pytest.fixture(scope="session")
def lokipy_config() -> Config:
    from lokipy.config import Config

    return Config()


@pytest.fixture
def lokipy_store(lokipy_config: Config) -> Iterator[StoreClient]:
    from lokipy.logstore import LogStore
    from lokipy.testing.clients import StoreClient

    store = LogStore(config=lokipy_config)
    client = StoreClient(store)
    try:
        yield client
    finally:
        client.close()
        store.close()


@pytest.fixture(scope="session")
def lokipy_server_session(lokipy_config: Config) -> Iterator[LokipyServer]:
    # Session scope is per process, so each pytest-xdist worker gets its own server and port.
    # Multi-tenant, as Loki with auth_enabled: the X-Scope-OrgID header is what isolates tests
    # (a single-tenant Loki would file everything under "fake", whatever the header says).
    from lokipy.testing.clients import LokipyServer

    config = replace(lokipy_config, server=replace(lokipy_config.server, auth_enabled=True))
    server = LokipyServer(config).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def lokipy_server(
    lokipy_server_session: LokipyServer, request: pytest.FixtureRequest
) -> Iterator[HTTPClient]:
    from lokipy.testing.clients import HTTPClient

    client = HTTPClient(lokipy_server_session.url, tenant_for(request.node))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def lokipy_server_fn(lokipy_config: Config) -> Iterator[HTTPClient]:
    from lokipy.testing.clients import HTTPClient, LokipyServer

    server = LokipyServer(lokipy_config).start()
    client = HTTPClient(server.url, "fake")
    try:
        yield client
    finally:
        client.close()
        server.stop()


_CLIENT_FIXTURES = ("lokipy_store", "lokipy_server", "lokipy_server_fn")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """A failing test that used a lokipy fixture gets a report section with what the store
    held when it failed, whatever assertion failed (the fixtures are still up at this point)."""
    rep: pytest.TestReport = yield
    if rep.when == "call" and rep.failed:
        funcargs = getattr(item, "funcargs", {})
        for name in _CLIENT_FIXTURES:
            client = funcargs.get(name)
            if client is not None and hasattr(client, "describe"):
                rep.sections.append((f"lokipy: {name}", client.describe()))
    return rep
