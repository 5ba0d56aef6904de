"""The "service stopped" rule is quiet by default: only monitored services alert."""

from __future__ import annotations

from factories import make_snapshot
from fleetwatch.hub.alerts.metrics import METRICS
from fleetwatch.protocol.models import Snapshot


def _reading(services: list[dict[str, object]]) -> dict[str | None, float]:
    snapshot = Snapshot.model_validate(make_snapshot(services=services))
    read = METRICS["service_stopped"].read
    assert read is not None
    return dict(read(snapshot))


def test_monitored_stopped_service_alerts_discovered_one_does_not() -> None:
    reading = _reading(
        [
            {"service_name": "nginx", "status": "stopped", "start_type": "enabled"},
            {"service_name": "rsync", "status": "stopped", "discovered": True},
            {"service_name": "cron", "status": "running"},
            {"service_name": "fstrim", "status": "stopped", "start_type": "static"},
        ]
    )
    assert reading == {"nginx": 1.0, "cron": 0.0}
