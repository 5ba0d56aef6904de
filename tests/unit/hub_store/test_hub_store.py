"""Store internals: codec, group-commit writer, rollup folding, migrations, settings, limiter."""

from __future__ import annotations

import asyncio
import json
import threading
import zlib
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Connection, create_engine, insert, inspect, select, text

from factories import make_snapshot
from fleetwatch.errors import ConfigError
from fleetwatch.hub.api.ratelimit import RateLimiter
from fleetwatch.hub.settings import load_settings
from fleetwatch.hub.store import codec, hours, rollups, tables
from fleetwatch.hub.store.database import Database
from fleetwatch.hub.store.engine import make_engine
from fleetwatch.hub.store.migrate import head_revision, upgrade
from fleetwatch.hub.store.tables import metadata
from hubtest import postgres_schema

# --- codec ------------------------------------------------------------------------------------


def test_codec_round_trips_and_beats_plain_zlib() -> None:
    doc = make_snapshot()
    packed = codec.pack(doc)
    assert codec.unpack(packed) == doc
    assert len(packed) < len(zlib.compress(orjson.dumps(doc), 6)) * 0.8
    assert codec.unpack(b"z" + zlib.compress(orjson.dumps(doc))) == doc  # first format
    dictionary = resources.files("fleetwatch.hub.store").joinpath("codec_dict_v1.bin")
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15, zdict=dictionary.read_bytes())
    older = b"d" + deflate.compress(orjson.dumps(doc)) + deflate.flush()
    assert codec.unpack(older) == doc  # second format, still read
    assert codec.unpack(codec.pack_json(orjson.dumps(doc))) == doc
    assert codec.unpack(None) is None and codec.unpack(b"") is None
    with pytest.raises(ValueError, match="unknown stored format"):
        codec.unpack(b"?abc")


# --- writer -------------------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Any:
    database = Database(f"sqlite:///{tmp_path / 'w.db'}", max_delay_ms=20)
    with database.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)")
    database.start()
    yield database
    database.close()


def _insert(key: str) -> Any:
    def job(conn: Connection) -> str:
        conn.exec_driver_sql("INSERT INTO t (k, v) VALUES (?, 1)", (key,))
        return key

    return job


def _batch(conn: Connection, keys: list[str]) -> list[str]:
    conn.exec_driver_sql("INSERT INTO t (k, v) VALUES (?, 2)", [(k,) for k in keys])
    return [k.upper() for k in keys]


def _count(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM t")).scalar_one())


def test_a_failing_job_fails_alone_and_the_rest_is_committed(db: Database) -> None:
    async def main() -> list[Any]:
        jobs = [db.write(_insert(k)) for k in ("a", "b", "a", "c")]  # second "a" violates the PK
        return await asyncio.gather(*jobs, return_exceptions=True)

    results = asyncio.run(main())
    assert results[0] == "a" and results[1] == "b" and results[3] == "c"
    assert isinstance(results[2], Exception)
    assert _count(db) == 3
    assert db.batches_committed <= 2  # gathered into (nearly) one transaction


def test_batched_items_share_one_call_and_a_bad_item_fails_alone(db: Database) -> None:
    async def main() -> list[Any]:
        items = [db.write_batched(_batch, k) for k in ("x", "y", "x", "z")]
        return await asyncio.gather(*items, return_exceptions=True)

    results = asyncio.run(main())
    assert results[0] == "X" and results[1] == "Y" and results[3] == "Z"
    assert isinstance(results[2], Exception)
    assert _count(db) == 3


def test_a_failed_batch_reruns_its_transaction_and_every_job_lands_once(db: Database) -> None:
    async def main() -> list[Any]:
        jobs = [
            db.write(_insert("solo")),
            db.write_batched(_batch, "p"),
            db.write_batched(_batch, "p"),  # a duplicate key: the batch fails, then this item
            db.write_batched(_batch, "q"),
            db.write(_insert("solo")),  # fails alone, in its own SAVEPOINT
        ]
        return await asyncio.gather(*jobs, return_exceptions=True)

    results = asyncio.run(main())
    assert results[0] == "solo" and results[1] == "P" and results[3] == "Q"
    assert isinstance(results[2], Exception) and isinstance(results[4], Exception)
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT k, v FROM t ORDER BY k")).all()
    assert [tuple(r) for r in rows] == [("p", 2), ("q", 2), ("solo", 1)]


def test_write_returns_only_after_commit(db: Database) -> None:
    async def main() -> None:
        await db.write(_insert("k"))
        assert _count(db) == 1  # a separate connection already sees it

    asyncio.run(main())


def test_the_wal_starts_over_while_the_writer_commits_without_pause(tmp_path: Path) -> None:
    """A writer that never pauses must not outrun the checkpointer: the WAL file starts over
    each round instead of growing with everything ever written."""
    path = tmp_path / "wal.db"
    database = Database(f"sqlite:///{path}", max_delay_ms=0)
    with database.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE b (k INTEGER PRIMARY KEY, v BLOB)")
    database.start()
    blob = bytes(range(256)) * 4  # 1 KiB per row

    def put(conn: Connection, keys: list[int]) -> list[None]:
        conn.exec_driver_sql("INSERT INTO b (k, v) VALUES (?, ?)", [(k, blob) for k in keys])
        return [None] * len(keys)

    async def main() -> int:
        written, key, loop = 0, 0, asyncio.get_running_loop()
        deadline = loop.time() + 3.5  # three checkpoint rounds and a half
        while loop.time() < deadline:
            await asyncio.gather(*(database.write_batched(put, key + i) for i in range(16)))
            key += 16
            written += 16 * len(blob)
        return written

    try:
        written = asyncio.run(main())
        header = (tmp_path / "wal.db-wal").read_bytes()[:16]
        wal = (tmp_path / "wal.db-wal").stat().st_size
    finally:
        database.close()
    restarts = int.from_bytes(header[12:16], "big")  # the WAL header's checkpoint sequence
    assert restarts >= 2, f"the WAL never started over: {wal} bytes after {written} written"
    assert wal < written  # a WAL that never restarts holds all of it, and page overhead


def _insert_and_check(url: str) -> None:
    """Duplicates (stored before, twice in one batch) get None; new rows, with or without a
    snapshot id, get their new ids, in order; the table holds each once."""
    from fleetwatch.hub.store import timeseries
    from fleetwatch.hub.store.tables import HOT_METRICS

    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO servers (id, hostname, key_hash, key_prefix, created_at) "
                "VALUES ('a', 'h', 'x', 'fwk_', 0), ('b', 'h', 'y', 'fwk_', 0)"
            )
        )

    def row(server: str, ts: float, snapshot_id: str | None, stamped: bool = False) -> Any:
        hot = tuple(float(ts) if i == 0 else None for i in range(len(HOT_METRICS)))
        return timeseries.SnapshotRow(server, ts, snapshot_id, hot, b"d", stamped)

    try:
        with engine.begin() as conn:
            first = timeseries.insert_snapshots(conn, [row("a", 1.0, "x1"), row("b", 1.0, "x1")])
        with engine.begin() as conn:
            second = timeseries.insert_snapshots(
                conn,
                [
                    row("a", 1.0, "x1"),  # stored before
                    row("a", 2.0, None),
                    row("b", 2.0, "y2"),
                    row("b", 2.0, "y2"),  # twice in this batch
                    row("a", 2.0, None),  # no id: always stored
                    row("a", 3.0, "x3"),
                ],
            )
        with engine.begin() as conn:  # sent without collected_at: a replay arrives later
            third = timeseries.insert_snapshots(
                conn,
                [
                    row("a", 4.0, "s4", stamped=True),
                    row("a", 4.5, "s4", stamped=True),  # its replay, in the same batch
                    row("a", 5.0, "x3", stamped=True),  # stored above with its time
                    row("b", 5.0, "x3", stamped=True),  # another server's
                ],
            )
        with engine.begin() as conn:
            fourth = timeseries.insert_snapshots(conn, [row("a", 6.0, "s4", stamped=True)])
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT id, server_id, snapshot_id, ts FROM snapshots ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    assert first[0] is not None and first[1] is not None and first[0] < first[1]
    assert second[0] is None and second[3] is None
    new = [second[1], second[2], second[4], second[5]]
    assert all(i is not None for i in new) and new == sorted(new) and new[0] > first[1]
    assert [tuple(r)[1:] for r in stored] == [
        ("a", "x1", 1.0),
        ("b", "x1", 1.0),
        ("a", None, 2.0),
        ("b", "y2", 2.0),
        ("a", None, 2.0),
        ("a", "x3", 3.0),
        ("a", "s4", 4.0),
        ("b", "x3", 5.0),
    ]
    assert third[1] is None and third[2] is None and fourth == [None]
    assert [r[0] for r in stored] == [*first, *new, third[0], third[3]]


def test_insert_snapshots_skips_duplicates_and_returns_new_ids_sqlite(tmp_path: Path) -> None:
    _insert_and_check(f"sqlite:///{tmp_path / 'i.db'}")


@pytest.mark.postgres
def test_insert_snapshots_skips_duplicates_and_returns_new_ids_postgresql(
    postgres_url: str,
) -> None:
    with postgres_schema(postgres_url) as url:
        _insert_and_check(url)


# --- rollups ------------------------------------------------------------------------------------


def _fold_and_read(
    engine: Any, batches: list[list[tuple[float, float | None, float | None]]]
) -> Any:
    """Insert each batch of (ts, cpu, load) rows for server "s" and fold it, as the writer does."""
    from fleetwatch.hub.store import timeseries
    from fleetwatch.hub.store.tables import HOT_METRICS

    with engine.connect() as conn:
        for batch in batches:
            with conn.begin():
                rows = []
                for i, (ts, cpu, load) in enumerate(batch):
                    hot = {name: None for name in HOT_METRICS} | {
                        "cpu_percent": cpu,
                        "load_1": load,
                    }
                    rows.append(
                        timeseries.SnapshotRow("s", ts, f"{ts}-{i}", tuple(hot.values()), b"x")
                    )
                last = timeseries.servers_for_snapshots(conn, ["s"])["s"][1]
                ids = timeseries.insert_snapshots(conn, rows)
                stored = [r for r, i in zip(rows, ids, strict=True) if i is not None]
                rollups.fold(conn, stored, {"s": last})
                newest = max(stored, key=lambda r: r.ts)
                timeseries.update_servers_latest(conn, [("s", newest.ts, newest.ts, b"x", None)])
        return conn.execute(
            text(
                "SELECT bucket, cpu_percent_min, cpu_percent_max, cpu_percent_sum, cpu_percent_n,"
                " load_1_n, load_1_sum FROM rollup_1m ORDER BY bucket"
            )
        ).all()


def _hours(engine: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Server "s"'s 1-hour tier (bucket, cpu n, cpu min, cpu max) as readers see it, and the
    (bucket, cpu n) rows stored in `rollup_1h` (closed hours only)."""
    t = hours.hour_tier(engine.dialect.name)
    with engine.connect() as conn:
        seen = conn.execute(
            select(
                t.c.bucket,
                t.c.cpu_percent_n,
                rollups.low(t, "cpu_percent"),
                rollups.high(t, "cpu_percent"),
            ).order_by(t.c.bucket),
            {"server_id": "s", "start": 0.0, "until": 1e12},
        ).all()
        stored = conn.execute(text("SELECT bucket, cpu_percent_n FROM rollup_1h")).all()
    return [tuple(r) for r in seen], [tuple(r) for r in stored]


def test_rollups_fold_batches_into_buckets_in_the_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    upgrade(engine)
    engine.dispose()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO servers (id, hostname, key_hash, key_prefix, created_at) "
                "VALUES ('s', 'h', 'x', 'fwk_', 0)"
            )
        )
    # batches touch the same minutes: later ones merge into the stored buckets; a bucket
    # holding one value stores only its sum (min/max NULL) until a second value arrives
    got = _fold_and_read(
        engine,
        [
            [(60.0, 10.0, None), (119.0, 30.0, 2.0)],
            [(90.0, 5.0, None), (120.0, 7.0, None)],
            [(180.0, 4.0, None)],
        ],
    )
    assert [tuple(r) for r in got] == [
        (60.0, 5.0, 30.0, 45.0, 3, 1, 2.0),
        (120.0, None, None, 7.0, 1, 0, None),
        (180.0, None, None, 4.0, 1, 0, None),
    ]
    got = _fold_and_read(engine, [[(150.0, 9.0, None), (181.0, 1.0, 3.0)]])
    assert [tuple(r) for r in got] == [
        (60.0, 5.0, 30.0, 45.0, 3, 1, 2.0),
        (120.0, 7.0, 9.0, 16.0, 2, 0, None),
        (180.0, 1.0, 4.0, 5.0, 2, 1, 3.0),
    ]
    t = tables.rollup_1m
    with engine.connect() as conn:
        read = conn.execute(
            select(rollups.low(t, "load_1"), rollups.high(t, "load_1")).order_by(t.c.bucket)
        ).all()
    assert [tuple(r) for r in read] == [(2.0, 2.0), (None, None), (3.0, 3.0)]
    # hour 0 is still the open hour: folded from its minutes for readers, not stored yet
    assert _hours(engine) == ([(0.0, 7, 1.0, 30.0)], [])
    assert rollups.bucket_start(3599.9, 3600) == 0.0
    engine.dispose()


def test_a_large_batch_is_folded_in_chunks_with_every_bucket_merged(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO servers (id, hostname, key_hash, key_prefix, created_at) "
                "VALUES ('s', 'h', 'x', 'fwk_', 0)"
            )
        )
    # 87 minutes in one batch, then each of them once more
    first = [(60.0 * m, float(m), None) for m in range(87)]
    again = [(60.0 * m + 30, float(m) + 1, None) for m in range(87)]
    got = _fold_and_read(engine, [first, again])
    assert len(got) == 87
    assert all(
        tuple(r) == (60.0 * m, float(m), float(m) + 1, 2.0 * m + 1, 2, 0, None)
        for m, r in enumerate(got)
    )
    # hour 0 closed with the first batch (written from its minutes), and its second values
    # were merged into the stored row; hour 1 is open: readers fold it from its minutes
    assert _hours(engine) == ([(0.0, 120, 0.0, 60.0), (3600.0, 54, 60.0, 87.0)], [(0.0, 120)])
    engine.dispose()


# --- migrations ---------------------------------------------------------------------------------


def test_upgrade_creates_the_schema_once_and_adopts_old_databases(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    assert upgrade(engine) == (None, head_revision())
    assert upgrade(engine) == (head_revision(), head_revision())
    assert {"servers", "snapshots", "rollup_1m", "alembic_version"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()
    old = create_engine(f"sqlite:///{tmp_path / 'old.db'}")  # made by pre-migration builds
    first = ("servers", "groups", "snapshots", "rollup_1m", "rollup_1h", "live_samples")
    first += ("settings", "audit_log", "agent_configs")
    metadata.create_all(old, tables=[metadata.tables[name] for name in first])
    assert upgrade(make_engine(str(old.url)))[1] == head_revision()
    old.dispose()


def test_upgrade_moves_an_open_hour_whose_minutes_retention_cut_into_its_minutes(
    tmp_path: Path,
) -> None:
    """Data of older versions: an exact stored row for each open hour, minutes deleted by age.
    Revision 0007 leaves complete minutes alone and replaces partial ones with the stored
    aggregate, so readers (and the close of the hour) see the whole hour."""
    engine = make_engine(f"sqlite:///{tmp_path / 'o.db'}")
    upgrade(engine)
    hour = 1_700_000_000.0 // 3600 * 3600

    def minute(server: str, at: float, cpu: float) -> dict[str, Any]:
        return {"server_id": server, "bucket": at, "cpu_percent_sum": cpu, "cpu_percent_n": 1}

    with engine.begin() as conn:
        for server in ("cut", "whole"):
            conn.execute(
                text(
                    "INSERT INTO servers (id, hostname, key_hash, key_prefix, created_at,"
                    " last_snapshot_at) VALUES (:s, 'h', :s, 'fwk_', 0, :last)"
                ),
                {"s": server, "last": hour + 150},
            )
            exact = {"cpu_percent_min": 1.0, "cpu_percent_max": 5.0, "cpu_percent_sum": 9.0}
            conn.execute(
                insert(tables.rollup_1h).values(
                    server_id=server, bucket=hour, cpu_percent_n=3, **exact
                )
            )
        cut = [minute("cut", hour + 120, 5.0)]  # the minutes at +0 and +60 were deleted
        whole = [minute("whole", hour + 60 * i, v) for i, v in enumerate((1.0, 3.0, 5.0))]
        for row in cut + whole:
            conn.execute(insert(tables.rollup_1m).values(row))
        conn.execute(text("UPDATE alembic_version SET version_num = '0006_codec_refs'"))
    assert upgrade(engine) == ("0006_codec_refs", head_revision())
    t = hours.hour_tier("sqlite")
    query = select(t.c.cpu_percent_n, t.c.cpu_percent_sum, rollups.low(t, "cpu_percent"))
    with engine.connect() as conn:
        for server in ("cut", "whole"):
            params = {"server_id": server, "start": 0.0, "until": 1e12}
            assert tuple(conn.execute(query, params).one()) == (3, 9.0, 1.0), server
        minutes = conn.execute(
            text("SELECT server_id, bucket, cpu_percent_n FROM rollup_1m ORDER BY 1, 2")
        ).all()
    assert [tuple(r) for r in minutes] == [
        ("cut", hour, 3),
        ("whole", hour, 1),
        ("whole", hour + 60, 1),
        ("whole", hour + 120, 1),
    ]
    engine.dispose()


def _concurrent_upgrades(url: str, n: int) -> list[Any]:
    results: list[Any] = []

    def run() -> None:
        engine = make_engine(url)
        try:
            results.append(upgrade(engine))
        except Exception as exc:  # collected and asserted on below
            results.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_concurrent_starts_on_sqlite_do_not_race(tmp_path: Path) -> None:
    results = _concurrent_upgrades(f"sqlite:///{tmp_path / 'c.db'}", 4)
    assert all(isinstance(r, tuple) for r in results), results
    assert sorted(r[0] is None for r in results) == [False, False, False, True]


@pytest.mark.postgres
def test_concurrent_starts_on_postgresql_do_not_race(postgres_url: str) -> None:
    with postgres_schema(postgres_url) as url:
        results = _concurrent_upgrades(url, 4)
        assert all(isinstance(r, tuple) for r in results), results
        assert sorted(r[0] is None for r in results) == [False, False, False, True]


# --- settings -----------------------------------------------------------------------------------


def test_settings_precedence_and_errors(tmp_path: Path) -> None:
    config = tmp_path / "hub.json"
    config.write_text(json.dumps({"port": 9000, "rate_limit_per_minute": 10, "workers": 2}))
    env = {"FLEETWATCH_PORT": "9100", "FLEETWATCH_ACCESS_LOG": "yes"}
    s = load_settings({"port": 9200}, config_file=config, environ=env)
    assert (s.port, s.rate_limit_per_minute, s.workers, s.access_log) == (9200, 10, 2, True)
    assert load_settings(config_file=config, environ=env).port == 9100
    assert load_settings(environ={}).resolved_database_url.endswith("data/fleetwatch.db")
    for bad, key in (
        ({"FLEETWATCH_PORT": "eighty"}, "port"),
        ({"FLEETWATCH_PORT": "70000"}, "port"),
        ({"FLEETWATCH_ACCESS_LOG": "maybe"}, "access_log"),
        ({"FLEETWATCH_LOG_LEVEL": "loud"}, "log_level"),
    ):
        with pytest.raises(ConfigError) as info:
            load_settings(environ=bad)
        assert info.value.key == key
    config.write_text(json.dumps({"prot": 1}))
    with pytest.raises(ConfigError, match="unknown hub setting"):
        load_settings(config_file=config, environ={})


def test_settings_round_trip_through_the_environment(tmp_path: Path) -> None:
    s = load_settings({"data_dir": tmp_path, "workers": 3, "access_log": True}, environ={})
    assert load_settings(environ=s.as_environ()) == s


# --- rate limiter -------------------------------------------------------------------------------


def test_token_bucket_allows_the_budget_then_asks_to_wait() -> None:
    limiter = RateLimiter(per_minute=2)
    assert limiter.consume("ip") == 0 and limiter.consume("ip") == 0
    retry = limiter.consume("ip")
    assert 1 <= retry <= 30 and limiter.retry_after("ip") == retry
    assert limiter.consume("other") == 0
    assert RateLimiter(per_minute=0).consume("ip") == 0
