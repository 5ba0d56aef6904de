"""Helpers of the remote-operations tests (issue 21): users with tokens, real agents with a
control channel, waiting for channels and commands."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from agent_runtime_support import AgentProcess, wait_for, write_config
from hubtest import RunningHub

FLEETWATCH = [sys.executable, "-m", "fleetwatch.cli.main"]
#: as root the agent runs commands only as a named user; here that is root itself, on purpose
#: (the tests' files and Python live in root-only folders)
RUN_AS = pwd.getpwuid(os.getuid()).pw_name


def user_token(hub: RunningHub, name: str, role: str) -> str:
    subprocess.run(
        [
            *FLEETWATCH,
            "user",
            "add",
            name,
            "--role",
            role,
            "--password-stdin",
            "--data-dir",
            str(hub.data_dir),
        ],
        input="A-long-password-123\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    done = subprocess.run(
        [*FLEETWATCH, "user", "token", name, "--data-dir", str(hub.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def start_agent(hub: RunningHub, folder: Path, **extra: Any) -> tuple[AgentProcess, str]:
    folder.mkdir(parents=True, exist_ok=True)
    config = write_config(
        folder / "agent.json",
        dashboard_url=hub.base_url,
        collection_interval_seconds=30,
        log_file="agent.log",
        **extra,
    )
    agent = AgentProcess(config)
    server_id = wait_for(
        lambda: json.loads(config.read_text()).get("server_id"), timeout=20, what="enrolment"
    )
    return agent, str(server_id)


def connected(api: httpx.Client, server_id: str) -> dict[str, Any]:
    status: dict[str, Any] = wait_for(
        lambda: (s := api.get(f"/api/servers/{server_id}/control").json())["connected"] and s,
        timeout=20,
        what="the control channel",
    )
    return status


def finished(api: httpx.Client, command_id: str, timeout: float = 20) -> dict[str, Any]:
    item: dict[str, Any] = wait_for(
        lambda: (c := api.get(f"/api/commands/{command_id}").json())["done"] and c,
        timeout=timeout,
        what=f"command {command_id} to end",
    )
    return item
