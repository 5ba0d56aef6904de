"""Ingest workers: agents' connections served by other processes, on the hub's one port.

One Python process holds one GIL: however many cores the machine has, the hub's ingest (HTTP,
validation, encoding, the writer) ran on one of them. The dashboard cannot simply run in several
processes (NiceGUI keeps each page's state in the process that rendered it, so its socket must
land there too), so the hub process keeps every connection by default and hands agents'
connections to ingest worker processes:

- `sniff.py` (hub process): uvicorn's protocol for each new connection is a `Sniffer` that waits
  for the first bytes. A connection whose first request is an agent's (`POST /api/metrics`,
  `POST /api/metrics/live`, `POST /api/ping`) is handed over; any other goes on in this process
  exactly as before (the dashboard, the API, registration, health checks).
- `pool.py` (hub process): starts the workers, hands a connection to one of them (the socket
  passed with `SCM_RIGHTS` over a `SOCK_SEQPACKET` pair, with the bytes already read), restarts
  a worker that died, and stops them with the hub. If no worker can take a connection (none
  ready, one busy or gone), the hub serves it itself: handing over is an optimisation, never a
  condition for an answer.
- `worker.py` (worker process): a uvicorn server without a listening socket that serves the
  connections it is handed with the hub's API app (no dashboard, never the leader). A connection
  it holds that later asks for a dashboard page gets a redirect to the same URL with
  `Connection: close`, so the browser's next connection reaches the hub process.

Every process has its own writer; on SQLite they take turns through `store/writelock.py`.
Alert evaluation stays with the elected leader (the hub process), which reads the workers'
snapshots back from the store (`alerts/feed.py`).
"""
