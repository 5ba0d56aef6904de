"""The minimal HTTP/1.1 client against a raw loopback socket server answering scripted bytes."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from fleetwatch.agent.http11 import ConnectionClosed, Http11Connection, HttpProtocolError
from fleetwatch.agent.transport import HubConnection


@contextmanager
def raw_server(*answers: bytes, close_after_each: bool = False) -> Iterator[tuple[int, list]]:
    """Answers each request (read up to its blank line + Content-Length) with the next bytes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    seen: list[bytes] = []
    queue = list(answers)

    def serve() -> None:
        while queue:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                reader = conn.makefile("rb")
                while queue:
                    head = b""
                    while not head.endswith(b"\r\n\r\n"):
                        line = reader.readline()
                        if not line:
                            break
                        head += line
                    if not head:
                        break
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    seen.append(head + reader.read(length))
                    conn.sendall(queue.pop(0))
                    if close_after_each:
                        break
                reader.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], seen
    finally:
        listener.close()
        thread.join(5)


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"


def test_content_length_chunked_and_keepalive() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4\r\n{"a"\r\n3;ext=1\r\n: 1\r\n1\r\n}\r\n0\r\n\r\n'
    )
    with raw_server(OK, chunked, b"HTTP/1.1 100 Continue\r\n\r\n" + OK) as (port, seen):
        conn = Http11Connection("127.0.0.1", port, timeout_seconds=5)
        assert conn.request("GET", "/a", None, {}) == (200, {"content-length": "2"}, b"{}")
        status, _headers, body = conn.request("POST", "/b", b"xyz", {"X-Test": "1"})
        assert (status, body) == (200, b'{"a": 1}')
        assert conn.request("GET", "/c", None, {})[0] == 200
        conn.close()
    assert len(seen) == 3  # one connection carried all three
    assert seen[1].startswith(b"POST /b HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"Content-Length: 3\r\n" in seen[1] and seen[1].endswith(b"\r\n\r\nxyz")


def test_connection_close_and_read_to_end() -> None:
    answer = b"HTTP/1.0 200 OK\r\n\r\nall of it"
    with raw_server(answer) as (port, _):
        conn = Http11Connection("127.0.0.1", port, timeout_seconds=5)
        assert conn.request("GET", "/", None, {})[2] == b"all of it"
        assert not conn.connected


def test_garbage_answer_is_a_protocol_error() -> None:
    with raw_server(b"SSH-2.0-OpenSSH\r\n") as (port, _):
        conn = Http11Connection("127.0.0.1", port, timeout_seconds=5)
        with pytest.raises(HttpProtocolError):
            conn.request("GET", "/", None, {})
        assert not conn.connected


def test_transport_retries_once_when_an_idle_connection_was_closed() -> None:
    with raw_server(OK, OK, close_after_each=True) as (port, seen):
        hub = HubConnection(f"http://127.0.0.1:{port}")
        assert hub.request("GET", "/api/ping").status == 200
        # the server closed that connection; the next request notices and reconnects
        assert hub.request("GET", "/api/ping").status == 200
        hub.close()
    assert len(seen) == 2


def test_closed_without_answer_is_connection_closed() -> None:
    with raw_server(b"") as (port, _):
        conn = Http11Connection("127.0.0.1", port, timeout_seconds=5)
        with pytest.raises(ConnectionClosed):
            conn.request("GET", "/", None, {})
