"""`fleetwatch cmd SERVER -- ARGV...`: run a command on a server's agent (A13) and print its
output as it comes; the exit code is the command's (124 after a timeout, 125 when the hub or
the agent refused it or it never ran).

SERVER is a server id, hostname or display name. `--shell "script"` runs `sh -c` (admin
token, and the host must allow it). The token comes from `--token-file` or `$FLEETWATCH_TOKEN`.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.parse
from typing import Any

from fleetwatch.cli.hubapi import add_hub_arguments, call_json, check_url, read_token
from fleetwatch.errors import ConfigError, TransportError

POLL_SECONDS = 0.1
EXIT_TIMEOUT, EXIT_NOT_RUN = 124, 125


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "cmd", help="run a command on a server's agent and print its output", description=__doc__
    )
    p.add_argument("server", help="server id, hostname or name")
    p.add_argument("argv", nargs="*", help="the program and its arguments (after --)")
    p.add_argument("--shell", default=None, help="a shell script instead of ARGV (admin)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds before it is killed")
    add_hub_arguments(p)
    p.set_defaults(func=_run)


def resolve(base: str, token: str, name: str) -> str:
    """The id of the server called `name` (id, hostname or display name; unique)."""
    overview = call_json("GET", f"{base}/api/dashboard", token, "listing the servers")
    found = [s["id"] for s in overview.get("servers", [])
             if name in (s.get("id"), s.get("hostname"), s.get("name"))]  # fmt: skip
    if not found:
        raise ConfigError("SERVER", f"no server called {name!r}")
    if len(set(found)) > 1:
        raise ConfigError("SERVER", f"{name!r} names several servers: give its id")
    return str(found[0])


def _run(args: argparse.Namespace) -> int:
    base = check_url(args.url)
    token = read_token(args.token_file)
    if bool(args.argv) == bool(args.shell):
        raise ConfigError("ARGV", "give the command after -- or --shell, not both")
    server_id = resolve(base, token, args.server)
    body: dict[str, Any] = {"timeout_seconds": args.timeout}
    body.update({"shell": args.shell} if args.shell else {"argv": list(args.argv)})
    path = f"{base}/api/servers/{urllib.parse.quote(server_id, safe='')}/commands"
    created = call_json("POST", path, token, "starting the command", body=body)
    after = 0
    while True:
        item = call_json("GET", f"{base}/api/commands/{created['id']}?after={after}", token,
                         "reading the command")  # fmt: skip
        for chunk in item.get("chunks", []):
            out = sys.stderr if chunk["stream"] == "stderr" else sys.stdout
            out.write(chunk["data"])
            out.flush()
        after = item.get("next_after", after)
        if item.get("done"):
            return _finish(item)
        time.sleep(POLL_SECONDS)


def _finish(item: dict[str, Any]) -> int:
    state = item["state"]
    if item.get("truncated"):
        print(f"fleetwatch cmd: output cut at the cap ({item['output_bytes']} bytes in all)",
              file=sys.stderr)  # fmt: skip
    if state == "exited":
        return int(item.get("exit_code") or 0)
    print(f"fleetwatch cmd: {state}: {item.get('message') or ''}".rstrip(": "), file=sys.stderr)
    if state == "timeout":
        return EXIT_TIMEOUT
    if state in ("refused", "failed", "duplicate", "expired", "lost", "interrupted"):
        return EXIT_NOT_RUN
    raise TransportError(f"the command ended {state}")
