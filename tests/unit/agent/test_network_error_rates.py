"""The network collector turns error and drop counters into per-second rates (B4's source)."""

from __future__ import annotations

from collections import namedtuple

from agent_fakes import FakeClock, FakePsutil

from fleetwatch.agent.collectors.network import NetworkCollector

NetIO = namedtuple(
    "NetIO", "bytes_sent bytes_recv packets_sent packets_recv errin errout dropin dropout"
)


def test_errors_and_drops_per_second_per_interface() -> None:
    counters = {"eth0": NetIO(0, 0, 0, 0, 10, 5, 100, 0)}
    collector = NetworkCollector(FakePsutil(net_io_counters=lambda pernic=True: dict(counters)),
                                 clock=(clock := FakeClock()))  # fmt: skip
    _totals, nics = collector.collect([], lambda _: None)
    assert nics[0]["errors_per_sec"] is None and nics[0]["drops_per_sec"] is None  # no baseline
    counters["eth0"] = NetIO(0, 0, 0, 0, 30, 15, 160, 4)
    clock.advance(4.0)
    totals, nics = collector.collect([], lambda _: None)
    assert nics[0]["errors_per_sec"] == 7.5  # (20 in + 10 out) / 4 s
    assert nics[0]["drops_per_sec"] == 16.0  # (60 in + 4 out) / 4 s
    assert totals["errors_per_sec"] == 7.5
    counters["eth0"] = NetIO(0, 0, 0, 0, 0, 0, 0, 0)  # counters reset: no rate, not a spike
    clock.advance(1.0)
    _totals, nics = collector.collect([], lambda _: None)
    assert nics[0]["errors_per_sec"] is None and nics[0]["drops_per_sec"] is None
