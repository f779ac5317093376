"""Every wire test runs twice: with the C column decoders and with the Python decoders alone.

The C decoders take only plain bodies and hand the rest to Python, so both runs must give the
same results, errors included. ``test_native_columns.py`` compares the two directly, so it
runs once (``COMPARES_DECODERS``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lokipy.wire import native

BUILT = native.columns


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if not getattr(metafunc.module, "COMPARES_DECODERS", False):
        metafunc.parametrize("push_decoder", ["c", "python"], indirect=True, scope="module")


@pytest.fixture(scope="module", autouse=True)
def push_decoder(request: pytest.FixtureRequest) -> Iterator[str | None]:
    which = getattr(request, "param", None)
    if which is None:
        yield None
        return
    if which == "c" and BUILT is None:
        pytest.skip("lokipy was installed without its C decoder (test_native_columns checks when it must be)")
    saved = native.columns
    native.columns = BUILT if which == "c" else None
    try:
        yield which
    finally:
        native.columns = saved
