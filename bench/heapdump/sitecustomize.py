"""Loaded by every Python started with this folder on PYTHONPATH (``python -m bench heap``).

With ``BENCH_HEAP_DIR`` set, it starts ``tracemalloc`` before anything else is imported
and saves a heap snapshot into that folder on each SIGUSR2 (Celery leaves SIGUSR2 alone
unless ``CELERY_RDBSIG`` is set).
"""

import os
import signal
import tracemalloc

_FOLDER = os.environ.get("BENCH_HEAP_DIR")

if _FOLDER:
    tracemalloc.start(8)
    _taken = [0]

    def _snapshot(signum: int, frame: object) -> None:
        _taken[0] += 1
        path = os.path.join(_FOLDER, f"heap-{os.getpid()}-{_taken[0]}.snapshot")
        tracemalloc.take_snapshot().dump(path + ".part")
        os.replace(path + ".part", path)  # whole, or not there: the bench waits for it

    signal.signal(signal.SIGUSR2, _snapshot)
