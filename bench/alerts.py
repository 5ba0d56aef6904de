"""Alert-rule cost benchmark (issue 5): ingest throughput with 20 rules per server vs none.

The real hub app runs in-process (ASGI transport, real SQLite file, real writer thread, the
alert engine in its background task); `--servers` servers post seed-001-shaped snapshots from
`--connections` concurrent tasks for `--duration` seconds: once with every alert rule deleted,
once with 20 rules applying to every server (the 11 built-in defaults, all enabled, plus 9
more: per-mount, per-group and per-server overrides). Evaluation shares the process and the
event loop with ingest, so any cost shows up in the throughput. The two kinds of run alternate
for `--rounds` rounds (ABBA order, so drift in the machine's load hits both alike); each run
is a fresh hub on a fresh database with the same load for the same duration. Printed per run:
payloads/s, snapshots evaluated (the engine must keep up, not drop), alerts recorded and the
CPU time this process spent per payload; then the ratio of total payloads with/without rules,
each round's ratio, and the ratio of CPU per payload (a steadier proxy when other work shares
the machine).
Target: rule evaluation costs <= 10 % of ingest throughput (ratio >= 0.90).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import delete, func, select

sys.path.insert(0, str(Path(__file__).parent))
from fleetwatch.hub.app import create_app
from fleetwatch.hub.services import alert_config
from fleetwatch.hub.services.alerts import RUNTIME_KEY
from fleetwatch.hub.settings import load_settings
from fleetwatch.hub.store.tables_alerts import alert_rules, alerts
from payloads import SimulatedServer

BENCH_KEY = Fernet.generate_key().decode()  # no key file (and no warning) per run
EXTRA_RULES: list[dict[str, Any]] = [
    {"metric": "disk_percent", "target": "/var*", "warning": 70, "critical": 90},
    {"metric": "disk_percent", "target": "/home", "warning": 75, "critical": 92},
    {"metric": "disk_free_gb", "target": "/", "warning": 5, "critical": 2},
    {"metric": "cpu_percent", "scope": "group", "scope_value": "bench", "warning": 90,
     "critical": 98, "duration_seconds": 300},
    {"metric": "memory_percent", "scope": "group", "scope_value": "bench", "warning": 88,
     "critical": 97, "hysteresis": 3},
    {"metric": "swap_percent", "scope": "group", "scope_value": "bench", "warning": 60,
     "critical": 90},
    {"metric": "load_per_core", "scope": "group", "scope_value": "bench", "warning": 3,
     "critical": 6},
    {"metric": "gpu_temperature_celsius", "target": "0", "warning": 75, "critical": 85},
    {"metric": "service_stopped", "target": "ssh*", "critical": 1},
]  # fmt: skip


async def one_run(
    with_rules: bool, servers: int, connections: int, duration: float
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings({"data_dir": tmp, "rate_limit_per_minute": 0,
                                  "secret_key": BENCH_KEY}, environ={})  # fmt: skip
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            ctx = app.state.ctx
            await ctx.db.write(lambda c: c.execute(delete(alert_rules)))
            if with_rules:
                from fleetwatch.hub.alerts.catalog import DEFAULT_RULES

                for name, metric, warning, critical, _enabled in DEFAULT_RULES:
                    await alert_config.save_rule(ctx, {"name": name, "metric": metric,
                                                       "warning": warning, "critical": critical,
                                                       "enabled": True}, "bench")  # fmt: skip
                for rule in EXTRA_RULES:
                    await alert_config.save_rule(ctx, rule, "bench")
            engine = ctx.extras[RUNTIME_KEY].engine
            await engine.reload()
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
            async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
                rng = random.Random(1)
                sims, heads = [], []
                for i in range(servers):
                    reg = (await client.post("/api/register", json={
                        "hostname": f"bench-{i:04d}", "group_name": "bench"})).json()  # fmt: skip
                    heads.append({"Authorization": f"Bearer {reg['server_id']}:{reg['api_key']}"})
                    sims.append(SimulatedServer(i, rng))
                done = 0
                stop_at = time.monotonic() + duration
                clock = [time.time() - 86400.0]

                async def worker(k: int) -> None:
                    nonlocal done
                    i = k
                    while time.monotonic() < stop_at:
                        clock[0] += 0.01
                        body = sims[i % servers].snapshot(clock[0])
                        r = await client.post("/api/metrics", json=body, headers=heads[i % servers])
                        assert r.status_code < 300, r.text
                        done += 1
                        i += connections

                cpu = time.process_time()
                await asyncio.gather(*(worker(k) for k in range(connections)))
                deadline = time.monotonic() + 30
                while engine.snapshots_evaluated < done and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)  # let the engine finish its backlog
                cpu = time.process_time() - cpu  # this process: hub and load generator
                alerts_n = await ctx.db.read(
                    lambda c: c.execute(select(func.count()).select_from(alerts)).scalar_one()
                )
                return {"per_sec": done / duration, "posted": done,
                        "evaluated": engine.snapshots_evaluated,
                        "rules": len(engine.rules), "alerts": alerts_n,
                        "cpu_ms": 1000 * cpu / max(done, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=12.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of (without, with)")
    args = parser.parse_args()
    asyncio.run(one_run(False, min(args.servers, 50), args.connections, 2.0))  # warm-up
    runs: list[tuple[str, dict[str, Any]]] = []
    for k in range(args.rounds):
        order = (False, True) if k % 2 == 0 else (True, False)  # ABBA: drift hits both
        for with_rules in order:
            r = asyncio.run(one_run(with_rules, args.servers, args.connections, args.duration))
            runs.append(("20 rules/server" if with_rules else "no rules", r))
    print(f"servers={args.servers} connections={args.connections} "
          f"duration={args.duration:g}s rounds={args.rounds}")  # fmt: skip
    print(f"{'run':<16}{'payloads/s':>12}{'posted':>9}{'evaluated':>11}{'rules':>7}{'alerts':>8}"
          f"{'CPU ms/payload':>16}")  # fmt: skip
    for name, r in runs:
        print(f"{name:<16}{r['per_sec']:>12.0f}{r['posted']:>9}{r['evaluated']:>11}"
              f"{r['rules']:>7}{r['alerts']:>8}{r['cpu_ms']:>16.3f}")  # fmt: skip
    base = sum(r["posted"] for name, r in runs if name == "no rules")
    ruled = sum(r["posted"] for name, r in runs if name != "no rules")
    per_round = []
    for k in range(args.rounds):
        pair = {name: r["posted"] for name, r in runs[2 * k : 2 * k + 2]}
        per_round.append(pair["20 rules/server"] / pair["no rules"])
    ratio = ruled / base
    verdict = "OK" if ratio >= 0.90 else "OVER BUDGET"
    rounds = " ".join(f"{x:.3f}" for x in per_round)
    print(f"ratio with/without rules: {ratio:.3f} (rule cost {100 * (1 - ratio):.1f} %, "
          f"target <= 10 %) {verdict}; per round: {rounds}")  # fmt: skip
    cpu = {name: sum(r["cpu_ms"] * r["posted"] for n, r in runs if n == name)
           / sum(r["posted"] for n, r in runs if n == name) for name, _ in runs[:2]}  # fmt: skip
    print(f"CPU per payload (hub + load generator, one process): no rules "
          f"{cpu['no rules']:.3f} ms, 20 rules {cpu['20 rules/server']:.3f} ms, "
          f"ratio {cpu['no rules'] / cpu['20 rules/server']:.3f} "
          f"(less sensitive to other load on the machine than payloads/s)")  # fmt: skip


if __name__ == "__main__":
    main()
