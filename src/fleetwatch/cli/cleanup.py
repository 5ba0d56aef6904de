"""`fleetwatch cleanup`: run a hub's data cleanup now (T1), through `DELETE
/api/dashboard/settings` (admin token), and print what it deleted.

The hub runs the same cleanup every 10 minutes; this is for an operator who has just lowered a
retention setting, or wants the space back before a backup.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from fleetwatch.cli.hubapi import add_hub_arguments, call_json, check_url, read_token


def summary(answer: dict[str, Any]) -> str:
    deleted: dict[str, int] = answer.get("deleted", {})
    total = sum(deleted.values())
    parts = ", ".join(f"{table} {count}" for table, count in deleted.items() if count)
    duration = answer.get("duration_ms")
    took = f" in {duration} ms" if duration is not None else ""
    return f"cleanup done{took}: {total} rows deleted" + (f" ({parts})" if parts else "")


def _run(args: argparse.Namespace) -> int:
    url = check_url(args.url) + "/api/dashboard/settings"
    answer = call_json("DELETE", url, read_token(args.token_file), "cleanup", args.timeout)
    if args.json:
        json.dump(answer, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(summary(answer))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "cleanup",
        help="delete data older than the hub's retention now",
        description=(
            "Runs the hub's data cleanup now (DELETE /api/dashboard/settings; needs an admin "
            "API token) and prints the rows deleted per table."
        ),
    )
    add_hub_arguments(p)
    p.add_argument("--json", action="store_true", help="print the hub's whole answer as JSON")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the hub")
    p.set_defaults(func=_run)
