"""The plugin seen from a user's suite: inner pytest runs (pytester), in process where they can
be (fast), in fresh processes for pytest-xdist."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.testing.conftest import PLUGIN_ARGS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # Prepend: whatever made the outer run see an installed plugin must reach inner runs too.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    return pytester


def test_each_test_gets_its_own_tenant_on_one_server(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_isolation="""
        URLS = set()

        def test_first(lokipy_server):
            URLS.add(lokipy_server.url)
            lokipy_server.push({"app": "a"}, ["from the first test"])
            lokipy_server.assert_logged('{app="a"}', count=1)

        def test_second_sees_nothing_of_the_first(lokipy_server):
            URLS.add(lokipy_server.url)
            assert lokipy_server.query('{app="a"}').count == 0
            assert lokipy_server.streams() == []

        def test_same_server(lokipy_server):
            URLS.add(lokipy_server.url)
            assert len(URLS) == 1

        def test_store_is_fresh_each_time(lokipy_store):
            assert lokipy_store.streams() == []
            lokipy_store.push({"app": "s"}, ["x"])

        def test_store_is_fresh_again(lokipy_store):
            assert lokipy_store.streams() == []
        """
    )
    result = suite.runpytest_inprocess(*PLUGIN_ARGS, "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


def test_failure_report_shows_what_was_stored(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_fail="""
        def test_missing_line(lokipy_store):
            lokipy_store.push({"app": "billing"}, ["invoice 7 created", "invoice 7 emailed"])
            lokipy_store.assert_logged('{app="billing"}', "invoice 7 paid")
        """
    )
    result = suite.runpytest_inprocess(*PLUGIN_ARGS, "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*expected at least 1 entry matching {app=\"billing\"} containing 'invoice 7 paid', found 0*",
            "*tenant 'fake' holds 1 stream(s):*",
            '*{app="billing", service_name="billing"}: 2 entries*',
            "*invoice 7 created*",
            "*invoice 7 emailed*",
        ]
    )


def test_any_failing_test_shows_the_store_in_its_report(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_plain_assert="""
        def test_plain_assert(lokipy_server):
            lokipy_server.push({"app": "cart"}, ["item added sku=42"])
            assert 1 + 1 == 3

        def test_passes(lokipy_server):
            lokipy_server.push({"app": "cart"}, ["fine"])
        """
    )
    result = suite.runpytest_inprocess(*PLUGIN_ARGS, "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*- lokipy: lokipy_server -*",
            "tenant 't*-test_plain_assert' holds 1 stream(s):",
            '*{app="cart", service_name="cart"}: 1 entry*',
            "*item added sku=42*",
        ]
    )
    assert "fine" not in result.stdout.str()


def test_lokipy_config_can_be_overridden_in_a_conftest(suite: pytest.Pytester) -> None:
    suite.makeconftest(
        """
        import pytest
        from lokipy.config import Config

        @pytest.fixture(scope="session")
        def lokipy_config():
            return Config().with_limits(discover_service_name=(), discover_log_levels=False)
        """
    )
    suite.makepyfile(
        test_cfg="""
        def test_plain_labels(lokipy_store, lokipy_server):
            for loki in (lokipy_store, lokipy_server):
                loki.push({"app": "x"}, ["error: boom"])
                (entry,) = loki.query('{app="x"}').entries
                assert dict(entry.labels) == {"app": "x"}
                assert dict(entry.metadata) == {}
        """
    )
    result = suite.runpytest_inprocess(*PLUGIN_ARGS, "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


@pytest.mark.slow
def test_each_xdist_worker_runs_its_own_server(suite: pytest.Pytester, tmp_path: Path) -> None:
    pytest.importorskip("xdist")
    out = tmp_path / "urls"
    out.mkdir()
    suite.makepyfile(
        test_workers=f"""
        import os, pathlib, time
        import pytest

        @pytest.mark.parametrize("i", range(8))
        def test_record(lokipy_server, i):
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            pathlib.Path({str(out)!r}, f"{{worker}}-{{i}}").write_text(lokipy_server.url)
            lokipy_server.push({{"app": "w"}}, [f"line {{i}}"])
            assert lokipy_server.lines('{{app="w"}}') == [f"line {{i}}"]
            time.sleep(0.05)
        """
    )
    result = suite.runpytest_subprocess(*PLUGIN_ARGS, "-q", "-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=8)
    by_worker: dict[str, set[str]] = {}
    for f in out.iterdir():
        by_worker.setdefault(f.name.split("-")[0], set()).add(f.read_text())
    assert sorted(by_worker) == ["gw0", "gw1"], by_worker
    assert all(len(urls) == 1 for urls in by_worker.values()), by_worker
    assert by_worker["gw0"] != by_worker["gw1"]


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    """Installed, the plugin loads in every pytest session of the environment: it must not
    import the store or the web framework until a fixture is used."""
    import subprocess
    import sys

    code = (
        "import sys, lokipy.testing.plugin, lokipy.testing; "
        "heavy = [m for m in ('lokipy.logstore', 'lokipy.store.store', 'fastapi', 'uvicorn') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"
