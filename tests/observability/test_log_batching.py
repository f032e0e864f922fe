"""The worker's log lines are written in batches: none lost, none twice, warnings at once."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from sendx_worker.logs import CELERY_PER_TASK_LOGGERS, configure_logging, context
from tests.support.waiting import wait_for


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """The root logger's handlers restored (and the batching one closed) afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in CELERY_PER_TASK_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)


@pytest.mark.usefixtures("restored_logging")
def test_a_warning_is_written_before_the_call_returns_and_an_info_line_soon_after(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("kv", logging.INFO, batched=True)  # on capsys's stderr, read below
    capsys.readouterr()
    logger = logging.getLogger("sendx_worker.tests")
    logger.info("delivered", extra=context(email="a***@example.com"))
    logger.warning("dead-lettered", extra=context(reason="rejected"))
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" ", 4)[4] for line in lines] == [
        "delivered email=a***@example.com",
        "dead-lettered reason=rejected",
    ], "the warning writes what was waiting before it, in order"
    logger.info("retry scheduled")
    wait_for(lambda: "retry scheduled" in capsys.readouterr().err, timeout=10, what="the batch to be written")


SCRIPT = textwrap.dedent(
    """
    import logging, os, sys, threading
    from sendx_worker.logs import configure_logging

    configure_logging("kv", logging.INFO, batched=True)
    logger = logging.getLogger("sendx_worker.tests")

    def work(n):
        for i in range(250):
            logger.info("line %d-%d", n, i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    logger.info("before fork")
    pid = os.fork()
    if pid == 0:
        logger.info("in the child")
        sys.exit(0)  # a normal exit: logging.shutdown writes what is left
    os.waitpid(pid, 0)
    logger.info("parent, after")
    """
)


def test_every_line_is_written_once_across_threads_a_fork_and_exit() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    events = [line.split(" ", 4)[4] for line in done.stderr.splitlines()]
    assert sorted(e for e in events if e.startswith("line ")) == sorted(
        f"line {n}-{i}" for n in range(8) for i in range(250)
    )
    assert [e for e in events if not e.startswith("line ")] == ["before fork", "in the child", "parent, after"]
