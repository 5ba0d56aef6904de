"""Prometheus remote-write (issue 19.3): every stored snapshot's numbers, sent on to a TSDB
(VictoriaMetrics, Mimir, Thanos receive, Prometheus with `--web.enable-remote-write-receiver`).

The elected leader runs one `RemoteWriter` (`app._Singletons`). It follows the `snapshots`
table by row id, whichever hub process or replica committed the row, so ingest never waits for
it and a slow or absent TSDB costs ingest nothing. Rows become remote-write batches (protobuf
+ snappy, `protobuf.py`) in a queue bounded by `remote_write_queue_bytes`; batches are sent in
order, a failed send is retried with exponential backoff, and while the TSDB is away the queue
fills; once full the oldest batch is dropped and its samples counted
(`fleetwatch_hub_remote_write_samples_total{outcome="dropped"}`). The id of the last row sent
is kept in the database, so a restarted hub goes on where it stopped (unsent rows are read
again from the store); a new URL starts from the newest row.

Series: each snapshot's stored hot numbers (`store.tables.HOT_METRICS`), with the names and
units of `/metrics` (`HOT_SERIES`), labelled `server_id`, `hostname`, `group`, at the
snapshot's own time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from fleetwatch.hub.settings import HubSettings

#: hot column -> (series name, scale to the Prometheus unit)
HOT_SERIES: dict[str, tuple[str, float]] = {
    "cpu_percent": ("fleetwatch_cpu_usage_ratio", 0.01),
    "memory_percent": ("fleetwatch_memory_usage_ratio", 0.01),
    "swap_percent": ("fleetwatch_swap_usage_ratio", 0.01),
    "load_1": ("fleetwatch_load1", 1.0),
    "disk_percent_max": ("fleetwatch_filesystem_usage_max_ratio", 0.01),
    "net_sent_bytes_per_sec": ("fleetwatch_network_transmit_bytes_per_second", 1.0),
    "net_recv_bytes_per_sec": ("fleetwatch_network_receive_bytes_per_second", 1.0),
    "disk_read_bytes_per_sec": ("fleetwatch_disk_read_bytes_per_second", 1.0),
    "disk_write_bytes_per_sec": ("fleetwatch_disk_written_bytes_per_second", 1.0),
    "process_count": ("fleetwatch_processes", 1.0),
    "thread_count": ("fleetwatch_threads", 1.0),
}


@dataclass(frozen=True)
class RemoteWriteConfig:
    url: str
    username: str = ""
    password: str = ""
    bearer_token: str = ""
    batch_samples: int = 5000
    queue_bytes: int = 32 << 20
    max_backoff_seconds: float = 30.0
    timeout_seconds: float = 10.0
    poll_seconds: float = 1.0

    @classmethod
    def of(cls, settings: HubSettings) -> RemoteWriteConfig | None:
        """The `remote_write_<field>` hub settings as a config; None when no URL is set."""
        if not settings.remote_write_url:
            return None
        given = {f.name: getattr(settings, f"remote_write_{f.name}") for f in fields(cls)
                 if hasattr(settings, f"remote_write_{f.name}")}  # fmt: skip
        return cls(**given)
