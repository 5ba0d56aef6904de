"""`hub/telemetry.py`: what workers count adds up in the hub, and reads as Prometheus families."""

from __future__ import annotations

import pickle

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fleetwatch.hub.telemetry import Telemetry


def _text(telemetry: Telemetry) -> str:
    registry = CollectorRegistry(auto_describe=False)

    class Source:
        def collect(self):  # type: ignore[no-untyped-def]
            return telemetry.families()

    registry.register(Source())
    return generate_latest(registry).decode()


def test_worker_counts_merge_into_the_hub_and_reset_at_the_worker() -> None:
    worker, hub = Telemetry(), Telemetry()
    worker.count("payloads", "snapshot")
    worker.count("samples", "snapshot", 4)
    worker.count("rejected", "invalid")
    worker.observe_write("snapshot", 0.003)
    hub.count("payloads", "snapshot")
    hub.observe_write("snapshot", 0.2)
    hub.merge(pickle.loads(pickle.dumps(worker.take())))  # as over the worker's channel
    assert not worker.take()  # taken once: nothing sent twice
    assert hub.value("payloads", "snapshot") == 2 and hub.value("samples", "snapshot") == 4
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(_text(hub))
        for s in family.samples
    }
    assert samples[("fleetwatch_hub_ingest_rejected_total", (("reason", "invalid"),))] == 1
    bucket = "fleetwatch_hub_ingest_write_seconds_bucket"
    assert samples[(bucket, (("kind", "snapshot"), ("le", "0.005")))] == 1
    assert samples[(bucket, (("kind", "snapshot"), ("le", "0.25")))] == 2
    assert samples[(bucket, (("kind", "snapshot"), ("le", "+Inf")))] == 2
    assert samples[("fleetwatch_hub_ingest_write_seconds_sum", (("kind", "snapshot"),))] == (0.203)
