"""H14 end to end: a real `fleetwatch hub` process logs into `<data-dir>/logs` (one file for
everything, one per component), rotates at `log_max_bytes`, writes JSON lines with
`--log-format json`, keeps every secret it handles out of every file, and counts its logged
errors into the fleet's health score; a start-up failure lands in `logs/crash.log`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest
from cryptography.fernet import Fernet

from factories import make_snapshot
from hubtest import admin_token, bearer, running_hub

pytestmark = pytest.mark.e2e
FLEETWATCH = [sys.executable, "-m", "fleetwatch.cli.main"]


def _log_text(logs: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(logs.rglob("*")) if p.is_file())


def test_secrets_never_reach_a_log_line_and_files_rotate(tmp_path: Path) -> None:
    env = {"FLEETWATCH_LOG_MAX_BYTES": "65536", "FLEETWATCH_LOG_BACKUP_COUNT": "2",
           "FLEETWATCH_ACCESS_LOG": "true", "FLEETWATCH_RATE_LIMIT_PER_MINUTE": "0",
           "FLEETWATCH_LOG_LEVEL": "debug"}  # fmt: skip
    with running_hub(tmp_path, None, "--ingest-workers", "1", **env) as hub:
        logs = hub.data_dir / "logs"
        token = admin_token(hub)
        secrets = [token]
        with httpx.Client(base_url=hub.base_url, timeout=10) as api:
            body = api.post("/api/register", json={"hostname": "logged-01"}).json()
            secrets.append(body["api_key"])
            auth = bearer(body["server_id"], body["api_key"])
            assert api.post("/api/metrics", json=make_snapshot(), headers=auth).status_code == 200
            admin = {"Authorization": f"Bearer {token}"}
            password = "Correct-Horse-Battery-77"
            r = api.post("/api/dashboard/users", headers=admin,
                         json={"name": "lena", "role": "viewer", "password": password})  # fmt: skip
            assert r.status_code in (200, 201), r.text
            secrets.append(password)
            login = api.post("/api/session/login", json={"name": "lena", "password": password})
            assert login.status_code == 200, login.text
            secrets += [c.value for c in api.cookies.jar if c.value]
            wrong = "Wrong-Password-Typed-1234"
            api.post("/api/session/login", json={"name": "lena", "password": wrong})
            secrets.append(wrong)
            made = api.post("/api/dashboard/me/tokens", headers=admin, json={"label": "ci"})
            secrets.append(made.json()["token"])
            # the credentials in a URL and a header must not be logged either
            api.get(f"/api/ping?token={secrets[-1]}", headers={"Authorization": f"Bearer {token}"})
            for _ in range(900):  # access-log lines: enough to rotate the 64 KiB files
                api.get("/api/ping")
        text = _log_text(logs)
        assert "GET /api/ping" in text and "debug" in {p.name for p in logs.iterdir()}
        for secret in secrets:
            assert secret not in text, f"a secret ({secret[:6]}...) reached a log file"
        assert (logs / "hub.log").is_file() and (logs / "components" / "web.log").is_file()
        assert (logs / "hub.log.1").is_file() and not (logs / "hub.log.3").exists()
        assert (logs / "hub.log").stat().st_size <= 65536
        assert (logs / "components" / "web.worker0.log").is_file(), "the worker's own files"
        assert "ready" in (logs / "hub.worker0.log").read_text()


def test_json_lines_and_logged_errors_cost_the_fleet_points(tmp_path: Path) -> None:
    mail = {"smtp_host": "127.0.0.1", "smtp_port": 2525, "from_address": "hub@example.test",
            "security": "none", "username": "hub", "password": "Mail-Secret-9876"}  # fmt: skip
    with running_hub(tmp_path, None, "--ingest-workers", "0") as hub:
        admin = {"Authorization": f"Bearer {admin_token(hub)}"}
        r = httpx.put(f"{hub.base_url}/api/dashboard/mail", json=mail, headers=admin)
        assert r.status_code == 200, r.text
    # the same data under another secret key: the stored mail password cannot be read, and
    # the hub says so at ERROR each time it reads the mail settings
    other_key = Fernet.generate_key().decode()
    with running_hub(tmp_path, None, "--log-format", "json", "--ingest-workers", "0",
                     FLEETWATCH_SECRET_KEY=other_key) as hub:  # fmt: skip
        admin = {"Authorization": f"Bearer {admin_token(hub)}"}
        with httpx.Client(base_url=hub.base_url, timeout=10, headers=admin) as api:
            assert api.get("/api/health").json()["fleet"]["score"] == 100.0
            assert api.get("/api/dashboard/mail").status_code == 200
            health = api.get("/api/health").json()["fleet"]
            summary = api.get("/api/health/summary").json()["current"]
        lines = (hub.data_dir / "logs" / "hub.log").read_text().splitlines()
    first_json = next(i for i, line in enumerate(lines) if line.startswith("{"))
    records = [orjson.loads(line) for line in lines[first_json:]]  # the second start: all JSON
    assert {"ts", "level", "logger", "message"} <= set(records[-1])
    errors = [r for r in records if r["level"] == "error"]
    assert errors and "secret key changed" in errors[0]["message"]
    assert summary["hub_log_counts"]["error"] >= 1 and summary["hub_recent_errors"] >= 1
    factor = [f for f in health["explanation"] if f["factor"].startswith("hub logged")]
    assert factor and factor[0]["points"] <= -2.0 and health["score"] < 100.0
    assert "Mail-Secret-9876" not in _log_text(hub.data_dir / "logs")


def test_a_start_up_failure_is_kept_in_the_crash_log(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = f"sqlite:///{tmp_path}/no-such-folder/x/fleetwatch.db"
    done = subprocess.run(
        [*FLEETWATCH, "hub", "--data-dir", str(data), "--database-url", bad, "--port", "0",
         "--ingest-workers", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    crash = (data / "logs" / "crash.log").read_text()
    assert "Traceback" in crash and re.search(r"OperationalError|unable to open", crash), crash
