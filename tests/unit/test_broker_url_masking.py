"""Every password of a ``;``-separated list of broker URLs is hidden, however the URLs are written."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sendx_worker.masking import mask_broker_url

MARK = "Zq9"  # starts every generated password; appears nowhere else in a URL

hosts = st.sampled_from(["n1", "rabbit-2.internal", "127.0.0.1", "[::1]", "rmq.example.com"])
ports = st.one_of(st.none(), st.integers(1, 65535))
users = st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd")), min_size=0, max_size=8)
# Anything printable, the separators and the URL's own delimiters included.
passwords = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=0, max_size=16).map(
    lambda tail: MARK + tail
)
schemes = st.sampled_from(["amqp", "amqps", "pyamqp", "redis", "rediss"])
paths = st.sampled_from(["//", "/", "/sendx", "/%2F", "/0", ""])


@st.composite
def broker_url(draw: st.DrawFn) -> str:
    port = draw(ports)
    where = draw(hosts) + (f":{port}" if port is not None else "")
    return f"{draw(schemes)}://{draw(users)}:{draw(passwords)}@{where}{draw(paths)}"


@given(st.lists(broker_url(), min_size=1, max_size=4))
def test_no_password_of_any_url_in_a_failover_list_shows(urls: list[str]) -> None:
    masked = mask_broker_url(";".join(urls))
    assert MARK not in masked


@given(st.lists(broker_url(), min_size=1, max_size=4))
def test_masking_is_idempotent(urls: list[str]) -> None:
    once = mask_broker_url(";".join(urls))
    assert mask_broker_url(once) == once


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "amqp://guest:pw@n1//;amqp://guest:pw@n2//;amqp://guest:pw@n3//",
            "amqp://guest:**@n1//;amqp://guest:**@n2//;amqp://guest:**@n3//",
        ),
        ("amqp://guest:guest@127.0.0.1:5672/vhost", "amqp://guest:**@127.0.0.1:5672/vhost"),
        ("redis://:s3cret@cache:6379/0", "redis://:**@cache:6379/0"),
        ("amqp://u:p@ss@h//", "amqp://u:**@h//"),  # an "@" in the password
        ("amqp://u:pa/ss@h//", "amqp://***@h//"),  # a "/" in the password: everything before the last "@"
        ("amqp://u:pa;ss@h//;amqp://v:w@i//", "amqp://***@h//;amqp://v:**@i//"),  # a ";" in the password
        ("amqp://h1//;amqp://h2//", "amqp://h1//;amqp://h2//"),  # no credentials
        ("filesystem://localhost/", "filesystem://localhost/"),
    ],
)
def test_known_shapes(url: str, masked: str) -> None:
    assert mask_broker_url(url) == masked
