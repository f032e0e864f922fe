"""The Celery configuration each broker gets (pure: settings in, a dict out)."""

from __future__ import annotations

import ssl

from sendx_worker.celeryconf import celery_config, redis_visibility_timeout_s
from sendx_worker.settings import load_settings

KEY = {"SENDX_API_KEY": "k", "SENDX_TEAM_ID": "t"}


def config_for(url: str) -> dict[str, object]:
    return celery_config(load_settings({**KEY, "CELERY_BROKER_URL": url}))


def test_redis_uses_the_transport_that_takes_messages_atomically() -> None:
    config = config_for("redis://127.0.0.1:6379/0")
    assert config["broker_transport"] == "sendx_worker.reliable_redis:Transport"
    options = config["broker_transport_options"]
    assert isinstance(options, dict)
    # One list per queue: BLMOVE takes from one key.
    assert options["priority_steps"] == [0]
    assert options["visibility_timeout"] == redis_visibility_timeout_s(load_settings(KEY))
    assert "broker_use_ssl" not in config


def test_rediss_verifies_the_servers_certificate() -> None:
    config = config_for("rediss://redis.example.com:6380/0")
    assert config["broker_transport"] == "sendx_worker.reliable_redis:Transport"
    assert config["broker_use_ssl"] == {"ssl_cert_reqs": ssl.CERT_REQUIRED}


def test_rabbitmq_reads_in_chunks_and_confirms_publishes() -> None:
    for url in ("amqp://guest:guest@127.0.0.1:5672//", "pyamqp://guest:guest@127.0.0.1:5672//"):
        config = config_for(url)
        assert config["broker_transport"] == "sendx_worker.buffered_amqp:Transport"
        assert config["broker_transport_options"] == {"confirm_publish": True}


def test_rabbitmq_over_tls_keeps_kombus_transport_which_turns_tls_on_from_the_scheme() -> None:
    config = config_for("amqps://guest:guest@rabbit.example.com:5671//")
    assert "broker_transport" not in config
    assert config["broker_transport_options"] == {"confirm_publish": True}
