from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from factories import make_disk, make_interface, make_snapshot
from fleetwatch.agent.exposition import Exposition, escape_label_value, format_value
from fleetwatch.agent.status.metrics import render_metrics

NASTY = ["plain", 'with "quotes"', "back\\slash", "new\nline", 'all \\"\n\\n', "ünïcödé ✓", ""]
UNITS = ("_bytes", "_seconds", "_total", "_ratio", "_celsius", "_hertz", "_watts", "_rpm", "_info")


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Parse with prometheus_client; returns {(sample name, labels): value}."""
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in samples, f"duplicate series {key}"
            samples[key] = s.value
    return samples


def check_structure(text: str) -> None:
    """What the lenient parser does not check: HELP+TYPE before samples, names, units."""
    declared: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in declared, f"{name} declared twice"
            assert re.fullmatch(r"fleetwatch_[a-z0-9_]+", name), name
            if kind == "counter":
                assert name.endswith("_total"), name
            declared[name] = kind
            continue
        name = re.split(r"[{ ]", line, maxsplit=1)[0]
        assert name in declared, f"sample {name} before its TYPE line"


def test_full_snapshot_parses_with_expected_values() -> None:
    stats = {"cycles": 9, "total_duration_ms": 1500.0, "warnings_total": 2}
    text = render_metrics(make_snapshot(), stats)
    check_structure(text)
    samples = parse(text)
    eth0 = frozenset({("interface", "eth0")})
    assert samples[("fleetwatch_network_receive_errors_total", eth0)] == 3
    assert samples[("fleetwatch_network_receive_drop_total", eth0)] == 7
    assert samples[("fleetwatch_network_speed_bytes", eth0)] == 125_000_000
    root = frozenset({("device", "/dev/sda1"), ("mountpoint", "/"), ("fstype", "ext4")})
    assert samples[("fleetwatch_filesystem_usage_ratio", root)] == pytest.approx(0.40)
    assert samples[("fleetwatch_filesystem_size_bytes", root)] == 100 * 1024**3
    assert samples[("fleetwatch_cpu_usage_ratio", frozenset())] == pytest.approx(0.235)
    assert samples[("fleetwatch_cpu_core_usage_ratio", frozenset({("core", "1")}))] == 0.27
    assert samples[("fleetwatch_memory_total_bytes", frozenset())] == 8 * 1024**3
    assert samples[("fleetwatch_watched_process_up", frozenset({("name", "ghost")}))] == 0
    worker = frozenset({("name", "worker"), ("pid", "4242")})
    assert samples[("fleetwatch_watched_process_resident_memory_bytes", worker)] == 50 * 1024**2
    assert samples[("fleetwatch_service_running", frozenset({("service", "cron")}))] == 0
    assert samples[("fleetwatch_collection_cycles_total", frozenset())] == 9
    assert samples[("fleetwatch_collection_seconds_total", frozenset())] == 1.5
    assert samples[("fleetwatch_boot_time_seconds", frozenset())] == 1714564800
    assert samples[("fleetwatch_cpu_frequency_hertz", frozenset())] == 2.4e9


def test_every_metric_name_carries_a_unit_or_is_a_count() -> None:
    counts = {"processes", "threads", "handles", "cores", "load1", "load5", "load15", "up"}
    counts |= {"instances", "running", "plugged", "warnings", "over_budget", "every"}
    for family in text_string_to_metric_families(render_metrics(make_snapshot(), {"cycles": 1})):
        name = family.name + ("_total" if family.type == "counter" else "")
        assert name.endswith(UNITS) or name.rsplit("_", 1)[-1] in counts, name


@pytest.mark.parametrize("value", NASTY)
def test_label_values_round_trip_through_the_parser(value: str) -> None:
    snapshot = make_snapshot(
        metrics={
            "disks": [make_disk(value, device=value, fstype=value)],
            "interfaces": [make_interface(value)],
        },
        watched_processes={value: {"alive": True, "instances": []}},
        services=[{"service_name": value, "status": value, "display_name": value}],
    )
    samples = parse(render_metrics(snapshot))
    disk = frozenset({("device", value), ("mountpoint", value), ("fstype", value)})
    assert ("fleetwatch_filesystem_free_bytes", disk) in samples
    assert ("fleetwatch_network_mtu_bytes", frozenset({("interface", value)})) in samples
    assert ("fleetwatch_watched_process_up", frozenset({("name", value)})) in samples
    info = frozenset(
        {("service", value), ("status", value), ("display_name", value), ("start_type", "")}
    )
    assert samples[("fleetwatch_service_info", info)] == 1


def test_help_text_is_escaped() -> None:
    exp = Exposition()
    exp.add("fleetwatch_x_bytes", "gauge", "line\nbreak \\ here", 1)
    families = list(text_string_to_metric_families(exp.render()))
    assert families[0].documentation == "line\nbreak \\ here"


def test_missing_families_and_none_values_are_skipped() -> None:
    metrics = {"cpu_percent": 5.0, "memory_total": 10, "memory_used": 4, "memory_free": 6}
    metrics["memory_percent"] = 40.0
    text = render_metrics({"metrics": metrics})
    check_structure(text)
    names = {f.name for f in text_string_to_metric_families(text)}
    assert "fleetwatch_memory_used_bytes" in names
    assert "fleetwatch_swap_total_bytes" not in names
    assert "fleetwatch_cpu_frequency_max_hertz" not in names
    assert "fleetwatch_uptime_seconds" not in names


@pytest.mark.parametrize(
    ("name", "kind", "labels", "message"),
    [
        ("fleetwatch_things", "counter", None, "must end in _total"),
        ("bad-name", "gauge", None, "invalid metric name"),
        ("fleetwatch_x", "summary", None, "unknown metric kind"),
        ("fleetwatch_x", "gauge", {"bad-label": 1}, "invalid label name"),
        ("fleetwatch_x", "gauge", {"__reserved": 1}, "invalid label name"),
    ],
)
def test_exposition_rejects_invalid_families(
    name: str, kind: str, labels: dict[str, object] | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Exposition().add(name, kind, "help", 1, labels)


def test_formatting_helpers() -> None:
    assert escape_label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    assert format_value(float("nan")) == "NaN"
    assert format_value(float("inf")) == "+Inf"
    assert format_value(3.0) == "3"
    assert format_value(0.25) == "0.25"
    assert Exposition().render() == ""
