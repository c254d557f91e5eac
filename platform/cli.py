"""The `holdfast` command: one image, several processes."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import secrets
import sys
from collections.abc import Sequence
from typing import Any

from holdfast.cache.rules import RulesError, load_rules
from holdfast.settings import Settings, SettingsError, load_settings


def _api(args: argparse.Namespace) -> int:
    import uvicorn
    from holdfast.logs import configure_logging
    from holdfast.web.app import create_app
    from holdfast.web.serving import server_options

    settings = load_settings()  # fail fast here, before any worker process starts
    load_rules(settings.cache_rules_file)
    configure_logging()
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": "warning",
        "access_log": False,
        "timeout_graceful_shutdown": 10,
        **server_options(settings),
    }
    if args.workers > 1:
        # Each worker process builds its own settings and app from the environment.
        uvicorn.run(
            "holdfast.web.app:app_from_environment", factory=True, workers=args.workers, **common
        )
    else:
        uvicorn.run(create_app(settings), **common)
    return 0


def _promoter(_: argparse.Namespace) -> int:
    from promoter.loop import main as promoter_main

    return promoter_main(load_settings())


def _worker(args: argparse.Namespace) -> int:
    from workers.worker import check, main

    return check(load_settings()) if args.check else main(load_settings())


def _check(_: argparse.Namespace) -> int:
    settings = load_settings()
    rules = load_rules(settings.cache_rules_file)
    print(
        f"Configuration OK (database '{settings.mongo_database}', "
        f"{len(rules)} cache rules from {settings.cache_rules_file})."
    )
    return 0


async def _create_admin(settings: Settings, email: str, password: str) -> bool:
    from holdfast.accounts.service import create_or_reset_admin
    from holdfast.context import close_context, open_context
    from holdfast.db import ensure_indexes

    ctx = await open_context(settings)
    try:
        await ensure_indexes(ctx.db)
        _, created = await create_or_reset_admin(ctx, email=email, password=password)
        return created
    finally:
        await close_context(ctx)


def _create_admin_cmd(args: argparse.Namespace) -> int:
    settings = load_settings()
    password = args.password
    generated = False
    if password is None:
        if sys.stdin.isatty():
            password = getpass.getpass("Password for the admin: ")
        else:
            password, generated = secrets.token_urlsafe(12), True
    created = asyncio.run(_create_admin(settings, args.email, password))
    print(f"{'Created' if created else 'Reset'} admin {args.email}.")
    if generated:
        print(f"Password: {password}")
    return 0


def _dev(args: argparse.Namespace) -> int:
    from holdfast.dev import run_dev

    return run_dev(host=args.host, port=args.port)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="holdfast", description="Holdfast booking platform")
    commands = root.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("dev", "the whole platform locally, with demo data"),
        ("api", "the web platform"),
    ):
        sub = commands.add_parser(name, help=helptext)
        sub.add_argument("--host", default="127.0.0.1")
        sub.add_argument("--port", type=int, default=8000)
        if name == "api":
            sub.add_argument("--workers", type=int, default=1, help="API processes (default 1)")
    commands.add_parser("promoter", help="the promoter process")
    worker = commands.add_parser("worker", help="an arq worker")
    worker.add_argument("--check", action="store_true", help="exit 0 if a worker is alive")
    commands.add_parser("check", help="validate configuration")
    admin = commands.add_parser("create-admin", help="create or reset an admin")
    admin.add_argument("--email", required=True)
    admin.add_argument("--password")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handlers = {
        "dev": _dev,
        "api": _api,
        "check": _check,
        "create-admin": _create_admin_cmd,
        "promoter": _promoter,
        "worker": _worker,
    }
    try:
        return int(handlers[args.command](args))
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    except RulesError as exc:
        print(f"Holdfast cannot start: {exc}.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
