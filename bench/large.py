"""Large updates: ``identify()`` with a 60 KB custom field value, the most tags, a payload near the limit.

    python -m bench large [--calls 30] [--runs 3] [--brokers rabbitmq redis filesystem]

A 60 KB custom field value used to make ``identify()`` take 13 s: masking the e-mail
addresses in the task's ``kwargsrepr`` was quadratic on text without an ``@``. Each
case is timed per call (wall and CPU, milliseconds) through the same app as the
worker's, publish included; ``mask`` cases time the masking alone, and ``old pattern``
the regular expression used before, on smaller texts, to show the curve it was on.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from sendx_worker import identify
from sendx_worker.limits import MAX_CUSTOM_FIELD_VALUE, MAX_TAGS
from sendx_worker.masking import mask_text, masked_repr
from sendx_worker.schemas import identify_payload

from .common import exit_on_sigterm, isolated_broker, load_average, median, save_results
from .queueing import declare_sendx_queue, sendx_app

__all__ = ["main", "measure"]

VALUE_60KB = "n" * 60_000
TAGS = [f"tag number {i}" for i in range(MAX_TAGS)]
NEAR_LIMIT = {f"f{i}": "v" * MAX_CUSTOM_FIELD_VALUE for i in range(3)}  # ~197 KB of 256 KB
OLD_PATTERN = re.compile(r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9.\-]+)")
OLD_SIZES = (5_000, 10_000, 20_000)


def _cases(app: Any) -> dict[str, Callable[[int], object]]:
    def call(**arguments: Any) -> Callable[[int], object]:
        return lambda number: identify(f"user{number}@example.com", app=app, **arguments)

    return {
        "identify, a 60 KB custom field value": call(custom_fields={"Notes": VALUE_60KB}),
        f"identify, {MAX_TAGS} tags": call(tags=TAGS),
        "identify, 3 x 64 Ki custom field values": call(custom_fields=NEAR_LIMIT),
        "identify, small (for scale)": call(first_name="Bench", custom_fields={"Visits": "++1"}),
        "validation alone, a 60 KB value": lambda number: identify_payload(
            "v1", email="a@example.com", custom_fields={"Notes": VALUE_60KB}
        ),
        "mask_text, 60 KB without @": lambda number: mask_text(VALUE_60KB),
        "masked_repr, a 60 KB value": lambda number: masked_repr({"payload": {"customFields": {"n": VALUE_60KB}}}),
    }


def _time(call: Callable[[int], object], calls: int) -> dict[str, float]:
    started, cpu = time.perf_counter(), time.process_time()
    for number in range(calls):
        call(number)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"ms_per_call": round(elapsed * 1000 / calls, 3), "cpu_ms_per_call": round(cpu * 1000 / calls, 3)}


def _old_pattern() -> dict[str, float]:
    """Seconds the old masking pattern took on text of each size without an ``@`` (one call each)."""
    figures = {}
    for size in OLD_SIZES:
        text = "x" * size
        started = time.perf_counter()
        OLD_PATTERN.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
        figures[f"old pattern, {size // 1000} KB without @ (s)"] = round(time.perf_counter() - started, 3)
    return figures


def measure(broker_kind: str, calls: int, runs: int) -> list[dict[str, Any]]:
    """``runs`` runs of every case on an isolated ``broker_kind``."""
    records = []
    with isolated_broker(broker_kind) as broker:
        app = sendx_app(broker)
        try:
            declare_sendx_queue(app)
            cases = _cases(app)
            for case in cases.values():  # warm up: connection, channel, imports
                _time(case, 2)
            for run in range(1, runs + 1):
                record: dict[str, Any] = {"broker": broker_kind, "run": run, "calls": calls, "load": load_average()}
                for name, case in cases.items():
                    record[name] = _time(case, calls)
                    _purge(app)
                records.append(record)
                shown = record["identify, a 60 KB custom field value"]
                print(f"  run {run} {broker_kind:10} 60 KB value: {shown['ms_per_call']} ms/call", flush=True)
        finally:
            app.close()
    return records


def _purge(app: Any) -> None:
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge("sendx")


def table(records: list[dict[str, Any]], old: dict[str, float]) -> str:
    """Medians per broker and case, as a Markdown table."""
    lines = ["| broker | case | ms/call (median) | CPU ms/call | load |", "|---|---|---|---|---|"]
    for broker in dict.fromkeys(r["broker"] for r in records):
        mine = [r for r in records if r["broker"] == broker]
        for case in (key for key in mine[0] if isinstance(mine[0][key], dict)):
            wall = median(r[case]["ms_per_call"] for r in mine)
            cpu = median(r[case]["cpu_ms_per_call"] for r in mine)
            lines.append(f"| {broker} | {case} | {wall} | {cpu} | {median(r['load'] for r in mine)} |")
    lines.extend(f"| - | {name} | {seconds * 1000:.0f} | - | - |" for name, seconds in old.items())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    exit_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench large", description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--brokers", nargs="+", default=["rabbitmq"], choices=["rabbitmq", "redis", "filesystem"])
    parser.add_argument("--no-old", action="store_true", help="skip timing the old masking pattern")
    parser.add_argument("--name", default="large")
    args = parser.parse_args(argv)
    records = [record for kind in args.brokers for record in measure(kind, args.calls, args.runs)]
    old = {} if args.no_old else _old_pattern()
    print(table(records, old))
    print(f"(results in {save_results(args.name, {'records': records, 'old_pattern_s': old})})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
