"""B2: the process scan backs off when the agent is over its CPU budget, and comes back."""

from __future__ import annotations

from fleetwatch.agent.budget import MAX_SCAN_EVERY, BudgetGovernor


class FakeSelf:
    """The data source: CPU seconds consumed and RSS, advanced by the test."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.now = 0.0
        self.rss = 20 * 1024 * 1024

    def sample(self) -> tuple[float, int]:
        return self.cpu, self.rss

    def clock(self) -> float:
        return self.now

    def tick(self, cpu_percent: float, seconds: float = 10.0) -> None:
        self.cpu += cpu_percent / 100 * seconds
        self.now += seconds


def test_backs_off_over_budget_and_recovers() -> None:
    fake = FakeSelf()
    gov = BudgetGovernor(fake.sample, fake.clock)
    scans = []
    for _ in range(12):
        fake.tick(10.0)  # 10 % of a core, budget 2 %
        scans.append(gov.decide(2.0, 64))
    assert gov.scan_every > 1
    assert gov.over_budget
    assert scans.count(False) > scans.count(True)
    report = gov.report()
    assert report["process_scan_every"] == gov.scan_every
    assert report["over_budget"] is True
    assert 9 < report["cpu_percent"] <= 10.0
    for _ in range(40):
        fake.tick(0.1)
        gov.decide(2.0, 64)
    assert gov.scan_every == 1
    assert gov.over_budget is False
    assert all(gov.decide(2.0, 64) for _ in range(3))


def test_scan_every_is_capped() -> None:
    fake = FakeSelf()
    gov = BudgetGovernor(fake.sample, fake.clock)
    for _ in range(30):
        fake.tick(50.0)
        gov.decide(1.0, 64)
    assert gov.scan_every == MAX_SCAN_EVERY


def test_rss_over_budget_is_reported() -> None:
    fake = FakeSelf()
    fake.rss = 100 * 1024 * 1024
    gov = BudgetGovernor(fake.sample, fake.clock)
    fake.tick(0.1)
    assert gov.decide(2.0, 64) is True  # memory alone does not postpone the scan
    assert gov.report()["over_budget"] is True
    assert gov.report()["rss_bytes"] == 100 * 1024 * 1024


def test_real_self_measurement() -> None:
    gov = BudgetGovernor()
    sum(i * i for i in range(200_000))
    gov.measure()
    assert gov.rss_bytes > 5 * 1024 * 1024
    assert gov.cpu_percent is not None and gov.cpu_percent >= 0
