"""Tables and the progress line, on a terminal and off it."""

from __future__ import annotations

import io

from sendx_worker.cli.output import Progress, cell, table


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_cells_show_missing_values_lists_and_mappings_on_one_line() -> None:
    assert [cell(None), cell(""), cell(["a", "b"]), cell({"Plan": "Pro"}), cell("two\nlines")] == [
        "-",
        "-",
        "a, b",
        "Plan=Pro",
        "two lines",
    ]


def test_a_table_aligns_its_columns_and_cuts_long_cells() -> None:
    text = table(("id", "error"), [["1", "short"], ["22", "x" * 80]], max_width=10)
    assert text.splitlines() == ["ID  ERROR", "1   short", "22  xxxxxxxxx…"]


def test_off_a_terminal_progress_prints_whole_lines_without_carriage_returns() -> None:
    now = [0.0]
    stream = io.StringIO()
    progress = Progress(stream, 4, clock=lambda: now[0])
    progress.update(0, "starting")
    progress.update(1, "one")  # within a second of the last line: not printed
    now[0] = 5.0
    progress.update(2, "two")
    progress.finish(4, "all")
    assert "\r" not in stream.getvalue()
    assert stream.getvalue().splitlines() == [
        "[------------------------------] 0/4 starting",
        "[###############---------------] 2/4 two",
        "[##############################] 4/4 all",
    ]


def test_on_a_terminal_progress_redraws_one_line() -> None:
    stream = Terminal()
    progress = Progress(stream, 2)
    progress.update(1, "half")
    progress.finish(2, "done")
    assert stream.getvalue().count("\n") == 1
    assert stream.getvalue().startswith("\r[###############---------------] 1/2 half")
    assert stream.getvalue().endswith("2/2 done\n")
