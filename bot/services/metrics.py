"""Prometheus metrics of one bot instance, in its own registry (tests run several).
Submits, failures and deliveries are labelled by model."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LAG_BUCKETS = (0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 20, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.submits = Counter(
            "art_submits", "Generations submitted to Yandex", ["model"], registry=self.registry
        )
        # Only asynchronous models have operations to poll.
        self.polls = Counter("art_polls", "Operation polls", registry=self.registry)
        self.failures = Counter(
            "art_failures",
            "Jobs that ended without a picture",
            ["kind", "model"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "art_deliveries",
            "Finished pictures by outcome",
            ["outcome", "model"],
            registry=self.registry,
        )
        self.delivery_lag = Histogram(
            "art_delivery_lag_seconds",
            "From the operation finishing at Yandex to the photo sent",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.ops_requests = Counter(
            "bot_ops_requests",
            "Requests to /healthz and /metrics (kept out of the access log)",
            ["path"],
            registry=self.registry,
        )
        self.stars = Counter("art_stars", "Telegram Stars received", registry=self.registry)
        self.credits = Counter(
            "art_credits",
            "Credits sold, granted, reserved, spent, given back and refunded",
            ["event"],
            registry=self.registry,
        )
        # 0 while Yandex refuses the model (set aside), 1 otherwise.
        self.model_available = Gauge(
            "art_model_available",
            "Whether the model is drawing (0: set aside after Yandex refused it)",
            ["model"],
            registry=self.registry,
        )
        self.pending = Gauge("art_pending_jobs", "Jobs not finished yet", registry=self.registry)
        # Read when scraped (bot/ops/intake.py sets their functions): nothing per update.
        self.updates_in_work = Gauge(
            "bot_updates_in_work",
            "Updates being handled (at most UPDATES_IN_WORK)",
            registry=self.registry,
        )
        self.updates_waiting = Gauge(
            "bot_updates_waiting",
            "Updates taken in and waiting for a worker",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
