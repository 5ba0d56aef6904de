"""`fleetwatch export`: download a hub's export (H18) to a file, through its API."""

from __future__ import annotations

import argparse
import shutil
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from fleetwatch.cli.hubapi import add_hub_arguments, check_url, open_api, read_token
from fleetwatch.errors import ConfigError, TransportError

__all__ = ["download", "export_url", "read_token", "register"]


def export_url(base: str, fmt: str, hours: float, resolution: str) -> str:
    query = urllib.parse.urlencode({"format": fmt, "hours": f"{hours:g}", "resolution": resolution})
    return f"{base.rstrip('/')}/api/dashboard/export?{query}"


def download(url: str, out: Path | None, token: str = "", timeout_seconds: float = 300.0) -> int:
    """Stream `url` to `out` (stdout when None); returns bytes written; no partial files."""
    request = urllib.request.Request(url, headers={"Accept": "application/json, text/csv"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with open_api(request, "export", timeout_seconds) as response:
        if out is None:
            shutil.copyfileobj(response, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return -1
        partial = out.with_name(out.name + ".part")
        try:
            with partial.open("wb") as fh:
                shutil.copyfileobj(response, fh, 1 << 16)
            partial.replace(out)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise TransportError(f"export failed while writing {out}: {exc}") from None
    return out.stat().st_size


def _run(args: argparse.Namespace) -> int:
    url = check_url(args.url)
    if not 1 <= args.hours <= 2160:
        raise ConfigError("--hours", "must be between 1 and 2160")
    out = None if args.out in (None, "-") else Path(args.out)
    if out is not None and not out.parent.is_dir():
        raise ConfigError("--out", f"folder {out.parent} does not exist")
    token = read_token(args.token_file)
    size = download(export_url(url, args.format, args.hours, args.resolution), out, token)
    if out is not None:
        print(f"wrote {out} ({size} bytes, {args.format}, last {args.hours:g} h)", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "export",
        help="export every server's data from a hub as JSON or CSV",
        description="Downloads GET /api/dashboard/export from a hub (streamed to the file).",
    )
    add_hub_arguments(p)
    p.add_argument("--format", choices=("json", "csv"), default="json")
    p.add_argument("--hours", type=float, default=168.0, help="range in hours (1-2160)")
    p.add_argument(
        "--resolution",
        choices=("auto", "raw", "1m", "1h"),
        default="auto",
        help="history tier (auto: finest that covers the range)",
    )
    p.add_argument("--out", default=None, help="output file; '-' or absent = stdout")
    p.set_defaults(func=_run)
