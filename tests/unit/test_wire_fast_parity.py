"""The ingest fast path against pydantic, body by body: same answers, same stored bytes.

`reference_*` are the pydantic-only parsers ingest used before `api/wire_fast.py` (copied
verbatim). For every body: `parse_snapshots` / `parse_live` answer exactly as the reference
(the same stored bytes, or the same API error), and whenever msgspec alone accepted the body,
pydantic accepted it too. Real bodies (tests' factories, seed 001, the benchmark's and the
demo's payloads, the agent's own snapshot) must take the fast path, or it would be dead code.
Edge cases and the fuzzed bodies live in `test_wire_fast_edges.py`.
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from factories import make_snapshot
from fleetwatch.agent.snapshot import SnapshotCollector, Sources
from fleetwatch.demo.fleet import make_fleet
from fleetwatch.demo.payloads import make_live_sample
from fleetwatch.demo.payloads import make_snapshot as demo_snapshot
from fleetwatch.hub.api.bodies import validation_error
from fleetwatch.hub.api.errors import ApiError
from fleetwatch.hub.ingest import decode as wire_fast
from fleetwatch.hub.ingest.routes import parse_live, parse_snapshots
from fleetwatch.protocol.agent_config import validate
from fleetwatch.protocol.models import LiveSample, Snapshot, SnapshotBatch

Outcome = tuple[Any, ...]


def reference_snapshots(raw: bytes) -> Outcome:
    """Before the fast path: `parse_snapshots` with pydantic alone, then the stored bytes."""
    try:
        try:
            snaps, batch = [Snapshot.model_validate_json(raw)], False
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            looks_batched = any(e["type"] == "missing" and e["loc"] == ("metrics",) for e in errors)
            if not looks_batched or b'"snapshots"' not in raw:
                raise validation_error(exc) from None
            try:
                snaps, batch = SnapshotBatch.model_validate_json(raw).snapshots, True
            except ValidationError as exc:
                raise validation_error(exc, batch=True) from None
    except ApiError as exc:
        return ("error", exc.status, exc.code, exc.message, exc.field)
    return ("ok", batch, [s.__pydantic_serializer__.to_json(s) for s in snaps])


def reference_live(raw: bytes) -> Outcome:
    try:
        sample = LiveSample.model_validate_json(raw)
    except ValidationError as exc:
        err = validation_error(exc)
        return ("error", err.status, err.code, err.message, err.field)
    return ("ok", sample.__pydantic_serializer__.to_json(sample))


def current_snapshots(raw: bytes) -> Outcome:
    try:
        snaps, batch = parse_snapshots(raw)
    except ApiError as exc:
        return ("error", exc.status, exc.code, exc.message, exc.field)
    return ("ok", batch, [wire_fast.to_json(s) for s in snaps])


def current_live(raw: bytes) -> Outcome:
    try:
        sample = parse_live(raw)
    except ApiError as exc:
        return ("error", exc.status, exc.code, exc.message, exc.field)
    return ("ok", wire_fast.to_json(sample))


def check_snapshots(raw: bytes) -> bool:
    """Asserts parity for one body; True when msgspec alone accepted it."""
    reference = reference_snapshots(raw)
    assert current_snapshots(raw) == reference, raw[:300]
    fast = wire_fast.decode_snapshots(raw)
    if fast is None:
        return False
    snaps, batch = fast
    assert reference == ("ok", batch, [wire_fast.to_json(s) for s in snaps]), raw[:300]
    return True


def check_live(raw: bytes) -> bool:
    reference = reference_live(raw)
    assert current_live(raw) == reference, raw[:300]
    fast = wire_fast.decode_live(raw)
    if fast is None:
        return False
    assert reference == ("ok", wire_fast.to_json(fast)), raw[:300]
    return True


def _bench_payloads() -> Any:
    path = Path(__file__).parents[2] / "bench" / "payloads.py"
    spec = importlib.util.spec_from_file_location("fleetwatch_bench_payloads", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SEED_001 = {  # the seed-001 example payload (tests/contract/test_ingest_api.py)
    "metrics": {
        "cpu_percent": 45.2,
        "memory_total": 17179869184,
        "memory_used": 8589934592,
        "memory_free": 8589934592,
        "memory_percent": 50.0,
        "disks": [
            {
                "device": "C:\\",
                "mountpoint": "C:\\",
                "total": 500000000000,
                "used": 250000000000,
                "free": 250000000000,
                "percent": 50.0,
            }
        ],
        "network": {"bytes_sent": 1, "bytes_recv": 2, "packets_sent": 3, "packets_recv": 4},
        "uptime_seconds": 86400,
        "boot_time": "2025-01-01T00:00:00",
    },
    "processes": [{"pid": 1234, "name": "node.exe", "cpu_percent": 12.5}],
    "services": [{"service_name": "W3SVC", "status": "running", "start_type": "automatic"}],
}
GPU = {"index": 0, "name": "A100", "uuid": "GPU-1", "temperature_celsius": 83.0}
CONTAINER = {"id": "abc", "name": "web", "cpu_percent": 250.5, "memory_used_bytes": 10}


def real_snapshots() -> list[dict[str, Any]]:
    rng = random.Random(7)
    bench = _bench_payloads()
    servers = [bench.SimulatedServer(i, rng) for i in range(8)]
    fleet = make_fleet(12, seed=3, now=1.75e9)
    return [
        make_snapshot(),
        make_snapshot(gpus=[GPU, {**GPU, "index": 1}], containers=[CONTAINER]),
        make_snapshot(metrics={"sensors": {"battery": {"percent": 80, "plugged": True}}}),
        SEED_001,
        *(s.snapshot(1.7e9 + 61.5 * k) for k in range(3) for s in servers),
        *(demo_snapshot(p, 1.75e9 + 30 * k) for k in range(2) for p in fleet),
    ]


@pytest.fixture(scope="module")
def agent_collector(tmp_path_factory: pytest.TempPathFactory) -> SnapshotCollector:
    """The agent's own collection code on this host (no GPU tools, no docker, in-line)."""

    def no_tool(*args: Any, **kwargs: Any) -> str:
        raise FileNotFoundError(args[0][0] if args and args[0] else "tool")

    sources = Sources(
        nvml_loader=lambda: None,
        gpu_runner=no_tool,
        docker_socket=str(tmp_path_factory.mktemp("agent") / "docker.sock"),
        services_in_background=False,
    )
    collector = SnapshotCollector(validate({}), sources=sources)
    collector.prime()
    return collector


@pytest.mark.parametrize("body", real_snapshots(), ids=lambda b: str(b.get("snapshot_id"))[:12])
def test_real_snapshots_take_the_fast_path_with_the_same_bytes(body: dict[str, Any]) -> None:
    assert check_snapshots(orjson.dumps(body))
    assert check_snapshots(orjson.dumps(body, option=orjson.OPT_INDENT_2))


def test_batches_take_the_fast_path_with_the_same_bytes() -> None:
    bodies = real_snapshots()
    assert check_snapshots(orjson.dumps({"snapshots": bodies}))
    assert check_snapshots(orjson.dumps({"snapshots": bodies[:1]}))
    fast = wire_fast.decode_snapshots(orjson.dumps({"snapshots": bodies}))
    assert fast is not None and fast[1] is True and len(fast[0]) == len(bodies)


def test_the_agents_own_snapshots_and_live_samples(agent_collector: SnapshotCollector) -> None:
    for _ in range(2):  # the first has no rates yet, the second has
        assert check_snapshots(orjson.dumps(agent_collector.collect()))
        assert check_live(orjson.dumps(agent_collector.collect_live()))


def test_real_live_samples_take_the_fast_path_with_the_same_bytes() -> None:
    seed_live = {"cpu_percent": 12.5, "memory_percent": 40.0, "network_rate": {}}
    assert check_live(orjson.dumps(seed_live))
    for profile in make_fleet(6, seed=5, now=1.75e9):
        assert check_live(orjson.dumps(make_live_sample(profile, 1.75e9 + 0.5)))
    assert not check_live(b'{"cpu_percent": 12.5}')  # memory_percent missing: pydantic's error
    assert not check_live(b'{"cpu_percent": "12.5", "memory_percent": 1}')  # lax: pydantic's
