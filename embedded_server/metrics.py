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
            "1 when at least one model runner answered its last check, else 0.",
            registry=self.registry,
        )
        # The pool, by runner name (ASSISTANT_RUNNERS' name, default host:port).
        self.runner_up = Gauge(
            "assistant_runner_up",
            "1 while the runner takes requests, 0 while it cools down after failures.",
            ["runner"],
            registry=self.registry,
        )
        self.runner_in_flight = Gauge(
            "assistant_runner_in_flight",
            "Requests being answered by the runner now.",
            ["runner"],
            registry=self.registry,
        )
        self.runner_requests = Counter(
            "assistant_runner_requests_total",
            "Requests sent to the runner (a retry on another runner counts on both).",
            ["runner"],
            registry=self.registry,
        )
        self.runner_errors = Counter(
            "assistant_runner_errors_total",
            "Requests and health checks the runner failed.",
            ["runner"],
            registry=self.registry,
        )
        self.runner_ttft = Histogram(
            "assistant_runner_time_to_first_token_seconds",
            "Time from sending a request to the runner to its first token.",
            ["runner"],
            buckets=TTFT_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "assistant_queue_depth",
            "Requests waiting for a free runner slot (the fair queue).",
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "assistant_queue_wait_seconds",
            "How long requests waited in the fair queue for a runner slot.",
            buckets=TTFT_BUCKETS,
            registry=self.registry,
        )
        # API keys, by key name ("(admin)": the admin token, a name no key can have).
        self.key_requests = Counter(
            "assistant_key_requests_total",
            "Authenticated API requests, by key name.",
            ["key"],
            registry=self.registry,
        )
        self.embedded_tokens = Counter(
            "assistant_tokens_embedded_total",
            "Tokens read by embedding models (/v1/embeddings), by model.",
            ["model"],
            registry=self.registry,
        )
        self.key_tokens = Counter(
            "assistant_key_tokens_total",
            "Completion tokens generated for each key.",
            ["key"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
