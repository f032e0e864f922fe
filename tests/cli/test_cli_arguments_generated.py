"""Any command line: exit 0, 1 or 2 with at most one error line, never a traceback or an "unexpected" error.

Generated argument lists for the commands that finish on their own (``identify``, ``track``,
``dead ...``), on the embedded broker; the words are drawn from the real options and from
text that breaks things (control characters, lone surrogates as a shell hands over
undecodable bytes, huge values).
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import event, given, settings
from hypothesis import strategies as st

from tests.cli.conftest import CliResult

IDENTIFY_OPTIONS = ["--new-email", "--first-name", "--last-name", "--company", "--birthday", "--custom-field", "--tag"]
TRACK_OPTIONS = ["--add", "--remove"]
OTHER_WORDS = ["--team", "--json", "--all", "--yes", "--payload", "--help", "--log-format", "-y", "--", "-", "list"]
VALUES = st.sampled_from(
    ["john@example.com", "a=b", "Logins=++1", "Logins=++x", "=x", "x=", "1989-03-03", "2023-02-30", "eu", "kv",
     "\udcff", "a\x1b[2Jb", "\x00", "x" * 300, "n=" + "v" * 70_000, "/dev/null", "", " ", "--"]
) | st.text(st.characters(codec=None), max_size=12)  # fmt: skip


NAMES = st.text(st.characters(categories=["L", "N", "Zs"]), min_size=1, max_size=20)
GOOD = {
    "--new-email": st.emails(),
    "--birthday": st.dates().map(str),
    "--custom-field": st.tuples(NAMES, NAMES).map("=".join),
    "--email": st.emails(),
}


def words_for(options: list[str]) -> st.SearchStrategy[list[str]]:
    """Mostly the command's own options with values (plausible or hostile), now and then any word."""
    pair = st.sampled_from(options).flatmap(
        lambda option: st.tuples(st.just(option), st.one_of(*[GOOD.get(option, NAMES)] * 4, VALUES))
    )
    stray = (st.sampled_from(OTHER_WORDS) | VALUES).map(lambda word: [word])
    return st.lists(st.one_of(*[pair.map(list)] * 5, stray), max_size=4).map(
        lambda groups: [word for group in groups for word in group]
    )


COMMAND_LINES = (
    st.tuples(st.just(["identify", "--email"]), VALUES.map(lambda v: [v]), words_for(IDENTIFY_OPTIONS))
    | st.tuples(st.just(["identify", "--email", "ann@example.com"]), st.just([]), words_for(IDENTIFY_OPTIONS))
    | st.tuples(st.just(["track", "--email", "ann@example.com"]), st.just([]), words_for(TRACK_OPTIONS))
    | st.tuples(st.just(["track"]), st.just([]), words_for([*TRACK_OPTIONS, "--email"]))
    | st.tuples(
        st.sampled_from([["dead", "list"], ["dead", "show"], ["dead", "replay"], ["dead", "purge", "--yes"], ["dead"]]),
        st.just([]),
        words_for(["--payload", "--json", "--all"]),
    )
).map(lambda parts: [word for part in parts for word in part])


@settings(max_examples=3 * settings.default.max_examples)  # cheap: three times the profile's
@given(line=COMMAND_LINES)
def test_any_command_line_exits_0_1_or_2_with_one_clean_line(cli: Callable[..., CliResult], line: list[str]) -> None:
    result = cli(*line)
    event(f"exit {result.code}")
    assert result.code in (0, 1, 2), result
    assert "Traceback" not in result.output
    assert "unexpected" not in result.err, result.err
    if result.code != 0:
        assert result.err.count("\n") == 1, result.err
        assert result.err.isprintable() or result.err[:-1].isprintable(), result.err
