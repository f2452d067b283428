"""API keys from the command line, straight on the database: for the operator who has lost
every admin key (or is setting up before the service runs).

    python -m services.key_admin create NAME [--scope admin] [--application ID ...]
                                             [--expires-at TIME] [--rate-limit N]
    python -m services.key_admin list
    python -m services.key_admin revoke ID

Every change is audited as `key-admin` (with the operating-system user on whose behalf), and
reaches running services through the change feed like a change made through the API.
"""

import argparse
import asyncio
import getpass
import sys

from pydantic import ValidationError

from config.settings import SettingsError, load_settings
from database.embedded import resolve_database_url
from database.migrations import apply_migrations
from database.pool import Database, PoolOptions
from models.api_keys import ApiKeyCreate
from models.audit import AuditContext
from models.errors import DomainError
from models.paging import MAX_LIMIT, PageRequest
from services.api_keys import ApiKeyService


def _context() -> AuditContext:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    return AuditContext(actor="key-admin", on_behalf_of=user)


async def run(args: argparse.Namespace, service: ApiKeyService) -> int:
    if args.command == "create":
        request = ApiKeyCreate(
            name=args.name,
            scopes=args.scope or ["admin"],
            application_ids=args.application or None,
            expires_at=args.expires_at,
            rate_limit_per_second=args.rate_limit,
        )
        created = await service.create(request, _context())
        print(f"created {created.name} ({created.id}), scopes {','.join(created.scopes)}", file=sys.stderr)
        print("the key is shown this once; keep it safe:", file=sys.stderr)
        print(created.key)
    elif args.command == "list":
        page = PageRequest(limit=MAX_LIMIT)
        while True:
            result = await service.list(page)
            for key in result.items:
                reach = "all" if key.application_ids is None else ",".join(key.application_ids)
                expires = key.expires_at.isoformat() if key.expires_at else "never"
                used = key.last_used_at.isoformat() if key.last_used_at else "never"
                print(
                    f"{key.id}  {key.prefix}…  {key.name}  scopes={','.join(key.scopes)}  "
                    f"applications={reach}  expires={expires}  last_used={used}"
                )
            if not result.has_more:
                break
            page = PageRequest(limit=MAX_LIMIT, after=result.next_after)
    else:
        await service.revoke(args.id, _context())
        print(f"revoked {args.id}", file=sys.stderr)
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="keys", description="Manage API keys on the database directly.")
    commands = root.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="make a key and print its secret (once)")
    create.add_argument("name")
    create.add_argument(
        "--scope",
        action="append",
        choices=["read", "write", "admin", "secrets"],
        help="repeatable; default admin",
    )
    create.add_argument("--application", action="append", metavar="ID", help="repeatable; default all")
    create.add_argument("--expires-at", metavar="TIME", help="RFC 3339, e.g. 2027-01-01T00:00:00Z")
    create.add_argument("--rate-limit", type=int, metavar="N", help="requests a second")
    commands.add_parser("list", help="list keys (never their secrets)")
    revoke = commands.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id")
    return root


async def _with_database(url: str, args: argparse.Namespace, default_rate_limit: int) -> int:
    db = Database(url, PoolOptions(min_connections=1, max_connections=1))
    db.open()
    try:
        return await run(args, ApiKeyService(db, default_rate_limit))
    finally:
        db.close()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"keys: {error}", file=sys.stderr)
        return 2
    url = resolve_database_url(settings)
    apply_migrations(url, settings.db_connect_timeout_s)
    try:
        return asyncio.run(_with_database(url, args, settings.rate_limit_per_second))
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        print(f"keys: {problems}", file=sys.stderr)
    except DomainError as error:
        print(f"keys: {error.detail}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
