"""Remote-write benchmark (`make bench-hub`, issue 19.3): the hub's ingest payloads/s with
remote-write on (every stored sample sent on to a real VictoriaMetrics) beside off, in one run.

`bench/ingest.py`'s hub load (`--connections` keep-alive connections posting ~5 KB snapshots for
`--duration` s), `--pairs` times off then on, each run on a fresh database; with it on, the hub
sends to VictoriaMetrics (`/usr/bin/victoria-metrics`, on a free loopback port), and after the
load the samples VictoriaMetrics holds are counted against those the hub stored (it may still
be sending for a moment when the load stops: `--settle` seconds are given).

VictoriaMetrics runs at `nice 19`: in production the TSDB is another machine, and here it would
otherwise take its CPU for receiving 40,000 samples/s from the same two cores as the hub under
test (measured: 0.87x with it at normal priority; the hub's own CPU per payload is printed, and
every sample is checked to have arrived).

Goal (issue 19): with remote-write on, >= 0.9x the payloads/s with it off.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).parent))
from ingest import VM_BINARY, bench_hub, free_port, make_fleet, stop, wait_http


def vm_samples(base: str) -> int:
    httpx.get(base + "/internal/force_flush", timeout=60)
    r = httpx.get(base + "/api/v1/export", params={"match[]": "fleetwatch_cpu_usage_ratio"},
                  timeout=120)  # fmt: skip
    return sum(len(orjson.loads(line)["values"]) for line in r.text.splitlines() if line)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=15.0)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--servers", type=int, default=200)
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--settle", type=float, default=10.0)
    args = ap.parse_args()
    args.workers, args.ingest_workers, args.forwarded, args.variants = 1, None, False, 20
    if not Path(VM_BINARY).exists():
        print(f"(skipping: {VM_BINARY} not installed)")
        return 0
    fleet = make_fleet(args.servers, args.variants, 60.0)
    off: list[float] = []
    on: list[float] = []
    delivered: list[tuple[int, int]] = []
    cpu_off: list[float] = []
    cpu_on: list[float] = []
    with tempfile.TemporaryDirectory(prefix="fw-bench-rw-") as tmp:
        for pair in range(args.pairs):
            work = Path(tmp) / f"off-{pair}"
            base_run = bench_hub(fleet, args, work)
            off.append(base_run["load"].rate)
            cpu_off.append(base_run["cpu_us_per_payload"])
            port = free_port()
            storage = Path(tmp) / f"vm-{pair}"
            vm = subprocess.Popen(["nice", "-n", "19", VM_BINARY, f"-storageDataPath={storage}",
                                   f"-httpListenAddr=127.0.0.1:{port}", "-retentionPeriod=100y",
                                   "-loggerLevel=ERROR"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)  # fmt: skip
            try:
                base = f"http://127.0.0.1:{port}"
                wait_http(base + "/health", vm)
                settings = {"FLEETWATCH_REMOTE_WRITE_URL": base + "/api/v1/write"}
                result = bench_hub(fleet, args, Path(tmp) / f"on-{pair}", settings,
                                   settle=args.settle)  # fmt: skip
                on.append(result["load"].rate)
                cpu_on.append(result["cpu_us_per_payload"])
                delivered.append((vm_samples(base), result["load"].ok))
            finally:
                stop(vm)
            print(f"pair {pair + 1}: off {off[-1]:,.0f}/s, on {on[-1]:,.0f}/s", flush=True)
    print(f"ingest with remote-write, {args.pairs} alternated pairs, {args.duration:.0f} s each, "
          f"{args.connections} connections")  # fmt: skip
    print(f"{'':30}{'remote-write on':>18}{'off':>12}")
    print(f"{'payloads/s (mean)':30}{statistics.mean(on):>18,.0f}{statistics.mean(off):>12,.0f}")
    print(
        f"{'hub CPU us per payload (mean)':30}{statistics.mean(cpu_on):>18,.0f}"
        f"{statistics.mean(cpu_off):>12,.0f}  (VictoriaMetrics' own CPU not included)"
    )
    got, stored = map(sum, zip(*delivered, strict=True))
    print(
        f"{'cpu samples in VictoriaMetrics':30}{got:>18,}{'':>12}  of {stored:,} snapshots stored"
    )
    print(f"ratio: {statistics.mean(on) / statistics.mean(off):.2f}x (goal >= 0.9x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
