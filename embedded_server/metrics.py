"""Prometheus metrics, named as the deployment guide's Grafana dashboard and alert rules
expect (``http_requests_total``, ``http_request_duration_seconds``), plus ``assistant_*``.

Each app owns its registry, so several apps (tests) never clash.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class ServerMetrics:
    """The server's Prometheus metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by method, route template and status code.",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time until the response starts (headers sent; streams continue after).",
            ["method", "endpoint"],
            registry=self.registry,
        )
        self.tokens = Counter(
            "assistant_tokens_generated_total",
            "Completion tokens generated, by model.",
            ["model"],
            registry=self.registry,
        )
        self.ttft = Histogram(
            "assistant_time_to_first_token_seconds",
            "Time from the chat request to the first token.",
            buckets=TTFT_BUCKETS,
            registry=self.registry,
        )
        self.active_streams = Gauge(
            "assistant_active_streams", "Chat answers being streamed now.", registry=self.registry
        )
        self.backend_up = Gauge(
            "assistant_backend_up",
            "1 when the model runner answered the last check, else 0.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
