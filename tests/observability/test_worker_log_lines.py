"""What a worker logs per task at the default level: our `delivered` line, not Celery's two."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from sendx_worker.logs import CELERY_PER_TASK_LOGGERS, configure_logging
from tests.delivery.conftest import Stack
from tests.support.waiting import wait_for


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in CELERY_PER_TASK_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)


@pytest.mark.usefixtures("restored_logging")
def test_above_debug_celerys_per_task_loggers_keep_only_warnings_and_errors() -> None:
    configure_logging("kv", logging.INFO)
    for name in CELERY_PER_TASK_LOGGERS:
        assert not logging.getLogger(name).isEnabledFor(logging.INFO)
        assert logging.getLogger(name).isEnabledFor(logging.WARNING)
    configure_logging("kv", logging.ERROR)
    assert not logging.getLogger("celery.app.trace").isEnabledFor(logging.WARNING)
    configure_logging("kv", logging.DEBUG)
    for name in CELERY_PER_TASK_LOGGERS:
        assert logging.getLogger(name).isEnabledFor(logging.DEBUG)


def test_at_the_default_level_a_worker_logs_delivered_but_not_celerys_received_and_succeeded(stack: Stack) -> None:
    worker = stack.start_worker()  # --loglevel INFO, as `sendx-worker worker` runs it
    task_id = stack.identify({"email": "ada@example.com", "firstName": "Ada"})
    stack.wait_contact("ada@example.com", firstName="Ada")
    wait_for(lambda: worker.saw(f"delivered task=sendx.identify_contact task_id={task_id} "), what="delivered")

    assert worker.saw(" ready.")  # Celery's INFO lines other than the per-task ones still show
    assert not worker.saw(f"[{task_id}] received")
    assert not worker.saw("succeeded in")
    (delivered,) = [line for line in worker.lines if " delivered " in line]
    assert "email=a***@example.com" in delivered
