"""Prometheus metrics for a Fleet, read from ``fleet.stats()`` at each scrape.

Needs the optional extra ``metrics`` (``pip install -e '.[metrics]'``, which
installs prometheus-client)::

    from chanpy_patterns.metrics import serve_metrics
    with Fleet() as fleet:
        with serve_metrics(fleet, port=9464) as server:   # server.url: .../metrics
            ...

Nothing is computed between scrapes: the collector takes one snapshot per
request, so metrics cost the fleet nothing while nobody looks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

try:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.registry import Collector, CollectorRegistry
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "chanpy_patterns.metrics needs prometheus-client: pip install -e '.[metrics]'"
    ) from exc

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from ._fleet import Fleet


class FleetCollector(Collector):
    """A prometheus-client collector exposing one fleet's stats under ``prefix``."""

    def __init__(self, fleet: Fleet, prefix: str = "chanpy_fleet") -> None:
        if not prefix.replace("_", "").isalnum() or prefix[0].isdigit():
            raise ValueError(
                f"prefix={prefix!r} is not a valid metric name prefix; use letters, digits, _"
            )
        self._fleet = fleet
        self._prefix = prefix

    def collect(self) -> Iterator[Metric]:
        """One snapshot of the fleet, as Prometheus metric families. Never blocks."""
        s = self._fleet.stats()
        p = self._prefix

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"{p}_{name}", doc, value=value)

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            return CounterMetricFamily(f"{p}_{name}", doc, value=value)

        yield gauge("bots", "Bots alive now.", s.bots)
        yield gauge("runners", "Runners (threads or tasks) of the fleet.", s.runners)
        yield counter("spawned", "Bots spawned.", s.spawned)
        yield counter("ticks", "on_tick calls.", s.ticks)
        yield counter(
            "skipped_ticks", "Grid points with no tick (late, backoff, throttle).", s.skipped_ticks
        )
        lag = GaugeMetricFamily(
            f"{p}_tick_lag_seconds", "Tick lag over the recent window.", labels=["quantile"]
        )
        lag.add_metric(["0.5"], s.tick_lag_p50)
        lag.add_metric(["0.99"], s.tick_lag_p99)
        lag.add_metric(["1"], s.tick_lag_max)
        yield lag
        yield counter("messages", "Messages handled.", s.messages)
        yield gauge("mailbox_high_water", "Deepest mailbox seen.", s.mailbox_high_water)
        yield counter("restarts", "Bot restarts after crashes.", s.restarts)
        yield counter("dead_letters", "Messages accepted but not handled.", s.dead_letters)
        yield counter("failed", "Bots stopped for good after too many crashes.", s.failed)
        yield gauge("throttled_ratio", "Share of normal-priority ticks skipped now.", s.throttled)
        yield gauge("bytes_per_bot", "The fleet's own memory per bot.", s.bytes_per_bot)
        yield counter("stalls", "Watchdog reports of a stalled runner.", s.stalls)


def registry_for(fleet: Fleet, prefix: str = "chanpy_fleet") -> CollectorRegistry:
    """A fresh registry holding only this fleet's collector (for tests and embedding)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(fleet, prefix))
    return registry


class MetricsServer:
    """A running metrics endpoint; ``close()`` (or leaving ``with``) stops it."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.port: int = server.server_port
        self.url = f"http://{server.server_name}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and release the port. Blocks until the server thread ends."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_metrics(
    fleet: Fleet, port: int = 9464, addr: str = "127.0.0.1", prefix: str = "chanpy_fleet"
) -> MetricsServer:
    """Serve the fleet's metrics at ``http://addr:port/metrics`` from a daemon thread.

    ``port=0`` picks a free port (``.port`` tells which). Raises OSError if
    the port cannot be bound. Never blocks.
    """
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, addr=addr, registry=registry_for(fleet, prefix))
    return MetricsServer(server, thread)
