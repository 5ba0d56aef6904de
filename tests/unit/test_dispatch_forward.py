"""Worker writes committed by the hub's writer (`hub/dispatch/forward.py`): a real socket pair,
a real SQLite file, the real store functions."""

from __future__ import annotations

import asyncio
import dataclasses
import pickle
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from factories import make_snapshot
from fleetwatch.hub.alerts.feed import Relayed
from fleetwatch.hub.api.errors import ApiError
from fleetwatch.hub.dispatch import forward, store_server
from fleetwatch.hub.dispatch.forward import Forwarder
from fleetwatch.hub.dispatch.relay import Wanted
from fleetwatch.hub.dispatch.store_server import StoreServer
from fleetwatch.hub.events import EventBus, SnapshotView, Subscription
from fleetwatch.hub.ingest.commit import SnapshotWrite, StoreResult
from fleetwatch.hub.ingest.routes import parse_snapshots
from fleetwatch.hub.ingest.service import prepare_snapshots
from fleetwatch.hub.store import migrate, references
from fleetwatch.hub.store.database import Database


@dataclass
class Pair:
    forwarder: Forwarder
    hub_db: Database
    worker_db: Database
    hub_end: socket.socket
    server: StoreServer
    relayed: Subscription


def _rows(db: Database) -> list[tuple[str, str]]:
    with db.engine.connect() as conn:
        return [
            tuple(r) for r in conn.exec_driver_sql("SELECT server_id, snapshot_id FROM snapshots")
        ]


def _write(server_id: str, *snapshot_ids: str, processes: int = 3) -> SnapshotWrite:
    return _write_and_views(server_id, *snapshot_ids, processes=processes)[0]


def _write_and_views(
    server_id: str, *snapshot_ids: str, processes: int = 3
) -> tuple[SnapshotWrite, list[SnapshotView]]:
    bodies = []
    for sid in snapshot_ids:
        snap = make_snapshot(snapshot_id=sid)
        snap["processes"] = [
            {"pid": n, "name": f"p{n}", "cpu_percent": 1.0} for n in range(processes)
        ]
        bodies.append(snap)
    raw = orjson.dumps({"snapshots": bodies})
    views, _ = parse_snapshots(raw)
    refs = references.References()
    return prepare_snapshots(server_id, views, time.time(), "snapshots", refs), list(views)


@asynccontextmanager
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    url = f"sqlite:///{tmp_path / 'fw.db'}"
    hub_db, worker_db = Database(url), Database(url)
    migrate.upgrade(hub_db.engine)
    with hub_db.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO servers (id, hostname, key_prefix, key_hash, created_at) "
            "VALUES ('srv', 'h', 'p', 'x', 0)"
        )
    hub_db.start()
    worker_db.start()
    worker_end, hub_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    worker_end.setblocking(False)
    hub_end.setblocking(False)
    loop = asyncio.get_running_loop()
    forwarder = Forwarder(worker_end, worker_db, Wanted())
    bus = EventBus()
    relayed = bus.subscribe("test", (Relayed,))
    server = StoreServer(hub_db, bus)

    def hub_reads() -> None:
        try:
            message = hub_end.recv(1 << 20)
        except BlockingIOError:
            return
        if message:
            server.handle(message, hub_end.send)

    def worker_reads() -> None:
        try:
            message = worker_end.recv(1 << 20)
        except BlockingIOError:
            return
        if not message:
            loop.remove_reader(worker_end.fileno())
            forwarder.close()
        else:
            forwarder.on_reply(message)

    loop.add_reader(hub_end.fileno(), hub_reads)
    loop.add_reader(worker_end.fileno(), worker_reads)
    try:
        yield Pair(forwarder, hub_db, worker_db, hub_end, server, relayed)
    finally:
        loop.remove_reader(worker_end.fileno())
        if hub_end.fileno() >= 0:
            loop.remove_reader(hub_end.fileno())
            hub_end.close()
        worker_end.close()
        hub_db.close()
        worker_db.close()


def test_forwarded_writes_are_committed_by_the_hub_and_answered(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[object], list[tuple[str, str]], int]:
        async with pair(tmp_path) as p:
            results = await asyncio.gather(
                p.forwarder("snapshots", _write("srv", "a", "b")),
                p.forwarder("snapshots", _write("srv", "c")),
                p.forwarder("snapshots", _write("gone", "d")),  # a deleted server
                p.forwarder("pings", ("srv", time.time())),
            )
            again = await p.forwarder("snapshots", _write("srv", "a"))  # a replay
            return [*results, again], _rows(p.hub_db), p.server.served

    results, rows, served = asyncio.run(scenario())
    first, second, gone, ping, replay = results
    assert isinstance(first, StoreResult) and first.stored == 2
    assert isinstance(second, StoreResult) and second.stored == 1
    assert gone is None  # ingest then answers 404 for a deleted server
    assert ping == (None,)  # nobody watches live
    assert isinstance(replay, StoreResult) and replay.duplicates == 1
    assert sorted(rows) == [("srv", "a"), ("srv", "b"), ("srv", "c")]
    assert served == 5


def test_a_message_goes_to_the_writer_as_one_job_and_a_bad_write_in_it_fails_alone(
    tmp_path: Path,
) -> None:
    async def scenario() -> tuple[list[object], list[tuple[str, str]], int, int]:
        async with pair(tmp_path) as p:
            good, bad = _write("srv", "g1"), _write("srv", "b1")
            broken = dataclasses.replace(bad.rows[0], ts=None)  # never built by a worker
            bad = dataclasses.replace(bad, rows=[broken])
            jobs = p.hub_db.jobs_committed
            results = await asyncio.gather(  # one loop turn: one message
                p.forwarder("snapshots", good),
                p.forwarder("snapshots", _write("srv", "g2")),
                return_exceptions=True,
            )
            together = p.hub_db.jobs_committed - jobs
            results += await asyncio.gather(
                p.forwarder("snapshots", _write("srv", "g3")),
                p.forwarder("snapshots", bad),
                return_exceptions=True,
            )
            return results, _rows(p.hub_db), together, p.server.retried

    results, rows, together, retried = asyncio.run(scenario())
    assert together == 1  # two requests, one writer job
    assert all(isinstance(r, StoreResult) and r.stored == 1 for r in results[:3])
    assert isinstance(results[3], Exception)
    assert sorted(rows) == [("srv", "g1"), ("srv", "g2"), ("srv", "g3")]
    assert retried == 2  # g3 and the bad one, each alone after their job failed


def test_the_hub_publishes_the_readings_of_committed_snapshots_only(tmp_path: Path) -> None:
    async def scenario() -> list[Relayed]:
        async with pair(tmp_path) as p:
            write, views = _write_and_views("srv", "r1", "r2")
            await p.forwarder("snapshots", write, views)
            replay, views = _write_and_views("srv", "r2", "r3")  # r2 is a duplicate
            await p.forwarder("snapshots", replay, views)
            await p.forwarder("snapshots", _write("srv", "r4"))  # sent without readings
            events: list[Relayed] = p.relayed.drain(10)
            with p.hub_db.engine.connect() as conn:
                rows = conn.exec_driver_sql("SELECT snapshot_id, id FROM snapshots")
                ids = {row[0]: row[1] for row in rows}
            relayed = [row[0] for e in events for row in e.rows]
            assert relayed == [ids["r1"], ids["r2"], ids["r3"]]
            return events

    events = asyncio.run(scenario())
    assert len(events) == 2  # one per write that committed something
    assert {e.server_id for e in events} == {"srv"}
    assert all(
        readings is not None and "cpu_percent" in readings
        for e in events
        for _id, _ts, readings in e.rows
    )


def test_when_the_hub_is_gone_waiting_writes_fail_and_later_ones_are_written_here(
    tmp_path: Path,
) -> None:
    async def scenario() -> tuple[BaseException | None, StoreResult, list[tuple[str, str]]]:
        async with pair(tmp_path) as p:
            loop = asyncio.get_running_loop()
            loop.remove_reader(p.hub_end.fileno())  # the hub stops reading ...
            waiting = asyncio.ensure_future(p.forwarder("snapshots", _write("srv", "x")))
            await asyncio.sleep(0.05)
            p.hub_end.close()  # ... and exits without answering
            error: BaseException | None = None
            try:
                await asyncio.wait_for(waiting, timeout=5)
            except ApiError as exc:
                error = exc
            later = await p.forwarder("snapshots", _write("srv", "y"))
            return error, later, _rows(p.worker_db)

    error, later, rows = asyncio.run(scenario())
    assert isinstance(error, ApiError) and error.status == 503 and "hub stopped" in str(error)
    assert later.stored == 1
    assert rows == [("srv", "y")]  # "x" was never committed: its agent sends it again


def test_a_write_too_large_for_a_message_is_written_by_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_write = _write("srv", "small", processes=1)
    big_write = _write("srv", *[f"big-{i}" for i in range(8)], processes=40)
    sizes = [len(pickle.dumps([(0, "snapshots", w)], protocol=5)) for w in (small_write, big_write)]
    assert sizes[1] > sizes[0] + 1000
    # both go in one message at first, which is split: the small half fits, the big one not
    monkeypatch.setattr(forward, "MAX_FORWARD", sizes[0] + 500)

    async def scenario() -> tuple[StoreResult, StoreResult, int, list[tuple[str, str]]]:
        async with pair(tmp_path) as p:
            small, big = await asyncio.gather(
                p.forwarder("snapshots", small_write), p.forwarder("snapshots", big_write)
            )
            return small, big, p.server.served, _rows(p.hub_db)

    small, big, served, rows = asyncio.run(scenario())
    assert small.stored == 1 and big.stored == 8
    assert served == 1  # only the small one went to the hub
    assert len(rows) == 9


def test_a_write_the_hub_never_answers_gets_503_after_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forward, "ANSWER_TIMEOUT_SECONDS", 0.2)
    monkeypatch.setattr(forward, "SWEEP_SECONDS", 0.05)

    async def scenario() -> BaseException | None:
        async with pair(tmp_path) as p:
            asyncio.get_running_loop().remove_reader(p.hub_end.fileno())  # it never reads
            try:
                await asyncio.wait_for(p.forwarder("snapshots", _write("srv", "lost")), 5)
            except ApiError as exc:
                return exc
            return None

    error = asyncio.run(scenario())
    assert isinstance(error, ApiError) and error.status == 503


def test_answers_too_large_for_one_message_are_split_and_lose_only_their_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ref = references.Reference(1, b"x" * 3000, 0.0)
    small = StoreResult((1,), None, None)
    answers: list[forward.Answer] = [(0, True, StoreResult((2,), None, ref)), (1, True, small)]
    monkeypatch.setattr(store_server, "MAX_FORWARD", 2500)
    messages = store_server._answer_messages(answers)
    assert all(len(m) <= 2500 for m in messages) and len(messages) == 2
    got = [a for m in messages for a in pickle.loads(m[len(forward.REPLY) :])]
    assert got == [(0, True, StoreResult((2,), None, None)), (1, True, small)]
