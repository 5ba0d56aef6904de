"""SNMP benchmark (`make bench-hub`, issue 19): GETs answered per second by the hub's SNMP v2c
responder beside net-snmp's `snmpd`, in one run, with the same client and the same load.

1. `fleetwatch hub --snmp-port P` with `--servers` registered servers (one snapshot each);
2. `snmpd` (Debian `snmpd`) on a free loopback port, `rocommunity public`;
3. against each: `--seconds` of GET requests with `--oids` OIDs each (the hub: fleet scalars;
   snmpd: the `system` group), `--window` requests outstanding, a new one sent as each answer
   arrives. The client is this script (one asyncio UDP socket), the same for both.

Goal (issue 19): at least 0.5x snmpd's GETs/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from fleetwatch.hub.snmp import ber
from prometheus import populate
from stream import free_port, start_hub

SNMPD = shutil.which("snmpd") or "/usr/sbin/snmpd"
HUB_OIDS = [(1, 3, 6, 1, 4, 1, 12345, 1, n, 0) for n in range(1, 6)]
HUB_OIDS += [(1, 3, 6, 1, 4, 1, 12345, 2, n, 0) for n in range(1, 5)]
SNMPD_OIDS = [(1, 3, 6, 1, 2, 1, 1, n, 0) for n in range(1, 8)]
SNMPD_OIDS += [(1, 3, 6, 1, 2, 1, 25, 1, 1, 0), (1, 3, 6, 1, 2, 1, 1, 9, 1, 2, 1)]


def get_request(request_id: int, oids: list[ber.Oid]) -> bytes:
    varbinds = b"".join(ber.varbind(ber.oid(o), bytes((ber.NULL, 0))) for o in oids)
    pdu = ber.integer(request_id) + ber.integer(0) + ber.integer(0)
    pdu += ber.tlv(ber.SEQUENCE, varbinds)
    body = ber.integer(ber.V2C) + ber.octets("public") + ber.tlv(ber.GET, pdu)
    return ber.tlv(ber.SEQUENCE, body)


class Client(asyncio.DatagramProtocol):
    def __init__(self, oids: list[ber.Oid], until: float) -> None:
        self.oids, self.until = oids, until
        self.answered = self.errors = self.next_id = 0
        self.transport: Any = None
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def send(self) -> None:
        self.next_id += 1
        self.transport.sendto(get_request(self.next_id, self.oids))

    def datagram_received(self, data: bytes, addr: Any) -> None:
        reply = ber.decode(data)
        if reply.kind != ber.RESPONSE or reply.non_repeaters != 0:  # error-status
            self.errors += 1
        self.answered += 1
        if time.monotonic() < self.until:
            self.send()
        elif not self.done.done():
            self.done.set_result(None)


async def blast(port: int, oids: list[ber.Oid], seconds: float, window: int) -> tuple[int, int]:
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    transport, client = await loop.create_datagram_endpoint(
        lambda: Client(oids, started + seconds), remote_addr=("127.0.0.1", port)
    )
    for _ in range(window):
        client.send()
    with contextlib.suppress(TimeoutError):  # datagrams lost: count what was answered
        await asyncio.wait_for(client.done, seconds + 10)
    transport.close()
    return client.answered, client.errors


def start_snmpd(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = tmp / "snmpd.conf"
    conf.write_text("rocommunity public 127.0.0.1\nsysLocation bench\nsysContact bench\n")
    cmd = [SNMPD, "-f", "-Lf", str(tmp / "snmpd.log"), "-C", "-c", str(conf),
           "-p", str(tmp / "snmpd.pid"), f"udp:127.0.0.1:{port}"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, port


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--window", type=int, default=16)
    ap.add_argument("--oids", type=int, default=9, help="OIDs per GET (at most 9)")
    args = ap.parse_args()
    oids = max(1, min(args.oids, 9))
    with tempfile.TemporaryDirectory(prefix="fw-bench-snmp-") as tmp:
        snmp_port = free_port()
        proc, base, _token = start_hub(Path(tmp), "--snmp-port", str(snmp_port))
        try:
            asyncio.run(populate(base, args.servers))
            asyncio.run(blast(snmp_port, HUB_OIDS[:oids], 1.0, args.window))  # warm up
            hub = asyncio.run(blast(snmp_port, HUB_OIDS[:oids], args.seconds, args.window))
        finally:
            proc.terminate()
            proc.wait(30)
        snmpd, port = start_snmpd(Path(tmp))
        try:
            time.sleep(1.0)
            asyncio.run(blast(port, SNMPD_OIDS[:oids], 1.0, args.window))
            net = asyncio.run(blast(port, SNMPD_OIDS[:oids], args.seconds, args.window))
        finally:
            snmpd.terminate()
            snmpd.wait(10)
    print(f"SNMP v2c GET, {oids} OIDs per request, {args.window} outstanding, "
          f"{args.seconds:.0f} s each (hub: {args.servers} servers)")  # fmt: skip
    print(f"{'':24}{'fleetwatch hub':>16}{'net-snmp snmpd':>16}")
    hub_rate, net_rate = hub[0] / args.seconds, net[0] / args.seconds
    print(f"{'GETs/s':24}{hub_rate:>16,.0f}{net_rate:>16,.0f}")
    print(f"{'error answers':24}{hub[1]:>16}{net[1]:>16}")
    print(f"ratio: {hub_rate / net_rate:.2f}x snmpd (goal >= 0.5x)")


if __name__ == "__main__":
    main()
