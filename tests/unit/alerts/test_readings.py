"""The engine's readers of stored snapshot documents agree with the model readers."""

from __future__ import annotations

from typing import Any

import pytest

from factories import make_disk, make_interface, make_snapshot
from fleetwatch.hub.alerts.metrics import METRICS
from fleetwatch.hub.alerts.readings import READERS, read_doc
from fleetwatch.hub.store import codec
from fleetwatch.protocol.models import Snapshot

GPU = {"index": 0, "name": "A100", "temperature_celsius": 83.0, "memory_total_bytes": 1}

CASES: list[dict[str, Any]] = [
    make_snapshot(),
    make_snapshot(
        metrics={"swap": None, "cpu": {"load_1": None}, "disks": [make_disk("/", percent=99.0)]},
        services=[
            {"service_name": "nginx", "status": "FAILED", "start_type": "automatic"},
            {"service_name": "backup", "status": "stopped", "start_type": "manual"},
            {"service_name": "ssh", "status": "running"},
            {
                "service_name": "cups",
                "status": "dead",
                "start_type": "automatic",
                "discovered": True,
            },
        ],
        watched_processes={},
    ),
    make_snapshot(
        metrics={"swap": {"total_bytes": 0, "percent": 0.0}},
        services=[],
        gpus=[GPU, {**GPU, "index": 1, "temperature_celsius": None}],
    ),
    make_snapshot(
        metrics={
            "interfaces": [
                make_interface("eth0", errors_per_sec=2.5, drops_per_sec=0.0),
                make_interface("eth1", bytes_recv_per_sec=None, bytes_sent_per_sec=None),
            ]
        }
    ),
]


@pytest.mark.parametrize("body", CASES)
def test_stored_document_readings_equal_model_readings(body: dict[str, Any]) -> None:
    snap = Snapshot.model_validate(body)
    stored = codec.unpack(codec.pack(snap.model_dump(mode="json")))
    for name, reader in READERS.items():
        spec = METRICS[name]
        assert spec.read is not None
        assert reader(stored) == spec.read(snap), name
    assert set(read_doc(stored, ["cpu_percent"])) == {"cpu_percent"}


def test_every_snapshot_metric_has_a_document_reader() -> None:
    snapshot_metrics = {m for m, spec in METRICS.items() if spec.source == "snapshot"}
    assert set(READERS) == snapshot_metrics
