"""The throughput results as tables: medians per configuration, ratios to the references and peers.

Every configuration is compared, in the same sitting, on tasks/s and on CPU per task
with: the hand-written ``requests.Session`` pool (``reference``, no queue), Dramatiq
(``dramatiq-64``, or ``dramatiq-64xN`` for a configuration of N processes when it was
measured; on the same broker, else on RabbitMQ) and the naive Celery task.
"""

from __future__ import annotations

from typing import Any

from .common import median

__all__ = ["summarize", "table"]

Key = tuple[float, str, str]


def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians per (latency, broker, config), with ratios to the references, Dramatiq and the naive task."""
    groups: dict[Key, list[dict[str, Any]]] = {}
    failures: dict[Key, list[str]] = {}
    for record in records:
        key = (record["latency_ms"], record["broker"], record["config"])
        if "error" in record:
            failures.setdefault(key, []).append(record["error"])
            groups.setdefault(key, [])
        else:
            groups.setdefault(key, []).append(record)
    rows = []
    for (latency, broker, name), members in groups.items():
        row: dict[str, Any] = {
            "latency_ms": latency,
            "broker": broker,
            "config": name,
            "runs": len(members),
            "failures": failures.get((latency, broker, name), []),
            "command": next(r["command"] for r in records if r["config"] == name),
            "tasks": members[0]["tasks"] if members else None,
            "all_runs": [r["tasks_per_s"] for r in members],
            "all_cpu": [r["cpu_ms_per_task"] for r in members],
        }
        for field in (
            "tasks_per_s",
            "steady_per_s",
            "cpu_ms_per_task",
            "cpu_ms_per_task_with_startup",
            "peak_rss_mb",
            "emulator_cpu_ms_per_request",
        ):
            row[field] = median(r.get(field) for r in members)
        row["load"] = median(r["load_before"] for r in members)
        rows.append(row)
    index = {(r["latency_ms"], r["broker"], r["config"]): r for r in rows}
    for row in rows:
        latency, broker = row["latency_ms"], row["broker"]
        peers = {
            "reference": index.get((latency, "-", "reference")),
            "reference-x2": index.get((latency, "-", "reference-x2")),
            "naive": index.get((latency, broker, "naive")),
            "naive-threads": index.get((latency, broker, "naive-threads")),
            "dramatiq": _dramatiq_for(index, row),
        }
        for label, peer in peers.items():
            row[f"vs_{label}"] = _ratio(row["tasks_per_s"], peer and peer["tasks_per_s"])
            row[f"cpu_vs_{label}"] = _ratio(row["cpu_ms_per_task"], peer and peer["cpu_ms_per_task"])
        row["dramatiq_peer"] = peers["dramatiq"] and f"{peers['dramatiq']['config']} on {peers['dramatiq']['broker']}"
    return rows


def _processes(name: str) -> int:
    from .workers import config

    try:
        return config(name.partition("@")[0]).processes
    except KeyError:  # a reference: reference-x2 is two processes
        return 2 if name.endswith("-x2") else 1


def _dramatiq_for(index: dict[Key, dict[str, Any]], row: dict[str, Any]) -> dict[str, Any] | None:
    processes = _processes(row["config"])
    names = [f"dramatiq-64x{processes}", "dramatiq-64"] if processes > 1 else ["dramatiq-64"]
    for broker in dict.fromkeys((row["broker"], "rabbitmq")):
        for name in names:
            found = index.get((row["latency_ms"], broker, name))
            if found is not None and found["tasks_per_s"]:
                return found
    return None


def _ratio(mine: float | None, theirs: float | None) -> float | None:
    return round(mine / theirs, 2) if mine and theirs else None


def table(rows: list[dict[str, Any]]) -> str:
    """The summary as a Markdown table."""
    head = (
        "| latency | broker | configuration | tasks | tasks/s (median) | runs | × Dramatiq | × reference | "
        "× naive | **CPU ms/task** | CPU runs | CPU × Dramatiq | CPU × reference | CPU ms/task with start-up | "
        "peak RSS MB | load |\n" + "|---" * 16 + "|\n"
    )
    lines = []
    for r in rows:
        runs = ", ".join([*(f"{v:.0f}" for v in r["all_runs"]), *("failed" for _ in r["failures"])])
        if r["tasks_per_s"] is None:
            start = f"| {r['latency_ms']:g} ms | {r['broker']} | {r['config']} | - | **failed** | {runs} |"
            lines.append(start + " - |" * 10)
            continue
        cpu_runs = ", ".join(_fmt(v) for v in r["all_cpu"])
        naive = r["vs_naive"] if r["vs_naive"] is not None else r["vs_naive-threads"]
        lines.append(
            f"| {r['latency_ms']:g} ms | {r['broker']} | {r['config']} | {r['tasks']} | **{r['tasks_per_s']:.0f}** | "
            f"{runs} | {_fmt(r['vs_dramatiq'])} | {_fmt(r['vs_reference'])} | {_fmt(naive, '.1f')} | "
            f"**{_fmt(r['cpu_ms_per_task'])}** | {cpu_runs} | {_fmt(r['cpu_vs_dramatiq'])} | "
            f"{_fmt(r['cpu_vs_reference'])} | {_fmt(r['cpu_ms_per_task_with_startup'])} | "
            f"{_fmt(r['peak_rss_mb'], '.0f')} | {_fmt(r['load'], '.1f')} |"
        )
    return head + "\n".join(lines)


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)
