"""`fleetwatch user ...`: manage dashboard accounts on the hub's database (H8).

    fleetwatch user add NAME --role admin|operator|viewer [--email E] [--password-stdin]
    fleetwatch user list | remove NAME | passwd NAME [--password-stdin] | unlock NAME
    fleetwatch user token NAME [--label L]        prints a new API token (shown once)
    fleetwatch user tokens NAME | revoke-token ID

Every command takes the hub's `--data-dir` / `--database-url` / `--config` and works while the
hub runs (SQLite WAL and PostgreSQL both allow it). Without `--password-stdin`, `add` generates
a password and prints it once.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fleetwatch.errors import UserError

_Handler = Callable[[Any, argparse.Namespace], Awaitable[int]]


def _hub_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="hub data directory (default ./data)")
    parser.add_argument("--database-url", help="hub database URL (default SQLite in data dir)")
    parser.add_argument("--config", type=Path, help="hub JSON config file")


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """The password to set: one line of stdin with `--password-stdin`, else a generated one
    (then True: the caller prints it once with `_print_generated`)."""
    if not getattr(args, "password_stdin", False):
        from fleetwatch.hub.services import passwords

        return passwords.generate_password(), True
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise UserError("invalid", "no password on standard input", "password")
    return password, False


def _print_generated(password: str, generated: bool) -> None:
    if generated:
        print(f"password: {password}  (shown only once)")


async def _add(ctx: Any, args: argparse.Namespace) -> int:
    from fleetwatch.hub.services import users

    password, generated = _password(args)
    user = await users.create_user(
        ctx, args.name, args.role, password, email=args.email, actor="cli"
    )
    print(f"created {user.role} {user.name!r}")
    _print_generated(password, generated)
    return 0


async def _list(ctx: Any, _args: argparse.Namespace) -> int:
    import time

    from fleetwatch.hub.services import users

    rows = await users.list_users(ctx)
    print(f"{'NAME':<20} {'ROLE':<9} {'EMAIL':<30} LAST LOGIN")
    for u in rows:
        last = (
            time.strftime("%Y-%m-%d %H:%M", time.localtime(u.last_login_at))
            if u.last_login_at
            else "never"
        )
        locked = "  (locked)" if u.locked else ""
        print(f"{u.name:<20} {u.role:<9} {(u.email or '-'):<30} {last}{locked}")
    return 0


async def _remove(ctx: Any, args: argparse.Namespace) -> int:
    from fleetwatch.hub.services import users

    await users.delete_user(ctx, args.name, actor="cli")
    print(f"removed {args.name!r}")
    return 0


async def _passwd(ctx: Any, args: argparse.Namespace) -> int:
    from fleetwatch.hub.services import users

    password, generated = _password(args)
    await users.set_password(ctx, args.name, password, actor="cli")
    print(f"password of {args.name!r} changed; its sessions were ended")
    _print_generated(password, generated)
    return 0


async def _unlock(ctx: Any, args: argparse.Namespace) -> int:
    from fleetwatch.hub.services import users

    await users.unlock_user(ctx, args.name, actor="cli")
    print(f"unlocked {args.name!r}")
    return 0


async def _token(ctx: Any, args: argparse.Namespace) -> int:
    from fleetwatch.hub.services import tokens

    info, token = await tokens.create_token(ctx, args.name, label=args.label, actor="cli")
    print(token)
    print(f"(token {info.id} for {info.user_name!r}; shown only once)", file=sys.stderr)
    return 0


async def _tokens(ctx: Any, args: argparse.Namespace) -> int:
    from fleetwatch.hub.services import tokens

    print(f"{'ID':>5} {'PREFIX':<13} {'LABEL':<24} STATE")
    for t in await tokens.list_tokens(ctx, args.name):
        state = "revoked" if t.revoked_at else "active"
        print(f"{t.id:>5} {t.prefix:<13} {t.label:<24} {state}")
    return 0


async def _revoke(ctx: Any, args: argparse.Namespace) -> int:
    from fleetwatch.hub.services import tokens

    info = await tokens.revoke_token(ctx, args.id, actor="cli")
    print(f"revoked token {info.id} of {info.user_name!r}")
    return 0


async def _with_hub(handler: _Handler, args: argparse.Namespace) -> int:
    from fleetwatch.hub.context import HubContext
    from fleetwatch.hub.settings import load_settings
    from fleetwatch.hub.store.database import Database
    from fleetwatch.hub.store.migrate import upgrade

    settings = load_settings(
        {"data_dir": args.data_dir, "database_url": args.database_url}, config_file=args.config
    )
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    try:
        upgrade(db.engine)
        db.start()
        return await handler(HubContext(settings=settings, db=db), args)
    finally:
        db.close()


def _run(handler: _Handler) -> Callable[[argparse.Namespace], int]:
    def func(args: argparse.Namespace) -> int:
        try:
            return asyncio.run(_with_hub(handler, args))
        except UserError as exc:
            print(f"fleetwatch user: {exc.message}", file=sys.stderr)
            return 1

    return func


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("user", help="manage dashboard users")
    user_sub = parser.add_subparsers(dest="user_command", metavar="SUBCOMMAND")
    roles = ("admin", "operator", "viewer")

    def add(name: str, handler: _Handler, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = user_sub.add_parser(name, help=help_text)
        _hub_args(p)
        p.set_defaults(func=_run(handler))
        return p

    p = add("add", _add, "create a user")
    p.add_argument("name")
    p.add_argument("--role", choices=roles, required=True)
    p.add_argument("--email")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add("list", _list, "list users")
    add("remove", _remove, "delete a user").add_argument("name")
    p = add("passwd", _passwd, "set a user's password")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add("unlock", _unlock, "clear a lockout after failed logins").add_argument("name")
    p = add("token", _token, "print a new API token for a user")
    p.add_argument("name")
    p.add_argument("--label", default="cli token")
    add("tokens", _tokens, "list a user's API tokens").add_argument("name")
    add("revoke-token", _revoke, "revoke an API token by id").add_argument("id", type=int)

    def _help(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=_help)
