"""`fleetwatch protocol schema`: print the wire models' JSON Schema."""

from __future__ import annotations

import argparse
import json
from typing import Any


def _schema(_args: argparse.Namespace) -> int:
    from fleetwatch.protocol.models import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser("protocol", help="inspect the wire protocol")
    psub = parser.add_subparsers(dest="protocol_command", metavar="SUBCOMMAND")
    schema = psub.add_parser("schema", help="print the JSON Schema of every wire model")
    schema.set_defaults(func=_schema)

    def _help(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=_help)
