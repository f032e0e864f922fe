"""The plugin itself: registered by the package, free when unused, beside pytest-celery, under xdist."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest

from tests.testing_kit.conftest import INNER_ARGS, outcomes


def test_installing_the_package_registers_the_plugin_sendx() -> None:
    found = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    assert found.get("sendx") == "sendx_worker.testing.plugin"


def test_loading_the_plugin_imports_neither_celery_nor_the_emulator() -> None:
    code = (
        "import sys, sendx_worker.testing.plugin\n"
        "heavy = ('celery', 'kombu', 'requests', 'marshmallow', 'sendx_worker.emulator', 'sendx_worker.producer')\n"
        "print(sorted(name for name in sys.modules if name.startswith(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_the_plugin_can_be_switched_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        def test_uses_the_recorder(sendx_recorder):
            pass
        """
    )
    result = pytester.runpytest(*INNER_ARGS, "-p", "no:sendx")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'sendx_recorder' not found*"])


def test_it_coexists_with_pytest_celery_and_celerys_own_fixtures(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_celery")
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def celery_config():
            return {"broker_url": "memory://", "result_backend": "cache+memory://"}
        """
    )
    pytester.makepyfile(
        test_user="""
        from sendx_worker import identify

        def test_celerys_in_process_app_and_ours_side_by_side(request, celery_app, sendx_worker, sendx_emulator):
            plugins = request.config.pluginmanager
            assert plugins.get_plugin("celery").__name__ == "pytest_celery.plugin"
            assert plugins.get_plugin("sendx").__name__ == "sendx_worker.testing.plugin"

            @celery_app.task
            def on_signup(email):  # the app's own task, calling identify()
                identify(email, first_name="Ada")

            on_signup.apply(args=("ada@example.com",))
            sendx_worker.drain()
            assert sendx_emulator.contact("ada@example.com")["firstName"] == "Ada"


        def test_a_later_worker_still_runs_our_tasks(sendx_worker, sendx_emulator):
            # Celery's celery_app fixture forgot the shared tasks first imported under it.
            identify("bob@example.com", first_name="Bob")
            sendx_worker.drain()
            assert sendx_emulator.contact("bob@example.com")["firstName"] == "Bob"
        """
    )
    # In a process of its own, so that our tasks are first imported under celery_app, as in
    # a user's run whose first test uses both.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=240)
    result.assert_outcomes(passed=2)
    fixtures = pytester.runpytest(*INNER_ARGS, "--fixtures")
    # pytest-celery's Docker fixtures and Celery's in-process ones, and ours: no name shared.
    fixtures.stdout.fnmatch_lines(["*celery_worker*", "*sendx_recorder*", "*sendx_worker*"])


def test_it_works_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    tests = "\n".join(
        f"""
def test_worker_{n}(sendx_worker, sendx_emulator, sendx_recorder):
    identify("user{n}@example.com", first_name="U{n}", tags=["Developer"])
    sendx_worker.drain()
    sendx_recorder.assert_identified("user{n}@example.com", tags=["Developer"])
    assert sorted(sendx_emulator.contacts) == ["user{n}@example.com"]
"""
        for n in range(6)
    )
    pytester.makepyfile(test_user="from sendx_worker import identify\n" + tests)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", timeout=240)
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*2 workers*"])


def test_inner_runs_report_each_outcome(pytester: pytest.Pytester) -> None:
    # The helpers the other tests read failures with see passes, failures and set-up errors.
    pytester.makepyfile(
        test_user="""
        import pytest

        @pytest.fixture
        def broken():
            raise RuntimeError("no")

        def test_ok(): pass
        def test_bad(): assert False
        def test_error(broken): pass
        """
    )
    found = outcomes(pytester.inline_run(*INNER_ARGS))
    assert found == {"test_ok": "passed", "test_bad": "failed", "test_error": "failed"}
