"""The ingest fast path: msgspec twins of the wire models, generated from the pydantic models.

Why: for a ~4.4 KB snapshot, `Snapshot.model_validate_json` (~63 us) and pydantic's
serialisation of the stored form (~43 us) were a third of the hub's CPU per payload; msgspec
decodes, validates and encodes the same snapshot in a fraction of that. The pydantic models in
`protocol/models.py` stay the single source of truth: at import, each model's `model_fields` are
translated into a `msgspec.Struct` (same field names and order, types, defaults and default
factories, ge/gt/le/lt/min_length/max_length, anchored patterns), and whatever the translation
cannot mirror exactly (aliases, validators, other constraints, config that changes parsing)
raises here.

The fast path only ever *narrows* what is accepted. A body msgspec accepts is one pydantic
accepts with the same values, and `to_json` of its Struct is byte for byte pydantic's stored
form. Anything else makes `decode_*` return None, and the caller runs the pydantic path exactly
as before, so every error answer, and every coercion of pydantic's lax mode, stays pydantic's:
- strict types: "5" for an int, 5.0 for an int, 1 for a bool, null for a required value;
- unknown keys: pydantic ignores them but still parses them under its own JSON rules (nesting
  deeper than 200 is an error there, not in msgspec), so any unknown key goes to pydantic;
- floats of magnitude >= 1e16: both print the shortest repr, but pydantic writes `1e+16`
  where msgspec writes `1e16`; the same bound refuses inf (`1e999`), which pydantic refuses too.
`tests/unit/test_wire_fast*.py` check all of this against pydantic on a table of bodies.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Protocol, Union, get_args, get_origin

import annotated_types
import msgspec
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from fleetwatch.hub.events import SnapshotView
from fleetwatch.protocol.models import LiveSample, Snapshot, SnapshotBatch

#: floats are accepted strictly inside (-FLOAT_BOUND, FLOAT_BOUND): see the module docstring
FLOAT_BOUND = 1e16
#: `model_config` keys that change neither what validates nor how it serialises
_NEUTRAL_CONFIG = frozenset({"extra", "allow_inf_nan", "frozen"})
_CONSTRAINTS: dict[type, str] = {
    annotated_types.Ge: "ge",
    annotated_types.Gt: "gt",
    annotated_types.Le: "le",
    annotated_types.Lt: "lt",
    annotated_types.MinLen: "min_length",
    annotated_types.MaxLen: "max_length",
}
_NUMBER = frozenset({"ge", "gt", "le", "lt"})
_LENGTH = frozenset({"min_length", "max_length"})
#: a `pattern` is searched (not fully matched) by both pydantic-core and msgspec; patterns are
#: mirrored only when they are anchored at both ends, where the two engines agree
_STRING = _LENGTH | {"pattern"}


class LiveView(Protocol):
    """A validated live sample: `protocol.models.LiveSample` or its twin (read by attribute)."""

    collected_at: str | None


def _constraints(extras: Sequence[Any]) -> dict[str, Any]:
    """`Annotated` metadata (pydantic `FieldInfo`s or annotated-types objects) -> Meta kwargs."""
    out: dict[str, Any] = {}
    for extra in extras:
        if isinstance(extra, FieldInfo):
            out.update(_constraints(extra.metadata))
            continue
        name = _CONSTRAINTS.get(type(extra))
        pattern = getattr(extra, "pattern", None)
        if name is None and isinstance(pattern, str) and _anchored(pattern):
            out["pattern"] = pattern
            continue
        if name is None:
            raise TypeError(f"wire_fast cannot mirror the constraint {extra!r}")
        out[name] = getattr(extra, name)
    return out


def _anchored(pattern: str) -> bool:
    return pattern.startswith("^") and pattern.endswith("$") and "|" not in pattern


def _meta(base: Any, constraints: dict[str, Any], allowed: frozenset[str]) -> Any:
    if not constraints:
        return base
    if not set(constraints) <= allowed:
        raise TypeError(f"wire_fast cannot mirror {sorted(constraints)} on {base!r}")
    return Annotated[base, msgspec.Meta(**constraints)]


def _float(constraints: dict[str, Any]) -> Any:
    """A float inside the model's bounds and strictly inside +-FLOAT_BOUND."""
    bounds = dict(constraints)
    low = bounds.get("ge", bounds.get("gt"))
    if low is None or low <= -FLOAT_BOUND:
        bounds.pop("ge", None)
        bounds["gt"] = -FLOAT_BOUND
    high = bounds.get("le", bounds.get("lt"))
    if high is None or high >= FLOAT_BOUND:
        bounds.pop("le", None)
        bounds["lt"] = FLOAT_BOUND
    return _meta(float, bounds, _NUMBER)


def _immutable(name: str, default: Any) -> Any:
    if default is None or isinstance(default, bool | int | float | str):
        return default
    raise TypeError(f"wire_fast cannot mirror the default {default!r} of {name}")


class Mirror:
    """Translates pydantic models into Structs, once per model (nested models are shared)."""

    def __init__(self) -> None:
        self.structs: dict[type[BaseModel], type[msgspec.Struct]] = {}

    def struct(self, model: type[BaseModel]) -> type[msgspec.Struct]:
        made = self.structs.get(model)
        if made is not None:
            return made
        odd = {k: v for k, v in model.model_config.items() if k not in _NEUTRAL_CONFIG}
        decorators = model.__pydantic_decorators__
        hooks = [getattr(decorators, f.name) for f in dataclasses.fields(decorators)]
        if odd or any(hooks) or model.model_config.get("extra", "ignore") == "allow":
            raise TypeError(f"wire_fast cannot mirror {model.__name__}: {odd or hooks}")
        fields = [self._field(name, info) for name, info in model.model_fields.items()]
        made = msgspec.defstruct(
            model.__name__, fields, kw_only=True, forbid_unknown_fields=True, module=__name__
        )
        self.structs[model] = made
        return made

    def _field(self, name: str, info: FieldInfo) -> tuple[Any, ...]:
        where = f"{name}: {info!r}"
        extras = (info.alias, info.validation_alias, info.serialization_alias, info.exclude)
        if any(x is not None for x in extras) or info.discriminator is not None:
            raise TypeError(f"wire_fast cannot mirror {where}")
        kind = self.type_of(info.annotation, _constraints(info.metadata))
        factory = info.default_factory
        if factory is not None:
            return (name, kind, msgspec.field(default_factory=self._factory(where, factory)))
        if info.is_required():
            return (name, kind)
        return (name, kind, _immutable(where, info.default))

    def _factory(self, where: str, factory: Any) -> Callable[[], Any]:
        if factory is list or factory is dict:
            made: Callable[[], Any] = factory
            return made
        if isinstance(factory, type) and issubclass(factory, BaseModel):
            return self.struct(factory)
        raise TypeError(f"wire_fast cannot mirror the default factory of {where}")

    def type_of(self, hint: Any, constraints: dict[str, Any]) -> Any:
        """The msgspec type of a field annotation; `constraints` apply to its non-None arm."""
        origin = get_origin(hint)
        args = get_args(hint)
        if origin is Annotated:
            return self.type_of(args[0], {**constraints, **_constraints(args[1:])})
        if origin is Union or origin is types.UnionType:
            arms = [arm for arm in args if arm is not type(None)]
            if len(arms) != 1 or len(args) != 2:
                raise TypeError(f"wire_fast mirrors only `X | None` unions, not {hint!r}")
            return self.type_of(arms[0], constraints) | None
        if origin is list:
            item: Any = self.type_of(args[0], {})
            return _meta(list[item], constraints, _LENGTH)
        if origin is dict:
            key: Any = self.type_of(args[0], {})
            value: Any = self.type_of(args[1], {})
            return _meta(dict[key, value], constraints, _LENGTH)
        if isinstance(hint, type) and issubclass(hint, BaseModel) and not constraints:
            return self.struct(hint)
        if hint is bool and not constraints:
            return bool
        if hint is int:
            return _meta(int, constraints, _NUMBER)
        if hint is float:
            return _float(constraints)
        if hint is str:
            return _meta(str, constraints, _STRING)
        raise TypeError(f"wire_fast cannot mirror {hint!r} with {constraints}")


_MIRROR = Mirror()
#: the twins of `Snapshot`, `SnapshotBatch` and `LiveSample` (and, in `STRUCTS`, of every model
#: they contain)
SnapshotStruct = _MIRROR.struct(Snapshot)
SnapshotBatchStruct = _MIRROR.struct(SnapshotBatch)
LiveSampleStruct = _MIRROR.struct(LiveSample)
STRUCTS: dict[type[BaseModel], type[msgspec.Struct]] = dict(_MIRROR.structs)

# The Structs' fields are made at run time, so mypy sees decoded values as `Any`; they are typed
# as the views they are (`events.SnapshotView`, `LiveView`; checked by test_wire_fast_views.py).
_SNAPSHOT: msgspec.json.Decoder[Any] = msgspec.json.Decoder(SnapshotStruct)
_BATCH: msgspec.json.Decoder[Any] = msgspec.json.Decoder(SnapshotBatchStruct)
_LIVE: msgspec.json.Decoder[Any] = msgspec.json.Decoder(LiveSampleStruct)
_ENCODER = msgspec.json.Encoder()


def decode_snapshots(raw: bytes) -> tuple[list[SnapshotView], bool] | None:
    """`ingest.routes.parse_snapshots` on the fast path: (snapshots, is_batch), or None for "ask
    pydantic". A batch is tried only when pydantic would try one: the body is not a snapshot
    (with no key besides `snapshots`, its only error is the missing `metrics`) and it spells
    `"snapshots"` literally."""
    try:
        snapshot: SnapshotView = _SNAPSHOT.decode(raw)
        return [snapshot], False
    except Exception:  # any refusal, whatever its kind: pydantic decides
        pass
    if b'"snapshots"' not in raw:
        return None
    try:
        snapshots: list[SnapshotView] = _BATCH.decode(raw).snapshots
        return snapshots, True
    except Exception:
        return None


def decode_live(raw: bytes) -> LiveView | None:
    """A live sample on the fast path, or None for "ask pydantic"."""
    try:
        sample: LiveView = _LIVE.decode(raw)
        return sample
    except Exception:
        return None


def to_json(value: SnapshotView | LiveView) -> bytes:
    """The stored form, `model_dump(mode="json")` as JSON text: pydantic-core serialises a model,
    msgspec its twin (the same bytes: every key, absent optionals as null, model order)."""
    if isinstance(value, msgspec.Struct):
        return _ENCODER.encode(value)
    if isinstance(value, BaseModel):
        return value.__pydantic_serializer__.to_json(value)
    raise TypeError(f"not a wire model: {type(value).__name__}")
