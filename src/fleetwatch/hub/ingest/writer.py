"""The one seam every ingest write goes through: `Writer`.

`await writer(kind, item, snapshots)` commits `STORE_FUNCTIONS[kind]` on `item` and returns
that function's answer. `LocalWriter` runs it on this process's single writer (the hub
process); an ingest worker installs its `dispatch.forward.Forwarder` under `WRITER_KEY`, which
sends the write to the hub process's writer (`snapshots`: their alert readings travel along).
Nothing else in the hub writes ingest data, so "one writer" holds with workers too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.events import SnapshotView
from fleetwatch.hub.ingest.commit import STORE_FUNCTIONS
from fleetwatch.hub.store.database import Database

#: ctx.extras key: the process's `Writer` when it is not a `LocalWriter` (ingest workers)
WRITER_KEY = "ingest.writer"


class Writer(Protocol):
    async def __call__(
        self, kind: str, item: Any, snapshots: Sequence[SnapshotView] | None = None
    ) -> Any: ...


class LocalWriter:
    """This process's writer: `Database.write_batched` of the named batch function."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(
        self, kind: str, item: Any, snapshots: Sequence[SnapshotView] | None = None
    ) -> Any:
        return await self.db.write_batched(STORE_FUNCTIONS[kind], item)


def writer_of(ctx: HubContext) -> Writer:
    """The writer installed for this process, else a local one."""
    writer: Writer | None = ctx.extras.get(WRITER_KEY)
    return writer if writer is not None else LocalWriter(ctx.db)
