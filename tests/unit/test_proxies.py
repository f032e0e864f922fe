"""Proxy and CA-bundle variables: read once, validated, and the proxy that applies to a URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from sendx_worker.errors import ConfigurationError
from sendx_worker.proxies import Proxies, bypasses_proxy, proxy_url_problem, redact_url
from sendx_worker.settings import load_settings

PROXY = "http://proxy.corp:3128"


def test_no_proxy_variables_means_no_proxy_and_the_default_ca_bundle() -> None:
    settings = load_settings({})
    assert settings.proxies == Proxies()
    assert settings.proxies.for_url(settings.base_url) is None
    assert settings.ca_bundle is None


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"HTTPS_PROXY": PROXY}, PROXY),
        ({"https_proxy": PROXY}, PROXY),
        ({"HTTPS_PROXY": "http://upper:1", "https_proxy": PROXY}, PROXY),  # lower case wins, as in urllib
        ({"HTTPS_PROXY": PROXY, "https_proxy": ""}, None),  # an empty lower-case one unsets it
        ({"ALL_PROXY": PROXY}, PROXY),
        ({"ALL_PROXY": "http://all:1", "HTTPS_PROXY": PROXY}, PROXY),  # the scheme's own proxy first
        ({"HTTP_PROXY": PROXY}, None),  # SendX is https: HTTP_PROXY does not apply
    ],
)
def test_the_https_proxy_comes_from_the_standard_variables_with_urllibs_precedence(
    environ: dict[str, str], expected: str | None
) -> None:
    settings = load_settings(environ)
    assert settings.proxies.for_url("https://app.sendx.io/api/v1") == expected


def test_an_http_base_url_uses_http_proxy() -> None:
    settings = load_settings({"HTTP_PROXY": PROXY, "HTTPS_PROXY": "http://other:1"})
    assert settings.proxies.for_url("http://127.0.0.1:8025/api/v1") == PROXY


@pytest.mark.parametrize(
    ("url", "no_proxy", "bypassed"),
    [
        ("https://app.sendx.io/api/v1", None, False),
        ("https://app.sendx.io/api/v1", "", False),
        ("https://app.sendx.io/api/v1", "*", True),
        ("https://app.sendx.io/api/v1", "app.sendx.io", True),
        ("https://app.sendx.io/api/v1", "sendx.io", True),  # a domain covers its subdomains
        ("https://app.sendx.io/api/v1", ".sendx.io", True),
        ("https://app.sendx.io/api/v1", "localhost, .SENDX.IO ,10.0.0.1", True),  # spaces and case do not matter
        ("https://app.sendx.io/api/v1", "x.sendx.io,example.com", False),
        ("https://app.sendx.io/api/v1", "endx.io", False),  # a suffix, not a domain
        ("http://127.0.0.1:8025/api/v1", "127.0.0.1", True),
        ("http://127.0.0.1:8025/api/v1", "127.0.0.1:8025", True),
        ("http://127.0.0.1:8025/api/v1", "127.0.0.1:9999", False),
        ("http://[::1]:8025/api/v1", "::1", True),
    ],
)
def test_no_proxy_decides_by_host_and_domain(url: str, no_proxy: str | None, bypassed: bool) -> None:
    assert bypasses_proxy(url, no_proxy) is bypassed
    proxies = Proxies(http=PROXY, https=PROXY, no_proxy=no_proxy)
    assert proxies.for_url(url) == (None if bypassed else PROXY)


def test_no_proxy_is_read_in_either_case_lower_case_first() -> None:
    assert load_settings({"NO_PROXY": "sendx.io"}).proxies.no_proxy == "sendx.io"
    assert load_settings({"NO_PROXY": "a", "no_proxy": "sendx.io"}).proxies.no_proxy == "sendx.io"
    settings = load_settings({"HTTPS_PROXY": PROXY, "no_proxy": ".sendx.io"})
    assert settings.proxies.for_url(settings.base_url) is None


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("HTTPS_PROXY", "proxy.corp:3128", "scheme and a host"),
        ("https_proxy", "http://", "scheme and a host"),
        ("HTTP_PROXY", "ftp://proxy.corp", "scheme and a host"),
        ("ALL_PROXY", "http://proxy.corp:port", "invalid port"),
    ],
)
def test_a_bad_proxy_url_names_its_variable(variable: str, value: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({variable: value})
    assert caught.value.variable == variable
    assert problem in str(caught.value)


def test_a_bad_proxy_url_is_reported_without_its_password() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({"HTTPS_PROXY": "bob:hunter2@proxy.corp:3128"})
    assert "hunter2" not in str(caught.value)
    assert "***@proxy.corp:3128" in str(caught.value)


def test_proxy_credentials_never_show_in_a_repr() -> None:
    settings = load_settings(
        {"HTTPS_PROXY": "http://bob:hunter2@proxy.corp:3128", "http_proxy": "http://eve:s3cret@p:1", "NO_PROXY": "x"}
    )
    for shown in (repr(settings), repr(settings.proxies), str(settings)):
        assert "hunter2" not in shown
        assert "s3cret" not in shown
        assert "bob" not in shown
    assert "http://***@proxy.corp:3128" in repr(settings.proxies)
    # The client still gets the real URL, credentials included.
    assert settings.proxies.for_url(settings.base_url) == "http://bob:hunter2@proxy.corp:3128"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://proxy.corp:3128", "http://proxy.corp:3128"),
        ("http://bob:hunter2@proxy.corp:3128", "http://***@proxy.corp:3128"),
        ("http://bob@proxy.corp", "http://***@proxy.corp"),
        ("bob:hunter2@proxy.corp:3128", "***@proxy.corp:3128"),  # no scheme: still hidden
        ("http://bob:hun/ter2@proxy.corp", "http://***@proxy.corp"),  # an unescaped slash in the password
    ],
)
def test_redact_url_hides_whatever_precedes_the_host(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_proxy_url_problem_accepts_http_https_and_refuses_the_rest() -> None:
    assert proxy_url_problem("http://proxy:3128") is None
    assert proxy_url_problem("https://u:p@proxy") is None
    assert proxy_url_problem("proxy:3128") is not None


def test_the_ca_bundle_comes_from_requests_ca_bundle_then_curl_ca_bundle(tmp_path: Path) -> None:
    first, second = tmp_path / "first.pem", tmp_path / "second.pem"
    first.write_text("")
    second.write_text("")
    assert load_settings({"REQUESTS_CA_BUNDLE": str(first), "CURL_CA_BUNDLE": str(second)}).ca_bundle == first
    assert load_settings({"CURL_CA_BUNDLE": str(second)}).ca_bundle == second
    assert load_settings({"REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": str(second)}).ca_bundle == second
    assert load_settings({"REQUESTS_CA_BUNDLE": str(tmp_path)}).ca_bundle == tmp_path  # a c_rehash'ed folder


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_ca_bundle_that_does_not_exist_names_its_variable(variable: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({variable: str(tmp_path / "missing.pem")})
    assert caught.value.variable == variable
    assert "does not exist" in str(caught.value)
