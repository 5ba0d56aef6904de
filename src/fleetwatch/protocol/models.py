"""Versioned wire models (pydantic). Hub-side validation of everything agents send.

Naming: seed-001 keys are kept exactly (`memory_total`, `disks[].total`, ... in bytes) so
seed-001 agents and clients keep working; every field fleetwatch adds carries its unit in its
name (`_bytes`, `_per_sec`, `_percent`, `_mhz`, `_celsius`, `_seconds`, `_total`).
All numbers are finite; counters, sizes and rates are non-negative and bounded (integers fit a
signed 64-bit column, floats stay below `FLOAT_MAX`); strings hold no NUL (PostgreSQL refuses
it). Anything else is a 422 naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from fleetwatch.protocol.version import PROTOCOL_VERSION

#: the largest integer a signed 64-bit column holds (SQLite INTEGER, PostgreSQL BIGINT)
INT_MAX = 2**63 - 1
#: the largest non-negative float (rates, seconds, watts, MiB): far beyond any real reading
FLOAT_MAX = 1e15
#: strings match this: no NUL character anywhere (the message says so: `NUL_MESSAGE`)
NO_NUL = r"^[^\x00]*$"
NUL_MESSAGE = "must not contain NUL (\\u0000) characters"

NonNeg = Annotated[float, Field(ge=0, le=FLOAT_MAX)]
NonNegInt = Annotated[int, Field(ge=0, le=INT_MAX)]
Percent = Annotated[float, Field(ge=0, le=100)]
# Per-process CPU can exceed 100 % on multi-core hosts.
ProcPercent = Annotated[float, Field(ge=0, le=100_000)]
Name = Annotated[str, Field(max_length=255, pattern=NO_NUL)]
Text = Annotated[str, Field(max_length=4096, pattern=NO_NUL)]
Ident = Annotated[str, Field(max_length=64, pattern=NO_NUL)]


class Wire(BaseModel):
    """Base: finite numbers only; unknown keys ignored (forward compatibility)."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, frozen=False)


# --- A1: system metrics -----------------------------------------------------------------


class Disk(Wire):
    """One mounted partition (seed-001 shape; sizes in bytes)."""

    device: Name = ""
    mountpoint: Name
    fstype: Name = ""
    total: NonNegInt
    used: NonNegInt
    free: NonNegInt
    percent: Percent
    watched: bool = False  # True for an explicitly configured watched path


class NetworkTotals(Wire):
    """All interfaces but loopback summed (seed-001 keys are cumulative counters), rates, errors."""

    bytes_sent: NonNegInt = 0
    bytes_recv: NonNegInt = 0
    packets_sent: NonNegInt = 0
    packets_recv: NonNegInt = 0
    errin: NonNegInt = 0
    errout: NonNegInt = 0
    dropin: NonNegInt = 0
    dropout: NonNegInt = 0
    bytes_sent_per_sec: NonNeg | None = None
    bytes_recv_per_sec: NonNeg | None = None
    packets_sent_per_sec: NonNeg | None = None
    packets_recv_per_sec: NonNeg | None = None
    #: errors (in + out) and drops (in + out) per second since the previous snapshot
    errors_per_sec: NonNeg | None = None
    drops_per_sec: NonNeg | None = None


class Interface(NetworkTotals):
    """One network interface (seed-002 counters plus rates and state)."""

    name: Name
    is_up: bool | None = None
    speed_mbps: NonNegInt | None = None
    mtu: NonNegInt | None = None
    addresses: list[Name] = Field(default_factory=list, max_length=64)


class Cpu(Wire):
    percent: Percent
    per_core_percent: list[Percent] = Field(default_factory=list, max_length=4096)
    count_logical: NonNegInt | None = None
    count_physical: NonNegInt | None = None
    freq_current_mhz: NonNeg | None = None
    freq_max_mhz: NonNeg | None = None
    load_1: NonNeg | None = None
    load_5: NonNeg | None = None
    load_15: NonNeg | None = None


class Memory(Wire):
    total_bytes: NonNegInt
    used_bytes: NonNegInt
    free_bytes: NonNegInt
    available_bytes: NonNegInt | None = None
    percent: Percent


class Swap(Wire):
    total_bytes: NonNegInt = 0
    used_bytes: NonNegInt = 0
    free_bytes: NonNegInt = 0
    percent: Percent = 0.0


class DiskIO(Wire):
    """Whole-host disk I/O: cumulative counters and rates (rates absent on the first sample)."""

    read_bytes_total: NonNegInt = 0
    write_bytes_total: NonNegInt = 0
    read_count_total: NonNegInt = 0
    write_count_total: NonNegInt = 0
    read_bytes_per_sec: NonNeg | None = None
    write_bytes_per_sec: NonNeg | None = None
    read_count_per_sec: NonNeg | None = None
    write_count_per_sec: NonNeg | None = None


class Temperature(Wire):
    chip: Name
    label: Name = ""
    current_celsius: float = Field(ge=-273.15, le=1000)
    high_celsius: float | None = Field(default=None, ge=-273.15, le=1000)
    critical_celsius: float | None = Field(default=None, ge=-273.15, le=1000)


class Fan(Wire):
    chip: Name
    label: Name = ""
    rpm: NonNeg


class Battery(Wire):
    percent: Percent
    plugged: bool | None = None
    seconds_left: NonNeg | None = None


class Sensors(Wire):
    temperatures: list[Temperature] = Field(default_factory=list, max_length=1024)
    fans: list[Fan] = Field(default_factory=list, max_length=1024)
    battery: Battery | None = None


class Metrics(Wire):
    """`metrics` of a full snapshot. The first nine keys are seed 001's, unchanged."""

    cpu_percent: Percent
    memory_total: NonNegInt
    memory_used: NonNegInt
    memory_free: NonNegInt
    memory_percent: Percent
    disks: list[Disk] = Field(default_factory=list, max_length=1024)
    network: NetworkTotals = Field(default_factory=NetworkTotals)
    uptime_seconds: NonNeg | None = None
    boot_time: Name | None = None  # ISO 8601
    # fleetwatch additions (all optional so seed-001 agents validate)
    cpu: Cpu | None = None
    memory: Memory | None = None
    swap: Swap | None = None
    disk_io: DiskIO | None = None
    interfaces: list[Interface] = Field(default_factory=list, max_length=1024)
    process_count: NonNegInt | None = None
    thread_count: NonNegInt | None = None
    handle_count: NonNegInt | None = None
    sensors: Sensors | None = None


# --- A2: processes ----------------------------------------------------------------------


class Process(Wire):
    """A top process (seed-001 shape; `memory_mb` in MiB)."""

    pid: NonNegInt
    name: Name
    cpu_percent: ProcPercent = 0.0
    memory_percent: Percent = 0.0
    memory_mb: NonNeg = 0.0
    status: Name = ""
    username: Name | None = None
    num_threads: NonNegInt | None = None
    cmdline: Text | None = None


class WatchedInstance(Wire):
    """One running instance of a watched process (seed 002 fields, units added)."""

    pid: NonNegInt
    name: Name
    cpu_percent: ProcPercent = 0.0
    cpu_affinity: list[NonNegInt] | None = None
    memory_percent: Percent = 0.0
    memory_rss_bytes: NonNegInt = 0
    memory_vms_bytes: NonNegInt = 0
    memory_shared_bytes: NonNegInt | None = None


class WatchedProcess(Wire):
    alive: bool
    instances: list[WatchedInstance] = Field(default_factory=list, max_length=1024)


# --- A3: services -----------------------------------------------------------------------


class Service(Wire):
    """A system service (seed-001 shape)."""

    service_name: Name
    display_name: Name | None = None
    status: Name  # running | stopped | error | unknown (+ raw states kept as given)
    start_type: Name | None = None
    pid: NonNegInt | None = None
    #: True when the agent found it by auto-discovery rather than `monitored_services`;
    #: discovered services are shown but do not raise "service stopped" alerts by default.
    discovered: bool = False


# --- A4 / A5: GPUs and containers -------------------------------------------------------


class Gpu(Wire):
    index: NonNegInt
    name: Name
    uuid: Name | None = None
    driver_version: Name | None = None
    memory_total_bytes: NonNegInt | None = None
    memory_used_bytes: NonNegInt | None = None
    memory_free_bytes: NonNegInt | None = None
    utilization_percent: Percent | None = None
    temperature_celsius: float | None = Field(default=None, ge=-273.15, le=1000)
    power_draw_watts: NonNeg | None = None
    power_limit_watts: NonNeg | None = None


class Container(Wire):
    id: Name
    name: Name
    image: Name = ""
    state: Name = ""
    status: Name = ""
    cpu_percent: ProcPercent | None = None
    memory_used_bytes: NonNegInt | None = None
    memory_limit_bytes: NonNegInt | None = None
    memory_percent: Percent | None = None


# --- identity, collection status, agent self-measurement --------------------------------


class System(Wire):
    hostname: Name
    ip_addresses: list[Name] = Field(default_factory=list, max_length=256)
    os: Name = ""  # e.g. "Linux", "Windows"
    os_release: Name = ""  # e.g. "Debian GNU/Linux 12 (bookworm)"
    kernel: Name = ""
    arch: Name = ""
    boot_time: Name | None = None
    uptime_seconds: NonNeg | None = None


class SourceStatus(Wire):
    """Which data source a family used, and why it is empty when it is."""

    source: Name  # e.g. "systemd", "sysv", "nvml", "nvidia-smi", "docker", "none"
    detail: Text | None = None


class Collection(Wire):
    duration_ms: NonNeg = 0.0
    sources: dict[Name, SourceStatus] = Field(default_factory=dict)
    warnings: list[Text] = Field(default_factory=list, max_length=256)


class AgentSelf(Wire):
    """B2: the agent's own footprint."""

    version: Name = ""
    cpu_percent: ProcPercent | None = None
    rss_bytes: NonNegInt | None = None
    process_scan_every: NonNegInt = 1  # >1 over the CPU budget: processes, sensors, GPUs
    over_budget: bool = False


class Snapshot(Wire):
    """A full snapshot: `POST /api/metrics` body (or one element of a batch)."""

    protocol_version: NonNegInt = 0
    snapshot_id: Ident | None = None
    collected_at: Name | None = None  # ISO 8601 UTC
    metrics: Metrics
    processes: list[Process] = Field(default_factory=list, max_length=1000)
    services: list[Service] = Field(default_factory=list, max_length=5000)
    system: System | None = None
    watched_processes: dict[Name, WatchedProcess] = Field(default_factory=dict)
    gpus: list[Gpu] = Field(default_factory=list, max_length=64)
    containers: list[Container] = Field(default_factory=list, max_length=5000)
    collection: Collection | None = None
    agent: AgentSelf | None = None


class SnapshotBatch(Wire):
    """Batched replay: `{"snapshots": [...]}`; each snapshot should carry a `snapshot_id`."""

    snapshots: list[Snapshot] = Field(min_length=1, max_length=1000)


# --- A6: live sample (seed-001 `/api/metrics/live` shape) --------------------------------


class NetworkRate(Wire):
    """Rates since the previous sample; null on an agent's first sample (no counter before
    it: a 0 there would draw a fake idle point)."""

    bytes_sent_per_sec: NonNeg | None = 0.0
    bytes_recv_per_sec: NonNeg | None = 0.0
    packets_sent_per_sec: NonNeg | None = 0.0
    packets_recv_per_sec: NonNeg | None = 0.0


class DiskIORate(Wire):
    """As `NetworkRate`: null on the first sample."""

    read_bytes_per_sec: NonNeg | None = 0.0
    write_bytes_per_sec: NonNeg | None = 0.0
    read_count_per_sec: NonNeg | None = 0.0
    write_count_per_sec: NonNeg | None = 0.0


class LiveSample(Wire):
    protocol_version: NonNegInt = 0
    sample_id: Ident | None = None
    collected_at: Name | None = None
    cpu_percent: Percent
    cpu_per_core: list[Percent] = Field(default_factory=list, max_length=4096)
    cpu_freq_mhz: NonNeg | None = None
    memory_percent: Percent
    memory_used: NonNegInt = 0
    memory_available: NonNegInt = 0
    swap_percent: Percent = 0.0
    swap_used: NonNegInt = 0
    network_rate: NetworkRate = Field(default_factory=NetworkRate)
    disk_io_rate: DiskIORate = Field(default_factory=DiskIORate)
    process_count: NonNegInt = 0
    thread_count: NonNegInt = 0
    handle_count: NonNegInt = 0


# --- H1: registration -------------------------------------------------------------------


class Registration(Wire):
    """`POST /api/register` body. Real seed-001 agents send extra fields; those kept are here."""

    hostname: Annotated[str, Field(min_length=1, max_length=255, pattern=NO_NUL)]
    ip_address: Name | None = None
    os_info: Name | None = None
    display_name: Name | None = None
    group_name: Name | None = None
    tags: list[Name] = Field(default_factory=list, max_length=64)
    agent_version: Name | None = None


class RegistrationResult(Wire):
    server_id: str
    api_key: str
    message: str


def json_schema() -> dict[str, Any]:
    """JSON Schema of every wire model, keyed by model name (`fleetwatch protocol schema`)."""
    models: list[type[BaseModel]] = [Snapshot, SnapshotBatch, LiveSample, Registration]
    return {
        "protocol_version": PROTOCOL_VERSION,
        "models": {m.__name__: m.model_json_schema() for m in models},
    }
