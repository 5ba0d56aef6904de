"""Schemathesis against `/openapi.json` of a real hub on loopback: no request is a 500.

Every operation of the published schema gets generated requests (valid and invalid ones, NUL
bytes and 64-bit-overflowing integers included), authenticated as the admin on
`/api/dashboard/*` and as a registered agent elsewhere, so the handlers actually run. Only the
`not_a_server_error` check: a 4xx of any kind is fine, a 5xx is a bug. Bounded in time:
`FLEETWATCH_SCHEMATHESIS_SECONDS` per database (75 by default), shared across operations.
Issue 26.9: the 500s it found (ids and offsets beyond 64 bits, NUL in strings) stay fixed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

from hubtest import RunningHub, postgres_schema, running_hub

SECONDS = float(os.environ.get("FLEETWATCH_SCHEMATHESIS_SECONDS", "75"))
#: generated requests per operation at most (the time budget usually ends it first)
EXAMPLES = int(os.environ.get("FLEETWATCH_SCHEMATHESIS_EXAMPLES", "25"))
#: operations that would lock the run out (revoking the admin's token) or end the hub
SKIPPED = {
    ("DELETE", "/api/dashboard/tokens/{token_id}"),
    ("DELETE", "/api/dashboard/me/tokens/{token_id}"),
}
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def live_hub_and_url(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[RunningHub, str | None]]:
    if request.param == "sqlite":
        with running_hub(tmp_path, None, FLEETWATCH_RATE_LIMIT_PER_MINUTE="0") as hub:
            yield hub, None
        return
    with (
        postgres_schema(request.getfixturevalue("postgres_url")) as url,
        running_hub(tmp_path, url, FLEETWATCH_RATE_LIMIT_PER_MINUTE="0") as hub,
    ):
        yield hub, url


def _admin_headers(hub: RunningHub, database_url: str | None) -> dict[str, str]:
    """An admin API token (`fleetwatch user token admin`, against the hub's database)."""
    cmd = [sys.executable, "-m", "fleetwatch.cli.main", "user", "token", "admin"]
    cmd += ["--data-dir", str(hub.data_dir)]
    cmd += ["--database-url", database_url] if database_url else []
    token = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    return {"Authorization": f"Bearer {token.strip()}"}


def _agent_headers(hub: RunningHub) -> dict[str, str]:
    answer = httpx.post(f"{hub.base_url}/api/register", json={"hostname": "fuzz-01"}, timeout=10)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return {"Authorization": f"Bearer {body['server_id']}:{body['api_key']}"}


@pytest.mark.timeout(int(SECONDS) + 240)
def test_no_operation_answers_a_server_error(
    live_hub_and_url: tuple[RunningHub, str | None],
) -> None:
    live_hub, database_url = live_hub_and_url
    admin = _admin_headers(live_hub, database_url)
    agent = _agent_headers(live_hub)
    schema = schemathesis.openapi.from_url(f"{live_hub.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if (op.method.upper(), op.path) not in SKIPPED]
    assert len(operations) > 40, [op.label for op in operations]
    budget = SECONDS / len(operations)
    failures: list[str] = []
    calls = 0
    skipped: list[str] = []
    session = requests.Session()

    for operation in operations:
        headers = admin if operation.path.startswith("/api/dashboard") else agent
        stop = time.monotonic() + budget
        strategy = operation.as_strategy(schemathesis.GenerationMode.POSITIVE) | (
            operation.as_strategy(schemathesis.GenerationMode.NEGATIVE)
        )

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=False,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def fuzz(case: schemathesis.Case) -> None:  # called in this iteration only
            nonlocal calls
            if time.monotonic() > stop or len(failures) > 20:  # noqa: B023
                return
            calls += 1
            try:
                response = case.call(session=session, headers=headers, timeout=10)  # noqa: B023
            except requests.Timeout:
                return  # a stream that stays open (SSE) is not a server error
            try:
                case.validate_response(response, checks=[not_a_server_error])
            except Exception as exc:
                failures.append(f"{operation.label}: {str(exc)[:600]}\n{case.as_curl_command()}")  # noqa: B023

        try:
            fuzz()
        except Exception as exc:
            skipped.append(f"{operation.label}: {type(exc).__name__}")

    assert calls > len(operations), (calls, skipped)
    assert len(skipped) < len(operations) // 4, skipped
    assert not failures, "\n\n".join(failures) + "\n\nhub log:\n" + live_hub.log()[-4000:]
