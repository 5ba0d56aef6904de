"""Transport and hub client against a real HTTP(S) server on loopback."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from agent_runtime_support import ScriptedHub, make_cert
from fleetwatch.agent.hub_client import HubClient
from fleetwatch.agent.transport import HubConnection
from fleetwatch.errors import ConfigError, TransportError


def test_register_send_gzip_and_keepalive() -> None:
    with ScriptedHub() as hub:
        conn = HubConnection(hub.url)
        client = HubClient(conn)
        server_id, key = client.register()
        assert client.enrolled and hub.state.keys[server_id] == key
        reg = hub.requests_to("/api/register")[0].body
        assert reg["hostname"] and reg["agent_version"]
        bodies = [json.dumps({"snapshot_id": f"s{i}", "pad": "x" * 300}).encode() for i in range(3)]
        result = client.send_batch(bodies)
        assert (result.stored, result.duplicates) == (3, 0)
        assert client.send_batch(bodies[:1]).duplicates == 1
        req = hub.requests_to("/api/metrics")[0]
        assert req.gzipped and req.raw_size < len(b",".join(bodies))
        assert req.headers["authorization"] == f"Bearer {server_id}:{key}"
        client.ping()
        assert conn.requests_total == 4
        assert len({r.peer for r in hub.requests}) == 1  # one TCP connection (keep-alive)
        conn.close()


def test_error_answers_carry_status_message_and_retry_after() -> None:
    with ScriptedHub() as hub:
        conn = HubConnection(hub.url)
        client = HubClient(conn, "srv", "key")
        hub.script("/api/ping", (429, {"Retry-After": "7"}, {"error": {"message": "slow down"}}))
        with pytest.raises(TransportError) as info:
            client.ping()
        assert info.value.status == 429 and info.value.retry_after_seconds == 7.0
        assert "slow down" in str(info.value)
        with pytest.raises(TransportError) as info:
            client.ping()  # not enrolled on this hub
        assert info.value.status == 401
        conn.close()


def test_refused_connection_is_a_transport_error_without_status() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = HubClient(HubConnection(f"http://127.0.0.1:{port}"), "a", "b")
    with pytest.raises(TransportError, match="connection refused") as info:
        client.ping()
    assert info.value.status is None


def test_tls_verification_on_by_default_and_off_when_configured(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    with ScriptedHub(cert, key) as hub:
        with pytest.raises(TransportError, match="TLS failure") as info:
            HubClient(HubConnection(hub.url)).register()
        assert info.value.status is None
        conn = HubConnection(hub.url, verify_ssl=False)
        server_id, _ = HubClient(conn).register()
        assert server_id
        conn.close()


def test_bad_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="dashboard_url"):
        HubConnection("ftp://hub")
