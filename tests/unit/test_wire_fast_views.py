"""The msgspec twins mirror the wire models, and everything after parsing reads them alike.

- drift: every generated Struct has its model's fields in the model's order, and the same JSON
  Schema (types, bounds, lengths, defaults, required) but for what the fast path adds on purpose;
  a model the generator cannot mirror exactly is refused at import, never approximated;
- views: every attribute `events.SnapshotView` promises exists on a decoded Struct, with the
  value the pydantic model has (mypy checks only the pydantic side);
- downstream: hot values, alert readings, `prepare_snapshots` rows and the agent version are
  the same for both forms of the same body.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

import msgspec
import orjson
import pytest
from pydantic import BaseModel, ConfigDict, Field, field_validator

from factories import at, make_snapshot
from fleetwatch.hub import events
from fleetwatch.hub.alerts.metrics import METRICS
from fleetwatch.hub.ingest import decode as wire_fast
from fleetwatch.hub.ingest.service import hot_values, prepare_snapshots
from fleetwatch.hub.ingest.timewindow import BadTimestamp
from fleetwatch.hub.store import references
from fleetwatch.hub.store.timeseries import LIVE_HOT
from fleetwatch.protocol.models import LiveSample, Snapshot, SnapshotBatch

GPU = {"index": 3, "name": "A100", "temperature_celsius": 81.5, "memory_total_bytes": 7}
RICH = make_snapshot(
    gpus=[GPU, {**GPU, "index": 4, "temperature_celsius": None}],
    containers=[{"id": "c1", "name": "web", "cpu_percent": 150.0}],
    services=[
        {"service_name": "nginx", "status": "FAILED", "start_type": "automatic"},
        {"service_name": "backup", "status": "stopped", "start_type": "manual"},
        {"service_name": "cups", "status": "dead", "discovered": True},
    ],
)


def both(body: dict[str, Any]) -> tuple[Any, Snapshot]:
    raw = orjson.dumps(body)
    fast = wire_fast.decode_snapshots(raw)
    assert fast is not None and isinstance(fast[0][0], msgspec.Struct)
    return fast[0][0], Snapshot.model_validate_json(raw)


# --- drift ------------------------------------------------------------------------------------


def _norm(node: Any) -> Any:
    """A JSON Schema without titles and descriptions, `additionalProperties: false` (the fast
    path refuses unknown keys), its float bound of +-1e16, `[]`/`{}` defaults (pydantic omits
    factories') and empty `required` lists."""
    if isinstance(node, list):
        return [_norm(v) for v in node]
    if not isinstance(node, dict):
        return node
    patterns = node.get("patternProperties")
    if isinstance(patterns, dict) and len(patterns) == 1:  # pydantic's form of a key pattern
        ((pattern, value),) = patterns.items()
        names = {**node.get("propertyNames", {}), "pattern": pattern}
        rest = {k: v for k, v in node.items() if k != "patternProperties"}
        node = {**rest, "propertyNames": names, "additionalProperties": value}
    out = {}
    for key, value in node.items():
        added = (
            key in ("title", "description", "additionalProperties")
            or (key == "exclusiveMinimum" and value == -wire_fast.FLOAT_BOUND)
            or (key == "exclusiveMaximum" and value == wire_fast.FLOAT_BOUND)
            or (key in ("default", "required") and value in ([], {}))
        )
        if not added:
            out[key] = _norm(value)
    return out


def _named(node: dict[str, Any]) -> dict[str, Any]:
    """`_norm` of each member of a name -> schema dict (the names are data, kept as they are)."""
    return {name: _norm(schema) for name, schema in node.items()}


@pytest.mark.parametrize("model", [Snapshot, SnapshotBatch, LiveSample])
def test_structs_have_the_models_json_schema(model: type[BaseModel]) -> None:
    mine = model.model_json_schema()
    expected = {**mine.pop("$defs", {}), model.__name__: mine}
    generated = msgspec.json.schema(wire_fast.STRUCTS[model])["$defs"]
    for schema in [*generated.values(), *expected.values()]:
        schema["properties"] = _named(schema["properties"])
    assert _named(generated) == _named(expected)


def test_structs_have_the_models_fields_in_order() -> None:
    assert len(wire_fast.STRUCTS) >= 27
    for model, struct in wire_fast.STRUCTS.items():
        assert struct.__struct_fields__ == tuple(model.model_fields), model.__name__


class Aliased(BaseModel):
    x: int = Field(0, alias="X")


class Validated(BaseModel):
    x: int = 0

    @field_validator("x")
    @classmethod
    def _positive(cls, value: int) -> int:
        return abs(value)


class Patterned(BaseModel):
    x: Annotated[str, Field(pattern="^a")] = "a"


class Strict(BaseModel):
    model_config = ConfigDict(strict=True)
    x: int = 0


class Kept(BaseModel):
    model_config = ConfigDict(extra="allow")
    x: int = 0


class Union2(BaseModel):
    x: int | str = 0


class Dated(BaseModel):
    x: datetime | None = None


class Listed(BaseModel):
    x: list[int] = [1]


@pytest.mark.parametrize(
    "model", [Aliased, Validated, Patterned, Strict, Kept, Union2, Dated, Listed]
)
def test_what_cannot_be_mirrored_exactly_is_refused(model: type[BaseModel]) -> None:
    with pytest.raises(TypeError, match="wire_fast"):
        wire_fast.Mirror().struct(model)


# --- views ------------------------------------------------------------------------------------


def _members(protocol: type) -> dict[str, Any]:
    """Attribute -> declared type of a view protocol (annotations and properties)."""
    hints = typing.get_type_hints(protocol, vars(events))
    for name, value in vars(protocol).items():
        if isinstance(value, property) and value.fget is not None:
            hints[name] = typing.get_type_hints(value.fget, vars(events))["return"]
    return hints


def _compare(protocol: type, fast: Any, model: Any, where: str) -> int:
    """Every member of `protocol` on both objects, equal; nested views compared in turn."""
    seen = 0
    for name, hint in _members(protocol).items():
        a, b = getattr(fast, name), getattr(model, name)
        seen += 1
        if isinstance(hint, types.UnionType):  # `X | None`: X
            (hint,) = [arm for arm in typing.get_args(hint) if arm is not type(None)]
        origin = typing.get_origin(hint)
        inner = typing.get_args(hint)[-1] if origin else hint
        if origin is Sequence:
            assert len(a) == len(b), f"{where}.{name}"
            pairs = list(zip(a, b, strict=True))
        elif origin is Mapping:
            assert list(a) == list(b), f"{where}.{name}"
            pairs = [(a[k], b[k]) for k in a]
        else:
            pairs = [(a, b)]
        if a is not None and getattr(inner, "_is_protocol", False):
            seen += sum(_compare(inner, x, y, f"{where}.{name}") for x, y in pairs)
        else:  # a scalar (or None): the same value of the same type
            assert a == b and type(a) is type(b), f"{where}.{name}"
    return seen


@pytest.mark.parametrize("body", [RICH, make_snapshot(metrics={"swap": None, "cpu": None})])
def test_every_view_member_reads_the_same_from_both_forms(body: dict[str, Any]) -> None:
    fast, model = both(body)
    assert _compare(events.SnapshotView, fast, model, "snapshot") > 30


def test_live_view() -> None:
    raw = orjson.dumps({"cpu_percent": 12, "memory_percent": 40.5, "collected_at": "x"})
    fast = wire_fast.decode_live(raw)
    model = LiveSample.model_validate_json(raw)
    assert fast is not None and fast.collected_at == model.collected_at == "x"
    for name in LIVE_HOT:  # what `ingest_live` reads, by name
        assert getattr(fast, name) == getattr(model, name), name
        assert type(getattr(fast, name)) is type(getattr(model, name)), name
    assert wire_fast.to_json(fast) == wire_fast.to_json(model)


# --- downstream -------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [RICH, make_snapshot(metrics={"swap": None, "cpu": None})])
def test_hot_values_and_alert_readings_are_the_same(body: dict[str, Any]) -> None:
    fast, model = both(body)
    assert hot_values(fast) == hot_values(model)
    for name, spec in METRICS.items():
        if spec.read is not None:
            assert spec.read(fast) == spec.read(model), name


def test_prepared_rows_are_the_same() -> None:
    bodies = [make_snapshot(snapshot_id=f"s-{i}", collected_at=at(i)) for i in range(3)]
    bodies[1]["agent"]["version"] = "7.1"
    bodies[2]["agent"] = None
    raw = orjson.dumps({"snapshots": bodies})
    fast = wire_fast.decode_snapshots(raw)
    assert fast is not None and fast[1]
    model = SnapshotBatch.model_validate_json(raw).snapshots
    a = prepare_snapshots("srv", fast[0], 1.7e9, "snapshots", references.References())
    b = prepare_snapshots("srv", model, 1.7e9, "snapshots", references.References())
    assert a == b and a.agent_version == "7.1" and len(a.rows) == 3


def test_bad_timestamps_are_reported_alike() -> None:
    body = make_snapshot(collected_at="yesterday")
    raw = orjson.dumps({"snapshots": [make_snapshot(), body]})
    fast = wire_fast.decode_snapshots(raw)
    assert fast is not None
    model = SnapshotBatch.model_validate_json(raw).snapshots
    messages = []
    for snaps in (fast[0], model):
        with pytest.raises(BadTimestamp) as caught:
            prepare_snapshots("srv", snaps, 1.7e9, "snapshots", references.References())
        messages.append((caught.value.field, str(caught.value)))
    assert messages[0] == messages[1] == ("snapshots[1].collected_at", messages[0][1])
