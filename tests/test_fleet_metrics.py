"""The fleet's Prometheus metrics: read from stats() on each scrape, served on request."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chanpy_patterns import Bot, Fleet
from chanpy_patterns.metrics import FleetCollector, registry_for, serve_metrics

pytestmark = pytest.mark.timeout(30)


class Counter(Bot):
    def on_message(self, msg: object) -> object:
        return msg


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_each_scrape_reads_a_fresh_snapshot() -> None:
    from prometheus_client import generate_latest

    with Fleet(workers=1) as fleet:
        ref = fleet.spawn(Counter, tick=None)
        registry = registry_for(fleet)
        before = _samples(generate_latest(registry).decode())
        for i in range(5):
            assert ref.ask(i, timeout=5) == i
        after = _samples(generate_latest(registry).decode())
    assert before[("chanpy_fleet_bots", ())] == 1
    assert before[("chanpy_fleet_messages_total", ())] == 0
    assert after[("chanpy_fleet_messages_total", ())] == 5
    assert ("chanpy_fleet_tick_lag_seconds", (("quantile", "0.99"),)) in after


def test_served_over_http_on_request() -> None:
    with Fleet(workers=1) as fleet:
        fleet.spawn(Counter, name="c").ask("x", timeout=5)
        with (
            serve_metrics(fleet, port=0, prefix="demo") as server,
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as rsp,
        ):
            text = rsp.read().decode()
    assert _samples(text)[("demo_messages_total", ())] == 1


def test_a_bad_prefix_is_refused() -> None:
    with Fleet(workers=1) as fleet, pytest.raises(ValueError, match="prefix"):
        FleetCollector(fleet, prefix="no-dashes")
