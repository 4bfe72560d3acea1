"""`python -m bot health` asks the port the running bot serves /healthz on (issue 21 item 5)."""

from __future__ import annotations

from collections.abc import Callable

from bot.ops.healthcheck import health_url
from bot.ops.settings import Settings

HOOK = {"webhook_url": "https://bot.example/hook", "webhook_secret": "s3cret"}


def test_health_asks_ops_port_in_either_mode(make_settings: Callable[..., Settings]) -> None:
    assert health_url(make_settings(ops_port=9100, **HOOK)) == "http://127.0.0.1:9100/healthz"
    polling = make_settings(ops_port=9100, health_port=8081)
    assert health_url(polling) == "http://127.0.0.1:9100/healthz"


def test_health_without_ops_port(make_settings: Callable[..., Settings]) -> None:
    webhook = make_settings(webhook_port=8443, health_port=8081, **HOOK)
    assert health_url(webhook) == "http://127.0.0.1:8443/healthz"
    assert health_url(make_settings(health_port=8081)) == "http://127.0.0.1:8081/healthz"
    assert health_url(make_settings()) is None
