"""Response shapes of the dashboard API, for OpenAPI (`/openapi.json`, `/docs`).

The large read endpoints return `JSONResponse` (orjson) directly and reference these models only in
`responses=` (documentation, no per-request validation cost). Units are in the field names;
times are UNIX epoch seconds (UTC).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class HotMetrics(BaseModel):
    cpu_percent: float | None = None
    memory_percent: float | None = None
    memory_total: int | None = Field(None, description="bytes")
    memory_used: int | None = Field(None, description="bytes")
    swap_percent: float | None = None
    load_1: float | None = None
    load_5: float | None = None
    load_15: float | None = None
    cpu_count_logical: int | None = None
    disk_percent_max: float | None = Field(None, description="fullest partition, percent")
    net_sent_bytes_per_sec: float | None = None
    net_recv_bytes_per_sec: float | None = None
    disk_read_bytes_per_sec: float | None = None
    disk_write_bytes_per_sec: float | None = None
    process_count: int | None = None
    thread_count: int | None = None
    uptime_seconds: float | None = None


class DiskSummary(BaseModel):
    mountpoint: str | None = None
    device: str | None = None
    fstype: str | None = None
    total: int | None = Field(None, description="bytes")
    used: int | None = Field(None, description="bytes")
    free: int | None = Field(None, description="bytes")
    percent: float | None = None


class ServerIdentity(BaseModel):
    id: str
    hostname: str
    display_name: str | None = None
    name: str = Field(description="display_name, else hostname")
    ip_address: str | None = None
    os_info: str | None = None
    group_name: str | None = None
    group_color: str | None = None
    tags: list[str] = []
    notes: str | None = None
    status: str = Field(description="online | offline (stale threshold, H4)")
    created_at: float
    last_seen: float | None = None
    last_snapshot_at: float | None = None
    interval_seconds: int | None = None
    agent_version: str | None = None
    thresholds: dict[str, float] = Field(description="effective: defaults + overrides")
    threshold_overrides: dict[str, float] = {}


class ServerOverview(ServerIdentity):
    metrics: HotMetrics | None = None
    disks: list[DiskSummary] = []
    alert_count: int = 0
    critical_alert_count: int = 0


class Summary(BaseModel):
    total_servers: int
    online_servers: int
    offline_servers: int
    active_alerts: int
    critical_alerts: int
    unread_notifications: int
    groups: int


class GroupCount(BaseModel):
    name: str
    color: str
    servers: int
    online: int


class Overview(BaseModel):
    generated_at: float
    summary: Summary
    groups: list[GroupCount]
    servers: list[ServerOverview]
    alerts: list[dict[str, Any]] = Field(description="recent alerts (alerts engine)")
    settings: dict[str, int]


class MinAvgMax(BaseModel):
    min: list[float | None]
    avg: list[float | None]
    max: list[float | None]


class History(BaseModel):
    tier: str = Field(description="raw | 1m | 1h: where the points come from")
    step_seconds: int = Field(description="bucket width of each point")
    points: int
    ts: list[float] = Field(description="start of each bucket (raw: first sample in it)")
    series: dict[str, MinAvgMax] = Field(description="per hot metric, columnar")
    from_: float = Field(alias="from")
    to: float


class ServerDetail(BaseModel):
    server: ServerIdentity
    summary: dict[str, Any] = Field(description="`metrics` (HotMetrics) and `disks`")
    latest: dict[str, Any] | None = Field(
        description="latest snapshot: metrics, disks, interfaces, processes, services, "
        "watched_processes, gpus, containers, system, collection, agent"
    )
    live: dict[str, Any] | None = Field(description="latest live sample")
    history: History
    alerts: list[dict[str, Any]]


class Stat(BaseModel):
    min: float | None
    avg: float | None
    max: float | None


class Benchmark(BaseModel):
    minutes: float
    samples: int
    cpu_percent: Stat
    memory_percent: Stat
    swap_percent: Stat
    process_count: Stat
    thread_count: Stat
    handle_count: Stat


class LiveData(BaseModel):
    server_id: str
    minutes: float
    samples: list[dict[str, Any]] = Field(description="live samples (seed-001 shape) + `ts`")
    latest: dict[str, Any] | None
    benchmark: Benchmark


class ServerChange(BaseModel):
    id: str
    changed: dict[str, Any]


class ServerDeleted(BaseModel):
    id: str
    deleted: dict[str, int] = Field(description="rows deleted per table")
    message: str


class Group(BaseModel):
    name: str
    color: str
    server_count: int


class GroupChange(BaseModel):
    name: str
    color: str


class CleanupResult(BaseModel):
    deleted: dict[str, int] = Field(description="rows deleted per table")
    cutoffs: dict[str, float] = Field(description="oldest time kept per table (epoch s)")
    duration_ms: float
    message: str
