"""Prometheus metrics of the server, in a registry of its own (no global state).

Names follow Prometheus conventions (``_total`` counters, ``_seconds`` histograms). The
endpoint label takes the route (``/predict``), never the raw path, so a scan of random
URLs cannot blow up the number of series.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from mlgate.serve.state import Served

#: Latency buckets in seconds: sub-millisecond to a few seconds.
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: The status recorded for a client that went away before its request was read (nginx's
#: convention): counted in ``mlgate_http_requests_total``, not as an error.
CLIENT_CLOSED = 499


class ServeMetrics:
    """Every metric ``mlgate serve`` exports."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "mlgate_http_requests", "HTTP requests by endpoint and status", ["endpoint", "status"],
            registry=r,
        )  # fmt: skip
        self.errors = Counter(
            "mlgate_http_errors", "HTTP answers with status >= 400", ["endpoint", "status"],
            registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "mlgate_http_request_duration_seconds", "Time to answer, by endpoint", ["endpoint"],
            buckets=BUCKETS, registry=r,
        )  # fmt: skip
        self.rows = Counter("mlgate_predicted_rows", "Rows predicted", registry=r)
        self.model_info = Gauge(
            "mlgate_model_info", "The served model (value 1)", ["version", "commit", "sha256"],
            registry=r,
        )  # fmt: skip
        self.model_loaded_at = Gauge(
            "mlgate_model_loaded_timestamp_seconds", "When the served model was loaded",
            registry=r,
        )  # fmt: skip
        self.ready = Gauge("mlgate_ready", "1 when a verified model is served", registry=r)
        self.reloads = Counter(
            "mlgate_reload_attempts", "Candidates tried, by result (swapped/rejected)", ["result"],
            registry=r,
        )  # fmt: skip
        self.reload_failures = Counter(
            "mlgate_reload_failures", "Candidates rejected, by reason", ["reason"], registry=r
        )
        self.rejected = Gauge(
            "mlgate_candidate_rejected",
            "The last rejected candidate (value 1) and why",
            ["version", "commit", "reason"],
            registry=r,
        )
        self.reconciles = Counter(
            "mlgate_reconciles", "Reconcile passes by outcome", ["outcome"], registry=r
        )
        self.last_reconcile = Gauge(
            "mlgate_last_reconcile_timestamp_seconds", "When the last reconcile pass ended",
            registry=r,
        )  # fmt: skip
        self.workers = Gauge(
            "mlgate_inference_workers", "Inference worker processes ready", registry=r
        )
        self.worker_deaths = Counter(
            "mlgate_inference_worker_deaths", "Inference workers that died (and were replaced)",
            registry=r,
        )  # fmt: skip
        self.ready.set(0)

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        code = str(status)
        self.requests.labels(endpoint, code).inc()
        if status >= 400 and status != CLIENT_CLOSED:
            self.errors.labels(endpoint, code).inc()
        self.latency.labels(endpoint).observe(seconds)

    def served(self, served: Served, *, swap: bool = True) -> None:
        """``served`` is in; ``swap`` False when it came back (a crashing model went out)."""
        self.model_info.clear()
        self.model_info.labels(served.version, served.commit, served.sha256).set(1)
        self.model_loaded_at.set(served.loaded_at.timestamp())
        self.ready.set(1)
        if swap:
            self.reloads.labels("swapped").inc()

    def rejected_candidate(self, version: str, commit: str, reason: str) -> None:
        self.reloads.labels("rejected").inc()
        self.reload_failures.labels(reason).inc()
        self.rejected.clear()
        self.rejected.labels(version, commit, reason).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)
