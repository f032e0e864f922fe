"""The throughput results as tables: medians per configuration, ratios to the references."""

from __future__ import annotations

from typing import Any

from .common import median

__all__ = ["summarize", "table"]


def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians per (latency, broker, config), with ratios to the references and the naive task."""
    groups: dict[tuple[float, str, str], list[dict[str, Any]]] = {}
    failures: dict[tuple[float, str, str], list[str]] = {}
    for record in records:
        key = (record["latency_ms"], record["broker"], record["config"])
        if "error" in record:
            failures.setdefault(key, []).append(record["error"])
            groups.setdefault(key, [])
        else:
            groups.setdefault(key, []).append(record)
    rows = []
    for (latency, broker, name), members in groups.items():
        if not members:  # every run stalled or crashed: still a row, and a result
            rows.append(
                {
                    "latency_ms": latency,
                    "broker": broker,
                    "config": name,
                    "runs": 0,
                    "tasks": None,
                    "tasks_per_s": None,
                    "all_runs": [],
                    "failures": failures[(latency, broker, name)],
                    "command": next(r["command"] for r in records if r["config"] == name),
                }
            )
            continue
        rows.append(
            {
                "latency_ms": latency,
                "broker": broker,
                "config": name,
                "runs": len(members),
                "tasks": members[0]["tasks"],
                "tasks_per_s": median(r["tasks_per_s"] for r in members),
                "steady_per_s": median(r["steady_per_s"] for r in members),
                "cpu_ms_per_task": median(r["cpu_ms_per_task"] for r in members),
                "peak_rss_mb": median(r["peak_rss_mb"] for r in members),
                "emulator_cpu_ms_per_request": median(r["emulator_cpu_ms_per_request"] for r in members),
                "load": median(r["load_before"] for r in members),
                "all_runs": [r["tasks_per_s"] for r in members],
                "failures": failures.get((latency, broker, name), []),
                "command": members[0]["command"],
            }
        )
    for row in rows:
        for other in ("reference", "reference-x2", "naive"):
            broker = "-" if other.startswith("reference") else row["broker"]
            match = next(
                (r for r in rows if (r["latency_ms"], r["broker"], r["config"]) == (row["latency_ms"], broker, other)),
                None,
            )
            ratio = None
            if row["tasks_per_s"] and match and match["tasks_per_s"]:
                ratio = row["tasks_per_s"] / match["tasks_per_s"]
            row[f"vs_{other}"] = round(ratio, 2) if ratio is not None else None
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The summary as a Markdown table."""
    head = (
        "| latency | broker | configuration | tasks | tasks/s (median) | runs | steady/s | × reference | "
        "× reference-x2 | × naive | worker CPU ms/task | peak RSS MB | emulator CPU ms/req | load |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        runs = ", ".join([*(f"{v:.0f}" for v in r["all_runs"]), *("stalled" for _ in r["failures"])])
        if r["tasks_per_s"] is None:
            lines.append(
                f"| {r['latency_ms']:g} ms | {r['broker']} | {r['config']} | - | **stalled** | {runs} |" + " - |" * 8
            )
            continue
        lines.append(
            f"| {r['latency_ms']:g} ms | {r['broker']} | {r['config']} | {r['tasks']} | **{r['tasks_per_s']:.0f}** | "
            f"{runs} | {_fmt(r['steady_per_s'], '.0f')} | {_fmt(r['vs_reference'])} | {_fmt(r['vs_reference-x2'])} | "
            f"{_fmt(r['vs_naive'], '.1f')} | {_fmt(r['cpu_ms_per_task'])} | {_fmt(r['peak_rss_mb'], '.0f')} | "
            f"{_fmt(r['emulator_cpu_ms_per_request'])} | {_fmt(r['load'], '.1f')} |"
        )
    return head + "\n".join(lines)


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)
