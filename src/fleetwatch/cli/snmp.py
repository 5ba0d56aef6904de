"""`fleetwatch snmp mib`: print the MIB of the hub's SNMP responder (H12), to load into an SNMP
manager: `fleetwatch snmp mib > FLEETWATCH-MIB.txt; snmpwalk -m +./FLEETWATCH-MIB.txt ...`."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser("snmp", help="SNMP integration (the responder's MIB)")
    snmp_sub = parser.add_subparsers(dest="snmp_command", metavar="SUBCOMMAND")
    mib = snmp_sub.add_parser("mib", help="print FLEETWATCH-MIB (SMIv2) for SNMP managers")
    mib.set_defaults(func=_mib)
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)


def _mib(_args: argparse.Namespace) -> int:
    from fleetwatch.hub.snmp import mib_text

    sys.stdout.write(mib_text())
    return 0
