"""Enqueue cost: ``identify()`` (validation + publish) against bare ``apply_async`` of the same payload.

    python -m bench enqueue [--calls 3000] [--runs 3] [--brokers rabbitmq redis filesystem]

Both run in this process, one after the other (their order alternating between runs),
through the same app, so the same connection and producer pool, configured as the
worker's (on RabbitMQ: publisher confirms, a quorum queue). The ratio is the price of
validation. ``validate only`` times :func:`identify_payload` without publishing.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from celery import Celery

from sendx_worker import identify
from sendx_worker.schemas import identify_payload
from sendx_worker.tasks.base import SendxTask

from .common import exit_on_sigterm, identify_body, isolated_broker, load_average, median, save_results
from .queueing import IDENTIFY_TASK, declare_sendx_queue, sendx_app

__all__ = ["main", "measure"]


def _never_run(self: Any, *args: Any, **kwargs: Any) -> None:
    raise AssertionError("the benchmark only publishes")


def _calls(app: Celery, quiet: Celery) -> dict[str, Callable[[int], object]]:
    bare = app.task(name=IDENTIFY_TASK, base=SendxTask, bind=True)(_never_run)
    quiet_bare = quiet.task(name=IDENTIFY_TASK, base=SendxTask, bind=True)(_never_run)

    def with_identify(number: int, app: Celery = app) -> object:
        return identify(
            f"user{number}@example.com", first_name="Bench", tags=["bench"], custom_fields={"Visits": "++1"}, app=app
        )

    def with_apply_async(number: int, task: Any = bare) -> object:
        return task.apply_async(kwargs={"payload": identify_body(number, email=f"user{number}@example.com")})

    def validate_only(number: int) -> object:
        return identify_payload(
            "v1", email=f"user{number}@example.com", first_name="Bench", tags=["bench"], custom_fields={"Visits": "++1"}
        )

    return {
        "identify": with_identify,
        "apply_async": with_apply_async,
        "validate_only": validate_only,
        # The same two without Celery's task-sent event (a second publish per call).
        "identify_nosent": lambda number: with_identify(number, quiet),
        "apply_async_nosent": lambda number: with_apply_async(number, quiet_bare),
    }


def _time(call: Callable[[int], object], calls: int) -> dict[str, float]:
    started, cpu = time.perf_counter(), time.process_time()
    for number in range(calls):
        call(number)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"calls_per_s": round(calls / elapsed, 1), "cpu_us_per_call": round(cpu * 1e6 / calls, 1)}


def measure(broker_kind: str, calls: int, runs: int, *, echo: bool = True) -> list[dict[str, Any]]:
    """``runs`` alternating runs of identify() and apply_async() on an isolated ``broker_kind``."""
    records = []
    with isolated_broker(broker_kind) as broker:
        app = sendx_app(broker)
        quiet = sendx_app(broker)
        quiet.conf.task_send_sent_event = False
        try:
            declare_sendx_queue(app)
            funcs = _calls(app, quiet)
            for warm in range(50):  # connection, channel, declarations, first-call imports
                for name in funcs:
                    funcs[name](warm)
            for run in range(1, runs + 1):
                order = ["identify", "apply_async"] if run % 2 else ["apply_async", "identify"]
                load = load_average()
                names = [*order, "identify_nosent", "apply_async_nosent", "validate_only"]
                figures = {name: _time(funcs[name], calls) for name in names}
                _purge(app)
                record: dict[str, Any] = {
                    "broker": broker_kind,
                    "run": run,
                    "calls": calls,
                    "load": load,
                    **{f"{name}_{key}": value for name, f in figures.items() for key, value in f.items()},
                }
                record["ratio"] = round(record["identify_calls_per_s"] / record["apply_async_calls_per_s"], 3)
                records.append(record)
                if echo:
                    print(
                        f"  run {run} {broker_kind:10} identify {record['identify_calls_per_s']:7.0f}/s "
                        f"apply_async {record['apply_async_calls_per_s']:7.0f}/s ratio {record['ratio']:.2f} "
                        f"(validation alone {record['validate_only_cpu_us_per_call']} µs/call, load {load})",
                        flush=True,
                    )
        finally:
            app.close()
            quiet.close()
    return records


def _purge(app: Celery) -> None:
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge("sendx")


def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians per broker."""
    rows = []
    for broker in dict.fromkeys(r["broker"] for r in records):
        mine = [r for r in records if r["broker"] == broker]
        row: dict[str, Any] = {"broker": broker, "runs": len(mine), "calls": mine[0]["calls"]}
        for key in mine[0]:
            if key.endswith(("_per_s", "_per_call")) or key in ("ratio", "load"):
                row[key] = median(r[key] for r in mine)
        rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The summary as a Markdown table."""
    lines = [
        "| broker | calls × runs | identify() /s | apply_async /s | ratio | identify CPU µs/call | "
        "apply_async CPU µs/call | validation alone µs/call | identify /s, no sent event | "
        "apply_async /s, no sent event | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['broker']} | {r['calls']} × {r['runs']} | {r['identify_calls_per_s']:.0f} | "
            f"{r['apply_async_calls_per_s']:.0f} | **{r['ratio']:.2f}** | {r['identify_cpu_us_per_call']:.0f} | "
            f"{r['apply_async_cpu_us_per_call']:.0f} | {r['validate_only_cpu_us_per_call']:.0f} | "
            f"{r['identify_nosent_calls_per_s']:.0f} | {r['apply_async_nosent_calls_per_s']:.0f} | {r['load']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure each broker asked for, print the table, save the JSON."""
    exit_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench enqueue", description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--brokers", nargs="+", default=["rabbitmq"], choices=["rabbitmq", "redis", "filesystem"])
    parser.add_argument("--name", default="enqueue")
    args = parser.parse_args(argv)
    records = [record for kind in args.brokers for record in measure(kind, args.calls, args.runs)]
    rows = summarize(records)
    print(table(rows))
    print(f"(results in {save_results(args.name, {'records': records, 'summary': rows})})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
