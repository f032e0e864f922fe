"""The floor: the Celery task people write by hand for this job.

Celery's defaults (prefork, early acknowledgement, prefetch 4), ``requests.post`` without
a session (a new connection per call), no validation, no retries. Its own app and its own
queue ``naive``, so that it never meets sendx-worker's topology. Run as::

    celery -A bench.naive_app worker

reading the same environment as sendx-worker (``CELERY_BROKER_URL``, ``SENDX_BASE_URL``,
``SENDX_API_KEY``, ``SENDX_TEAM_ID``, ``SENDX_DATA_DIR`` for the embedded broker).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import requests
from celery import Celery

__all__ = ["QUEUE", "TASK", "app", "identify_contact", "make_app"]

QUEUE = "naive"
TASK = "naive.identify_contact"


def make_app(broker_url: str | None, data_dir: Path) -> Celery:
    """The naive app on ``broker_url`` (None: kombu's filesystem transport under ``data_dir``)."""
    naive = Celery("naive", broker=broker_url or "filesystem://", set_as_current=False)
    naive.conf.task_default_queue = QUEUE  # its own queue; everything else is Celery's default
    if broker_url is None:
        folder = str((data_dir / "naive-broker").resolve())
        Path(folder).mkdir(parents=True, exist_ok=True)
        naive.conf.broker_transport_options = {"data_folder_in": folder, "data_folder_out": folder}
    return naive


app = make_app(os.environ.get("CELERY_BROKER_URL") or None, Path(os.environ.get("SENDX_DATA_DIR", ".sendx")))


@app.task(name=TASK)
def identify_contact(payload: dict[str, Any]) -> None:
    """POST the identify body, as a hand-written task does."""
    response = requests.post(
        f"{os.environ['SENDX_BASE_URL']}/contact/identify",
        params={"team_id": os.environ["SENDX_TEAM_ID"]},
        headers={"api_key": os.environ["SENDX_API_KEY"]},
        json=payload,
        timeout=10,
    )
    response.raise_for_status()
