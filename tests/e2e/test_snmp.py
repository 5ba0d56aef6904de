"""The hub's SNMP v2c responder (H12) answering net-snmp's own tools (Debian `snmp`):
`snmpget`, `snmpwalk`, `snmpbulkwalk`, `snmpset` against a real `fleetwatch hub --snmp-port`,
with servers that reported; a wrong community gets no answer and is counted in `/metrics`."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from factories import make_snapshot
from hubtest import RunningHub, admin_token, bearer, free_port, start_hub

BASE = "1.3.6.1.4.1.12345"
TOOLS = all(shutil.which(t) for t in ("snmpget", "snmpwalk", "snmpbulkwalk", "snmpset"))
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not TOOLS, reason="Debian `snmp` tools")]


def free_udp_port() -> int:
    while True:
        port = free_port()  # a TCP port free now; check UDP too
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


class Snmp:
    def __init__(self, hub: RunningHub, port: int) -> None:
        self.hub, self.port = hub, port
        self.ids: dict[str, str] = {}

    def run(
        self, tool: str, *args: str, community: str = "public"
    ) -> subprocess.CompletedProcess[str]:
        cmd = [tool, "-v2c", "-c", community, "-On", "-t", "2", "-r", "1",
               f"127.0.0.1:{self.port}", *args]  # fmt: skip
        env = {**os.environ, "MIBS": ""}  # no MIB files to load: numeric OIDs only
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env)

    def values(self, tool: str, *args: str) -> dict[str, str]:
        out = self.run(tool, *args)
        assert out.returncode == 0, out.stderr
        pairs = {}
        for line in out.stdout.splitlines():
            oid, _, value = line.partition(" = ")
            pairs[oid.lstrip(".")] = value
        return pairs


@pytest.fixture(scope="module")
def snmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmp]:
    port = free_udp_port()
    hub = start_hub(tmp_path_factory.mktemp("snmp"), None, "--snmp-port", str(port),
                    FLEETWATCH_RATE_LIMIT_PER_MINUTE="0")  # fmt: skip
    try:
        s = Snmp(hub, port)
        for name, group, cpu in (("web-01", "web", 42.25), ("db-01", None, 7.5),
                                 ("idle-01", None, None)):  # fmt: skip
            reg = httpx.post(f"{hub.base_url}/api/register",
                             json={"hostname": name, "group_name": group}).json()  # fmt: skip
            s.ids[name] = reg["server_id"]
            if cpu is None:
                continue  # registered, never reported: offline
            body = make_snapshot(snapshot_id=uuid.uuid4().hex,
                                 collected_at=datetime.now(UTC).isoformat())  # fmt: skip
            body["metrics"]["cpu_percent"] = cpu
            r = httpx.post(f"{hub.base_url}/api/metrics", json=body,
                           headers=bearer(reg["server_id"], reg["api_key"]))  # fmt: skip
            assert r.status_code == 200, r.text
        time.sleep(5.2)  # older than the responder's refresh: the next request rebuilds
        yield s
    finally:
        hub.stop()


def test_get_answers_the_fleet_counts(snmp: Snmp) -> None:
    got = snmp.values("snmpget", f"{BASE}.2.1.0", f"{BASE}.2.2.0", f"{BASE}.2.3.0",
                      f"{BASE}.1.2.0", f"{BASE}.9.9.0")  # fmt: skip
    assert got[f"{BASE}.2.1.0"] == "Gauge32: 3"  # total
    assert got[f"{BASE}.2.2.0"] == "Gauge32: 2"  # running
    assert got[f"{BASE}.2.3.0"] == "Gauge32: 1"  # offline
    assert got[f"{BASE}.1.2.0"] == "Gauge32: 2488"  # mean CPU of the online two, hundredths
    assert "No Such Object" in got[f"{BASE}.9.9.0"]


def test_walk_lists_every_server_in_the_table(snmp: Snmp) -> None:
    walked = snmp.values("snmpwalk", f"{BASE}.4")
    hostnames = {v for k, v in walked.items() if k.startswith(f"{BASE}.4.1.2.")}
    assert hostnames == {'STRING: "web-01"', 'STRING: "db-01"', 'STRING: "idle-01"'}
    rows = {walked[f"{BASE}.4.1.2.{i}"].split('"')[1]: i for i in (1, 2, 3)}
    web, idle = rows["web-01"], rows["idle-01"]
    token = admin_token(snmp.hub)
    overview = httpx.get(f"{snmp.hub.base_url}/api/dashboard",
                         headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
    critical = {s["hostname"]: s["critical_alert_count"] for s in overview["servers"]}
    # online (1), or error (3) when a critical alert fires for it; offline (2)
    assert walked[f"{BASE}.4.1.3.{web}"] == f"INTEGER: {3 if critical['web-01'] else 1}"
    assert walked[f"{BASE}.4.1.3.{idle}"] == "INTEGER: 2"  # offline
    assert walked[f"{BASE}.4.1.4.{web}"] == "Gauge32: 4225"
    assert walked[f"{BASE}.4.1.7.{web}"] == f'STRING: "{snmp.ids["web-01"]}"'
    assert walked[f"{BASE}.4.1.8.{web}"] == 'STRING: "web"'
    # columns come in lexicographic order: every index of column 2 before column 3
    keys = list(walked)
    assert keys.index(f"{BASE}.4.1.2.3") < keys.index(f"{BASE}.4.1.3.1")


def test_bulkwalk_matches_walk(snmp: Snmp) -> None:
    walked = snmp.values("snmpwalk", BASE)
    bulk = snmp.values("snmpbulkwalk", "-Cr25", BASE)
    assert list(bulk) == list(walked)  # the same OIDs, in the same order
    assert len(walked) == 13 + 3 * 8  # 13 scalars, 8 columns of 3 servers
    moving = {f"{BASE}.1.5.0", f"{BASE}.3.1.0", f"{BASE}.3.2.0"}  # uptime, hub CPU and RSS
    for oid, value in walked.items():
        if oid in moving:
            assert bulk[oid].startswith("Gauge32: ")
        else:
            assert bulk[oid] == value, oid


def test_set_is_refused_and_wrong_community_gets_no_answer(snmp: Snmp) -> None:
    refused = snmp.run("snmpset", f"{BASE}.2.1.0", "u", "9")
    assert refused.returncode != 0 and "notWritable" in refused.stderr
    silent = snmp.run("snmpget", f"{BASE}.2.1.0", community="private")
    assert silent.returncode != 0 and "Timeout" in silent.stderr
    token = admin_token(snmp.hub)
    text = httpx.get(f"{snmp.hub.base_url}/metrics",
                     headers={"Authorization": f"Bearer {token}"}).text  # fmt: skip
    counted = re.search(r'fleetwatch_hub_snmp_requests_total\{outcome="bad_community"\} (\S+)',
                        text)  # fmt: skip
    assert counted and float(counted.group(1)) == 2.0  # snmpget tried twice (-r 1)
    answered = re.search(r'fleetwatch_hub_snmp_requests_total\{outcome="answered"\} (\S+)', text)
    assert answered and float(answered.group(1)) > 10
