"""The plot: worker throughput against concurrency, one line per pool.

    python -m bench plot [RESULTS.json ...] [--broker rabbitmq] [--out docs/bench/throughput.png]

Reads throughput results (default: every ``bench/results/throughput*.json`` and
``tp-*.json``). Each point is the median of its runs divided by the 1-process
reference measured in the same sitting, so that sittings under different machine
load can share a plot; the right axis turns that back into tasks/s with the median
reference over all the sittings read.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .common import REPO, RESULTS
from .throughput import summarize
from .workers import config

__all__ = ["main", "plot"]

DEFAULT_OUT = REPO / "docs" / "bench" / "throughput.png"
_LINES = {  # label: (pool, processes)
    "threads, 1 process": ("threads", 1),
    "threads, 2 processes": ("threads", 2),
    "gevent, 1 process": ("gevent", 1),
    "gevent, 2 processes": ("gevent", 2),
    "prefork (1 process per slot)": ("prefork", 1),
}


# The default as started with nothing added, and pinned to one or two processes: stars.
_DEFAULTS = {"default": "*", "default-x1": "X", "default-x2": "P"}

Point = tuple[int, float, int]  # (concurrency per process, × reference, sitting number)


def _points(paths: Iterable[Path], broker: str) -> tuple[dict[float, dict[str, list[Point]]], Any]:
    """{latency: {line: [(concurrency, × reference, sitting)]}}, plus marks and the references."""
    lines: dict[float, dict[str, list[Point]]] = {}
    marks: dict[float, dict[str, list[float]]] = {}
    references: dict[float, list[float]] = {}
    for sitting, path in enumerate(paths):
        rows = summarize(json.loads(path.read_text())["records"])
        for row in rows:
            latency, ratio = row["latency_ms"], row["vs_reference"]
            if row["config"] == "reference":
                references.setdefault(latency, []).append(row["tasks_per_s"])
            if ratio is None or row["broker"] not in (broker, "-"):
                continue
            if row["config"] in ("reference-x2", "naive", *_DEFAULTS):
                marks.setdefault(latency, {}).setdefault(row["config"], []).append(ratio)
            try:
                spec = config(row["config"])
            except KeyError:
                continue
            plain = spec.framework == "celery" and not spec.naive and not {"variant", "default"} & set(spec.tags)
            for label, (pool, processes) in _LINES.items():
                if spec.pool == pool and spec.processes == processes and plain:
                    lines.setdefault(latency, {}).setdefault(label, []).append((spec.concurrency, ratio, sitting))
    return lines, (marks, references)


def plot(paths: list[Path], out: Path, broker: str = "rabbitmq") -> Path:
    """Draw one panel per emulator latency into ``out`` (PNG).

    Points of one sitting are joined by a line; points of different sittings are not
    (the same configuration measured in two sittings shows as two markers).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines, (marks, references) = _points(paths, broker)
    if not lines and not marks:
        raise SystemExit(f"no throughput results for broker {broker} in {', '.join(map(str, paths))}")
    latencies = sorted({*lines, *marks}, key=lambda latency: (latency != 50, latency))  # 50 ms first
    figure, axes = plt.subplots(1, len(latencies), figsize=(7.5 * len(latencies), 5.6), squeeze=False)
    colors = dict(zip(_LINES, ("tab:green", "tab:purple", "tab:blue", "tab:cyan", "tab:orange"), strict=True))
    for axis, latency in zip(axes[0], latencies, strict=True):
        for label, points in lines.get(latency, {}).items():
            for number, sitting in enumerate(sorted({p[2] for p in points})):
                mine = sorted((c, r) for c, r, s in points if s == sitting)
                axis.plot(
                    [c for c, _ in mine],
                    [r for _, r in mine],
                    marker="o",
                    color=colors[label],
                    label=label if number == 0 else None,
                )
        axis.axhline(1.0, color="black", linestyle="--", linewidth=1, label="reference: requests.Session × 32 threads")
        styles = {"reference-x2": ("tab:gray", "--"), "naive": ("tab:red", ":")}
        for name, (color, style) in styles.items():
            if name in marks.get(latency, {}):
                value = statistics.median(marks[latency][name])
                axis.axhline(value, color=color, linestyle=style, linewidth=1, label=f"{name} ({value:.2f}×)")
        for name, shape in _DEFAULTS.items():
            if name in marks.get(latency, {}):
                value = statistics.median(marks[latency][name])
                spec = config(name)
                label = f"{name} ({spec.processes} × {spec.pool} {spec.concurrency})"
                axis.plot(
                    [spec.concurrency],
                    [value],
                    shape,
                    markersize=14,
                    color="gold",
                    markeredgecolor="black",
                    label=label,
                )
        axis.set_xscale("log", base=2)
        axis.set_xlabel("concurrency per worker process (-c)")
        axis.set_ylabel("tasks/s ÷ reference of the same sitting")
        axis.set_title(f"{broker}, emulator latency {latency:g} ms")
        axis.grid(True, which="both", alpha=0.3)
        axis.set_ylim(bottom=0)
        if references.get(latency):
            scale = statistics.median(references[latency])
            right = axis.secondary_yaxis("right", functions=(lambda r, s=scale: r * s, lambda t, s=scale: t / s))
            right.set_ylabel(f"≈ tasks/s (reference ≈ {scale:.0f}/s)")
        axis.legend(fontsize=7, loc="upper left", ncol=2)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def main(argv: list[str] | None = None) -> int:
    """Plot the results given (or found) into ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m bench plot", description=__doc__.split("\n")[0])
    parser.add_argument("results", nargs="*", type=Path)
    parser.add_argument("--broker", default="rabbitmq")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    paths = args.results or sorted([*RESULTS.glob("throughput*.json"), *RESULTS.glob("tp-*.json")])
    print(f"wrote {plot(paths, args.out, args.broker)} from {len(paths)} result file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
