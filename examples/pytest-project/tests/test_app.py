"""The fixtures come from the installed lokipy (pytest11 entry point): no conftest.py here."""

from __future__ import annotations

import inventory
import pytest


@pytest.fixture
def logs(lokipy_server):
    handler = inventory.ship_logs_to(lokipy_server.url, tenant=lokipy_server.tenant)
    yield lokipy_server
    inventory.log.removeHandler(handler)
    handler.close()


def test_reservations_are_logged(logs):
    inv = inventory.Inventory()
    inv.add("apple", 3)
    assert inv.reserve("apple", 2)
    assert not inv.reserve("apple", 5)
    logs.assert_logged(
        '{app="inventory", level="INFO"}', "reserved 2 of apple", metadata={"sku": "apple"}, timeout=10
    )
    (warning,) = logs.assert_logged(
        '{app="inventory", level="WARNING"}', "cannot reserve", count=1, timeout=10
    )
    assert warning.line == "cannot reserve 5 of apple: 1 in stock"


def test_each_test_has_its_own_tenant(logs):
    assert logs.query('{app="inventory"}').count == 0


def test_in_process_store(lokipy_store):
    lokipy_store.push({"app": "inventory", "level": "INFO"}, ["imported 10 rows"])
    assert lokipy_store.lines('{app="inventory"}') == ["imported 10 rows"]
    with pytest.raises(AssertionError, match="imported 10 rows"):
        lokipy_store.assert_logged('{app="inventory"}', "exported")


def test_server_of_its_own(lokipy_server_fn):
    handler = inventory.ship_logs_to(lokipy_server_fn.url)  # no tenant: Loki's "fake"
    try:
        inventory.Inventory().add("pear", 1)
        lokipy_server_fn.wait_for('{app="inventory"}', count=1, timeout=10)
    finally:
        inventory.log.removeHandler(handler)
        handler.close()
