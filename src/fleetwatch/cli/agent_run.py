"""`fleetwatch agent run`, `install-service`, `uninstall-service`.

`fleetwatch agent run [--config FILE]` runs the daemon in the foreground until SIGINT/SIGTERM
(`fleetwatch agent FILE` is the same, as seed 001's `python agent.py myconfig.json`). Without
`--config` the default path is used: `$FLEETWATCH_AGENT_CONFIG`, else
`/etc/fleetwatch/agent.json` as root, `~/.config/fleetwatch/agent.json` otherwise,
`%PROGRAMDATA%\\fleetwatch\\agent.json` on Windows. A missing file means all defaults; it is
created when the agent registers.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fleetwatch.cli.parsers import documented_command


def _config_path(args: argparse.Namespace) -> Path:
    from fleetwatch.agent.config import default_config_path

    return Path(args.config).expanduser() if args.config else default_config_path()


def register(sub: Any) -> None:
    run_parser = documented_command(
        sub, "run", "run the agent daemon (collect, buffer, deliver to the hub)", __doc__
    )
    run_parser.add_argument("--config", metavar="FILE", help="agent config file (JSON or TOML)")
    run_parser.set_defaults(func=run)

    for name, help_text in (
        ("install-service", "install the agent as a systemd service / Windows scheduled task"),
        ("uninstall-service", "stop and remove the agent's service / scheduled task"),
    ):
        parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
        parser.add_argument("--config", metavar="FILE", help="config file the service will use")
        parser.add_argument(
            "--dry-run", action="store_true", help="print what would be written and run; do nothing"
        )
        if name == "install-service":
            parser.add_argument("--user", help="run the systemd service as this user (Linux)")
        parser.set_defaults(func=install_service if name == "install-service" else uninstall)


def run(args: argparse.Namespace) -> int:
    from fleetwatch.agent.daemon import run_agent

    return run_agent(_config_path(args))


def install_service(args: argparse.Namespace) -> int:
    from fleetwatch.agent.install import execute, plan_install

    config = _config_path(args)
    plan = plan_install(config, user=args.user)
    if args.dry_run:
        print(plan.render())
        return 0
    if not config.exists():
        print(f"note: {config} does not exist yet; the agent starts with defaults and creates it")
    execute(plan)
    print(f"{plan.description}: done")
    return 0


def uninstall(args: argparse.Namespace) -> int:
    from fleetwatch.agent.install import execute, plan_uninstall

    plan = plan_uninstall(_config_path(args))
    if args.dry_run:
        print(plan.render())
        return 0
    execute(plan, tolerate_failures=True)
    print(f"{plan.description}: done")
    return 0
