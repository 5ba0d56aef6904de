"""Ingest (H1/H2): the agents' write path, in one package.

- `routes.py`: `POST /api/register`, `/api/metrics`, `/api/metrics/live`, `/api/ping`.
- `app.py`: `HubApp`, which answers the two write routes before the middleware stack;
  `fasthttp.py`: the lean HTTP/1.1 protocol ingest workers use for the same handlers.
- `decode.py`: msgspec twins of the wire models (the pydantic models stay the contract).
- `timewindow.py`: which `collected_at` values are believed.
- `service.py`: validation done, CPU-bound preparation, then one call to the `Writer`.
- `writer.py`: the `Writer` seam (local, or forwarded from an ingest worker).
- `commit.py`: the batch functions the single writer runs.
"""
