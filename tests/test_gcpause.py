"""The push path pauses the cyclic GC and always gives it back as it found it."""

from __future__ import annotations

import gc
import threading
import time

import pytest

from lokipy.gcpause import gc_paused
from lokipy.logstore import LogStore
from lokipy.model.errors import InvalidInput


@pytest.fixture(autouse=True)
def _gc_restored():
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_paused_inside_and_enabled_after():
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause is still on
    assert gc.isenabled()


def test_never_enables_a_collector_someone_else_disabled():
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_threads_share_one_pause():
    gc.enable()
    inside = threading.Barrier(2)
    leave_first = threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with gc_paused():
            inside.wait()
            leave_first.wait()
        seen.append(gc.isenabled())  # the second thread is still inside

    def second() -> None:
        with gc_paused():
            inside.wait()
            leave_first.set()
            while len(seen) == 0:
                pass
            seen.append(gc.isenabled())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == [False, False]
    assert gc.isenabled()


def test_push_body_restores_the_collector_after_success_and_error():
    gc.enable()
    store = LogStore()
    body = b'{"streams":[{"stream":{"job":"a"},"values":[["%d","x"]]}]}' % time.time_ns()
    assert store.push_body(body, "application/json").accepted == 1
    assert gc.isenabled()
    with pytest.raises(InvalidInput):
        store.push_body(b"{not json", "application/json")
    assert gc.isenabled()
