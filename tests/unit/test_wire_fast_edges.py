"""The ingest fast path on edge cases and fuzzed bodies: never more lenient than pydantic.

Each case injects raw JSON text at one place of a valid snapshot and runs `check_snapshots`
(`test_wire_fast_parity.py`): `parse_snapshots` answers exactly as the pydantic-only reference,
and a body msgspec accepts alone is one pydantic accepts, stored with the same bytes. `fast`
says which path the body must take where that is part of the design (None: either).
"""

from __future__ import annotations

import json
import random
from typing import Any

import orjson
import pytest
from test_wire_fast_parity import SEED_001, check_snapshots

from factories import deep_merge, make_snapshot
from fleetwatch.hub.ingest import decode as wire_fast

HOLE = "@@hole@@"
TEMP = ("metrics", "sensors", "temperatures", 0, "current_celsius")
FLOAT_FIELDS = [("metrics", "cpu_percent"), ("metrics", "uptime_seconds"), TEMP]
INT_FIELDS = [("metrics", "memory_total"), ("processes", 0, "pid"), ("metrics", "process_count")]
STR_FIELDS = [("system", "hostname"), ("processes", 0, "cmdline"), ("snapshot_id",)]
Path = tuple[str | int, ...]


def put(body: Any, path: Path, value: Any) -> Any:
    out = deep_merge(body, {}) if isinstance(body, dict) else list(body)
    head, rest = path[0], path[1:]
    if rest:
        out[head] = put(out[head], rest, value)
    else:
        out[head] = value
    return out


def with_text(path: Path, text: bytes, body: dict[str, Any] | None = None) -> bytes:
    """A valid snapshot whose value at `path` is the raw JSON `text`."""
    raw = orjson.dumps(put(body or make_snapshot(), path, HOLE))
    return raw.replace(f'"{HOLE}"'.encode(), text)


#: (JSON text, whether it takes the fast path in `metrics.uptime_seconds`: NonNeg | None)
FLOATS: list[tuple[str, bool]] = [
    ("12", True), ("12.0", True), ("0", True), ("-0", True), ("-0.0", True), ("1e-05", True),
    ("1e-5", True), ("0.30000000000000004", True), ("0.1", True), ("1E2", True), ("1e+2", True),
    ("100.00000000000001", True), ("100.0000000000001", True), ("5e-324", True),
    ("-1e-320", False), ("1e-7", True), ("1e15", True), ("1000000000000000.1", False),
    ("9999999999999998", False), ("1e16", False),
    ("123456789012345678", False), ("18446744073709551616", False), ("1" + "0" * 400, False),
    ("1e999", False), ("-1e999", False), ("NaN", False), ("Infinity", False),
    ("-Infinity", False), ('"5"', False), ('"NaN"', False), ('"inf"', False), ("true", False),
    ("null", True), ("[]", False), ("{}", False), ("-273.15", False), ("-273.16", False),
    ("1000", True), ("1000.0000000001", True), ("0.1e1", True), ("123.456e-2", True),
    ("1." + "0" * 5000 + "1", True), ("1" * 17 + "." + "1" * 5000, False),
    ("1e-0000000000000000000000000005", True), ("1e-99999999999999999999", True),
    ("0." + "0" * 400 + "1e400", True),
]  # fmt: skip
INTS: list[tuple[str, bool | None]] = [
    ("0", True), ("5", True), ("-0", True), ("5.0", False), ("5.5", False), ("-1", False),
    ("1e2", False), ("true", False), ('"5"', False), ('"5.0"', False), ("null", None),
    ("9223372036854775807", True), ("9223372036854775808", False),
    ("18446744073709551616", None), ("1" * 4300, None), ("1" * 4301, False),
    ("-9223372036854775809", False), ("0.0", False), ("[5]", False),
]  # fmt: skip
BOOLS = ["true", "false", "1", "0", '"true"', '"yes"', "null", "1.0", '"on"']
#: (JSON text, whether it takes the fast path in every string field; None: it depends on the
#: field's length limit, or on whether it may be null)
STRINGS: list[tuple[bytes, bool | None]] = [
    (b'""', True), (b'"x"', True), (b'"\\u00e9\\u00E9"', True), ('"é😀"'.encode(), True),
    (b'"\\ud83d\\ude00"', True), (b'"\\ud800"', False), (b'"\\udc00x"', False),
    (b'"a\\u0000b"', False), (b'"\\u0000"', False),
    (b'"\\u001f\\u007f\\u2028\\u2029\\ufeff\\uffff"', True),
    (b'"\\/\\"\\\\\\b\\f\\n\\r\\t"', True), (b'"a\xffb"', False), (b'"a\x01b"', False),
    (b'"\xed\xa0\x80"', False), (b"5", False), (b"null", None),
    (('"' + "é" * 64 + '"').encode(), True), (('"' + "é" * 65 + '"').encode(), None),
    (('"' + "😀" * 255 + '"').encode(), None), (('"' + "😀" * 256 + '"').encode(), None),
    (b'"' + b"\\u00e9" * 255 + b'"', None), (b'"' + b"\\u00e9" * 256 + b'"', None),
    (('"' + "😀" * 4096 + '"').encode(), None), (('"' + "😀" * 4097 + '"').encode(), False),
]  # fmt: skip


@pytest.mark.parametrize(("text", "fast"), FLOATS)
@pytest.mark.parametrize("path", FLOAT_FIELDS)
def test_floats(path: Path, text: str, fast: bool) -> None:
    accepted = check_snapshots(with_text(path, text.encode()))
    if path == ("metrics", "uptime_seconds"):
        assert accepted is fast


@pytest.mark.parametrize(("text", "fast"), INTS)
@pytest.mark.parametrize("path", INT_FIELDS)
def test_ints(path: Path, text: str, fast: bool | None) -> None:
    accepted = check_snapshots(with_text(path, text.encode()))
    if fast is not None:
        assert accepted is fast


@pytest.mark.parametrize("text", BOOLS)
@pytest.mark.parametrize(
    "path", [("metrics", "disks", 0, "watched"), ("watched_processes", "worker", "alive")]
)
def test_bools(path: Path, text: str) -> None:
    assert check_snapshots(with_text(path, text.encode())) is (text in ("true", "false"))


@pytest.mark.parametrize(("text", "fast"), STRINGS, ids=lambda v: repr(v)[:24])
@pytest.mark.parametrize("path", STR_FIELDS)
def test_strings(path: Path, text: bytes, fast: bool | None) -> None:
    accepted = check_snapshots(with_text(path, text))
    if fast is not None:
        assert accepted is fast


ELEMENT = orjson.dumps(SEED_001).decode()
METRICS = orjson.dumps(SEED_001["metrics"]).decode()
#: bodies; `@E` stands for a valid snapshot, `@M` for valid `metrics`, `@K` for 255 letters
TEMPLATES = [
    # unknown keys are ignored by pydantic, and sent to it (it parses them by its own rules)
    '{"metrics": @M, "extra": 1}',
    '{"metrics": @M, "x": ' + "[" * 250 + "]" * 250 + "}",
    '{"metrics": @M, "x": ' + "[" * 150 + "]" * 150 + "}",
    '{"metrics": @M, "x": NaN}',
    '{"metrics": @M, "x": "\\ud800"}',
    ELEMENT.replace('"cpu_percent":45.2', '"cpu_percent":45.2,"future":{"a":[1,2]}'),
    # duplicate keys: the last one counts in both
    '{"metrics": @M, "snapshot_id": "a", "snapshot_id": "b"}',
    '{"metrics": @M, "snapshot_id": 5, "snapshot_id": "b"}',
    '{"metrics": @M, "snapshot_id": "b", "snapshot_id": 5}',
    '{"metrics": @M, "metrics": {"cpu_percent": 1}}',
    '{"metrics": {"cpu_percent": 1}, "metrics": @M}',
    '{"metrics": @M, "watched_processes": {"a": {"alive": true}, "a": {"alive": false}}}',
    '{"metrics": @M, "watched_processes": {"a": 5, "a": {"alive": false}}}',
    '{"metrics": @M, "watched_processes": {"@K": {"alive": true}}}',
    '{"metrics": @M, "watched_processes": {"@Kx": {"alive": true}}}',
    # null and wrong shapes for required / non-optional values
    '{"metrics": @M, "processes": null}',
    ELEMENT.replace('"network":{', '"network":null,"n":{'),
    ELEMENT.replace('"disks":[', '"disks":null,"d":['),
    '{"metrics": null}',
    "{}",
    '{"metrics": {}}',
    "[]",
    "[{}]",
    "null",
    "",
    " ",
    "5",
    '"text"',
    "{not json",
    "@E,",
    "@E x",
    " \n@E\n ",
    "\ufeff@E",
    ELEMENT[:-1] + ",}",
    ELEMENT.replace(":", " : "),
    "\f@E",
    "\v@E",
    "\u00a0@E",
    "\r\n@E\r\n",
    "@E\x00",
    "@E@E",
    ELEMENT.replace('"metrics"', '"met\\u0072ics"'),
    ELEMENT.replace('"cpu_percent"', '"cpu\\u005fpercent"'),
    # batches: pydantic tries one only when `metrics` is missing and "snapshots" is spelt out
    '{"snapshots": []}',
    '{"snapshots": null}',
    '{"snapshots": {}}',
    '{"snapshots": [null]}',
    '{"snapshots": [@E]}',
    '{"snapshots": [@E], "x": 1}',
    '{"snapshots": [@E], "metrics": 5}',
    '{"metrics": @M, "snapshots": [5]}',
    '{"snap\\u0073hots": [@E]}',
    '{"snapshots": [@E, {}]}',
    '{"snapshots": [{}], "snapshots": [@E]}',
    '{"snapshots": [@E], "snapshots": [{}]}',
    '{"snapshots": [{"snapshots": [@E]}]}',
    '{"snapshots": [' + ",".join(["@E"] * 1000) + "]}",
    '{"snapshots": [' + ",".join(["@E"] * 1001) + "]}",
]
STRUCTURES = [
    t.replace("@E", ELEMENT).replace("@M", METRICS).replace("@K", "k" * 255) for t in TEMPLATES
]


@pytest.mark.parametrize("text", STRUCTURES, ids=[t[:40] for t in TEMPLATES])
def test_structures(text: str) -> None:
    check_snapshots(text.encode())


@pytest.mark.parametrize(
    ("path", "limit", "item"),
    [
        (("processes",), 1000, {"pid": 1, "name": "p"}),
        (("gpus",), 64, {"index": 1, "name": "g"}),
        (("metrics", "cpu", "per_core_percent"), 4096, 1.5),
        (("system", "ip_addresses"), 256, "10.0.0.1"),
        (("collection", "warnings"), 256, "w"),
    ],
)
def test_list_lengths(path: Path, limit: int, item: Any) -> None:
    assert check_snapshots(orjson.dumps(put(make_snapshot(), path, [item] * limit)))
    assert not check_snapshots(orjson.dumps(put(make_snapshot(), path, [item] * (limit + 1))))


def _random_float(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return repr(10 ** rng.uniform(-330, 20))
    if kind == 1:
        return repr(rng.uniform(0, 100))
    if kind == 2:  # more digits than a double holds; the parsers must round alike
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 40)))
        return f"{rng.randrange(100)}.{digits}e{rng.randrange(-30, 17)}"
    return str(rng.randrange(-5, 2 ** rng.randrange(1, 80)))


def test_fuzzed_numbers() -> None:
    rng = random.Random(3)
    fast = 0
    for _ in range(600):
        path = rng.choice(FLOAT_FIELDS + INT_FIELDS[:2])
        fast += check_snapshots(with_text(path, _random_float(rng).encode()))
    assert fast > 200  # most numbers do take the fast path


def test_fuzzed_strings() -> None:
    rng = random.Random(4)
    pool = ["a", "Z", " ", '"', "\\", "/", "\n", "\t", "\x00", "\x1f", "\x7f", "é", "€", "😀"]
    pool += ["\u2028", "\ufeff", "\uffff", "\U0010ffff", "<", "&", "'"]
    for _ in range(300):
        text = "".join(rng.choice(pool) for _ in range(rng.choice([1, 10, 64, 65, 255, 256])))
        raw = json.dumps(text, ensure_ascii=rng.random() < 0.5).encode()
        check_snapshots(with_text(rng.choice(STR_FIELDS), raw))


def _leaves(value: Any, path: Path = ()) -> list[Path]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


def test_fuzzed_mutations() -> None:
    """Any value of a valid snapshot replaced by anything: never more lenient than pydantic."""
    rng = random.Random(5)
    body = make_snapshot(gpus=[{"index": 0, "name": "g", "temperature_celsius": 50.5}])
    leaves = _leaves(body)
    texts = [text for text, _ in FLOATS + INTS] + BOOLS
    texts += ['{"a": 1}', "[1, 2]", "[]", "{}", '["x"]', "[null]", '{"x": null}']
    pool = [text.encode() for text in texts] + [text for text, _ in STRINGS[:15]]
    fast = 0
    for _ in range(1500):
        mutated = with_text(rng.choice(leaves), rng.choice(pool), body)
        fast += check_snapshots(mutated)
    assert fast > 100


def test_fast_objects_are_msgspec_structs() -> None:
    fast = wire_fast.decode_snapshots(orjson.dumps(make_snapshot()))
    assert fast is not None and type(fast[0][0]) is wire_fast.SnapshotStruct
