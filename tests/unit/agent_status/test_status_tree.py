from __future__ import annotations

import pytest

import factories
from factories import make_disk, make_interface, make_snapshot, make_watched_instance
from fleetwatch.agent.status.tree import build_tree, disk_key, explain_missing, lookup, split_path
from fleetwatch.errors import StatusPathError


def at(tree: dict[str, object], path: str) -> object:
    return lookup(tree, split_path(path))


def test_seed_002_paths_address_the_values() -> None:
    snapshot = make_snapshot(
        metrics={
            "interfaces": [make_interface("eth0", errin=17)],
            "disks": [make_disk("/"), make_disk("/home/data", percent=91.5)],
        },
        watched_processes={
            "worker": {
                "alive": True,
                "instances": [make_watched_instance(4242, memory_rss_bytes=7)],
            }
        },
    )
    tree = build_tree(snapshot)
    assert at(tree, "network/eth0/errin") == 17
    assert at(tree, "disk/_/percent") == 40.0
    assert at(tree, "disk/_home_data/percent") == 91.5
    assert at(tree, "disk/_home_data/mountpoint") == "/home/data"
    assert at(tree, "process/worker/4242/memory_rss_bytes") == 7
    assert at(tree, "process/worker/alive") is True
    assert at(tree, "process/worker/instances") == 1
    assert at(tree, "cpu/percent") == 23.5


def test_subtrees_lists_and_trailing_slashes() -> None:
    tree = build_tree(make_snapshot())
    eth0 = at(tree, "/network/eth0/")
    assert isinstance(eth0, dict)
    assert eth0["dropin"] == 7
    assert "name" not in eth0  # the key already says it
    assert at(tree, "cpu/per_core_percent/1") == 27.0
    assert at(tree, "host/hostname") == "web-01"
    assert at(tree, "host/process_count") == 120
    assert at(tree, "services/ssh/status") == "running"
    assert at(tree, "top_processes/101/name") == "postgres"
    assert at(tree, "process/ghost/alive") is False
    assert at(tree, "sensors/temperature/coretemp/Core 0/current_celsius") == 45.0
    assert at(tree, "") == tree


def test_collection_statistics_are_merged() -> None:
    stats = {"cycles": 12, "last_duration_ms": 30.5, "total_duration_ms": 400.0}
    tree = build_tree(make_snapshot(), stats)
    assert at(tree, "collection/cycles") == 12
    assert at(tree, "collection/duration_ms") == 42.0
    assert at(tree, "collection/collected_at") == factories.at(0)
    assert at(tree, "collection/sources/services/source") == "sysv"


def test_duplicate_keys_get_a_suffix_instead_of_hiding_data() -> None:
    snapshot = make_snapshot(metrics={"disks": [make_disk("/a/b"), make_disk("/a_b", used=1)]})
    tree = build_tree(snapshot)
    assert at(tree, "disk/_a_b/mountpoint") == "/a/b"
    assert at(tree, "disk/_a_b~2/mountpoint") == "/a_b"


def test_seed_001_only_snapshot_still_has_cpu_and_memory() -> None:
    metrics = {
        "cpu_percent": 5.0,
        "memory_total": 100,
        "memory_used": 40,
        "memory_free": 60,
        "memory_percent": 40.0,
    }
    tree = build_tree({"metrics": metrics})
    assert at(tree, "cpu/percent") == 5.0
    assert at(tree, "memory/used_bytes") == 40
    assert at(tree, "network") == {}


@pytest.mark.parametrize(
    ("path", "hint"),
    [
        ("network/eth9/errin", "'network' has: eth0, lo"),
        ("nosuch", "'(root)' has: host, cpu"),
        ("cpu/percent/x", "'cpu/percent' is a value"),
        ("cpu/per_core_percent/9", "'cpu/per_core_percent' has: 0, 1"),
    ],
)
def test_unknown_path_raises_and_is_explained(path: str, hint: str) -> None:
    tree = build_tree(make_snapshot())
    with pytest.raises(StatusPathError) as info:
        at(tree, path)
    assert info.value.path == path
    message = explain_missing(tree, split_path(path))
    assert repr(path) in message
    assert hint in message


def test_disk_key_is_seed_002s_rule() -> None:
    assert disk_key("/") == "_"
    assert disk_key("/var/log") == "_var_log"
