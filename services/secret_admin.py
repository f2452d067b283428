"""Secrets from the command line, straight on the database: for the operator who rotates the
keys that seal them, or who finds that a value leaked into history before a schema marked it
secret.

    python -m services.secret_admin rotate [--batch-size N]
    python -m services.secret_admin scrub --configuration ID --path /a/b

`rotate` re-seals, with the first key of SECRETS_KEY (or SECRETS_KEY_FILE), every stored
secret sealed with another: in the configurations, their revisions and the images of their
audit events. To rotate: put the new key first and keep the old ones after it, restart the
service with that list (so that what it seals from now on is sealed with the new key), run
`rotate`, then drop the old keys. Each batch is its own transaction, and a value sealed with
the first key already is left as it is: after an interruption, run it again and it goes on
from where it stopped. A value that no configured key opens is named (never shown) and left as
it is; the run goes on, and ends with exit status 1.

`scrub` seals the value at a JSON Pointer wherever it lies in one configuration: its current
config, every revision, every audit image. It is the one sanctioned change to the permanent
record, and is itself an audit event (`configuration.scrubbed`, as `secret-admin`, naming the
path, never the value).

No value of a secret is ever printed.
"""

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TextIO

import psycopg2
from psycopg2.extensions import connection as Connection

from config.secret_keys import SecretsKeyMissing
from config.settings import SettingsError, load_settings
from database.embedded import resolve_database_url
from database.errors import DatabaseUnavailable
from database.migrations import apply_migrations
from database.pool import Database, PoolOptions
from models.audit import AuditContext
from models.errors import ConfigurationNotFound, DomainError, SecretUnreadable
from models.sealed import copy_json, is_sealed, walk
from repositories import audit, configurations, secret_rows
from services.audit import record_about
from services.change_notifier import CHANGES_CHANNEL
from services.ids import existing_id
from services.secret_history import seal_everywhere
from services.secrets import SecretBox

DEFAULT_BATCH_SIZE = 100
# A batch may wait on a row a request holds, and a count reads whole tables: more time than
# a request is given, but still an end.
STATEMENT_TIMEOUT_MS = 120_000

_IMAGE_CONFIG = "config"  # where an audit image holds the configuration's config


def _context() -> AuditContext:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    return AuditContext(actor="secret-admin", on_behalf_of=user)


# --- rotate -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Unreadable:
    """A sealed value that no configured key opens: where it lies, never what it is."""

    table: str
    configuration_id: str
    path: str
    row: str  # which row of the table, for the operator to find it

    def __str__(self) -> str:
        where = f"{self.table}, {self.row}" if self.row else self.table
        return (
            f"no configured key opens the value at {self.path} "
            f"of configuration {self.configuration_id} ({where})"
        )


@dataclass
class Batch:
    """What one batch did. Built inside its transaction, so a batch run again (the database
    aborted it) starts from nothing."""

    last: Any  # the key of the last row looked at: the next batch starts after it
    rows: int = 0
    touched: int = 0
    resealed: int = 0
    current: int = 0  # sealed with the first key already
    unreadable: list[Unreadable] = field(default_factory=list)


@dataclass
class Rotation:
    rows: int = 0
    touched: int = 0
    resealed: int = 0
    current: int = 0
    unreadable: list[Unreadable] = field(default_factory=list)

    def add(self, batch: Batch) -> None:
        self.rows += batch.rows
        self.touched += batch.touched
        self.resealed += batch.resealed
        self.current += batch.current
        self.unreadable.extend(batch.unreadable)


def resealed(
    document: Any,
    box: SecretBox,
    configuration_id: str,
    batch: Batch,
    unreadable: Callable[[str], Unreadable],
) -> Any | None:
    """`document` with each sealed value that is not sealed with the first key sealed with
    it (same place, same associated data), or None if none was; counted in `batch`."""
    if document is None:
        return None
    copy = copy_json(document)
    count = 0
    for path, value, parent, key in list(walk(copy)):
        if not is_sealed(value) or parent is None:
            continue
        if box.sealed_with_first_key(value):
            batch.current += 1
            continue
        try:
            plain = box.open(value, configuration_id, path)
        except SecretUnreadable:
            batch.unreadable.append(unreadable(path))
            continue
        parent[key] = box.seal(plain, configuration_id, path)
        count += 1
    batch.resealed += count
    return copy if count else None


def _configurations_batch(conn: Connection, box: SecretBox, after: str, limit: int) -> Batch:
    rows = secret_rows.configs_holding_sealed(conn, after=after, limit=limit)
    batch = Batch(last=rows[-1]["id"] if rows else after, rows=len(rows))
    for row in rows:
        config = resealed(
            row["config"], box, row["id"], batch, partial(Unreadable, "configurations", row["id"], row="")
        )
        if config is not None:
            secret_rows.set_config(conn, row["id"], config)
            batch.touched += 1
    return batch


def _revisions_batch(conn: Connection, box: SecretBox, after: tuple[str, int], limit: int) -> Batch:
    secret_rows.allow_sealing(conn)
    rows = secret_rows.revisions_holding_sealed(conn, after=after, limit=limit)
    last = (rows[-1]["configuration_id"], rows[-1]["version"]) if rows else after
    batch = Batch(last=last, rows=len(rows))
    for row in rows:
        configuration_id, version = row["configuration_id"], row["version"]
        where = partial(Unreadable, "configuration_revisions", configuration_id, row=f"version {version}")
        config = resealed(row["config"], box, configuration_id, batch, where)
        if config is not None:
            secret_rows.set_revision(conn, configuration_id, version, config)
            batch.touched += 1
    return batch


def _events_batch(conn: Connection, box: SecretBox, after: int, limit: int) -> Batch:
    secret_rows.allow_sealing(conn)
    rows = secret_rows.events_holding_sealed(conn, after=after, limit=limit)
    batch = Batch(last=rows[-1]["seq"] if rows else after, rows=len(rows))
    for row in rows:
        images = {side: row[side] for side in ("before", "after")}
        changed = False
        for side, image in images.items():
            if not isinstance(image, dict) or not isinstance(image.get(_IMAGE_CONFIG), dict):
                continue
            where = partial(
                Unreadable,
                "audit_events",
                row["entity_id"],
                row=f"event {row['id']} (seq {row['seq']}), {side}",
            )
            config = resealed(image[_IMAGE_CONFIG], box, row["entity_id"], batch, where)
            if config is not None:
                images[side] = image | {_IMAGE_CONFIG: config}
                changed = True
        if changed:
            secret_rows.set_event(conn, row["id"], images["before"], images["after"])
            batch.touched += 1
    return batch


class Progress:
    """A bar of rows looked at out of rows to look at, redrawn in place on a terminal; else
    a line at each tenth (and at the end), so a log is not flooded."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO) -> None:
        self._total = total
        self._done = 0
        self._stream = stream
        self._live = stream.isatty()
        self._shown: tuple[int, int] | None = None  # (tenths, rows) last written to a log
        self._draw()

    def advance(self, rows: int) -> None:
        self._done += rows
        self._draw()

    def finish(self) -> None:
        if self._live:
            self._write("\n")
        elif self._shown is not None and self._shown[1] != self._done:
            self._write(self._line() + "\n")

    def _draw(self) -> None:
        if self._live:
            self._write("\r" + self._line())
            return
        tenths = int(self._share() * 10)
        if self._shown is None or self._shown[0] != tenths:
            self._shown = (tenths, self._done)
            self._write(self._line() + "\n")

    def _share(self) -> float:
        return self._done / self._all() if self._all() else 1.0

    def _all(self) -> int:
        # Rows written meanwhile can make the walk longer than the count it started with.
        return max(self._total, self._done)

    def _line(self) -> str:
        filled = int(self._share() * self.WIDTH)
        return f"rotating [{'#' * filled}{'.' * (self.WIDTH - filled)}] {self._done}/{self._all()} rows"

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()


Step = Callable[[Connection, SecretBox, Any, int], Batch]


async def rotate(db: Database, box: SecretBox, batch_size: int, progress_to: TextIO) -> Rotation:
    """Re-seal every stored secret not sealed with the first key, batch by batch."""
    counts = await db.read(secret_rows.count_holding_sealed)
    progress = Progress(sum(counts.values()), progress_to)
    rotation = Rotation()
    walks: list[tuple[Step, Any]] = [
        (_configurations_batch, secret_rows.FIRST_CONFIGURATION),
        (_revisions_batch, secret_rows.FIRST_REVISION),
        (_events_batch, secret_rows.FIRST_EVENT),
    ]
    for step, after in walks:
        while True:
            batch = await db.write(partial(_run_step, step, box, after, batch_size))
            if not batch.rows:
                break
            rotation.add(batch)
            progress.advance(batch.rows)
            after = batch.last
    progress.finish()
    return rotation


def _run_step(step: Step, box: SecretBox, after: Any, limit: int, conn: Connection) -> Batch:
    return step(conn, box, after, limit)


def _report_rotation(rotation: Rotation, box: SecretBox) -> int:
    print(
        f"re-sealed {rotation.resealed} values in {rotation.touched} rows with key {box.sealing_key_id}; "
        f"{rotation.current} were sealed with it already ({rotation.rows} rows looked at)"
    )
    if not rotation.unreadable:
        return 0
    for problem in rotation.unreadable:
        print(f"secrets: {problem}", file=sys.stderr)
    print(
        f"secrets: {len(rotation.unreadable)} values could not be re-sealed and are as they were: "
        "configure the key that sealed them (after the first) and run rotate again",
        file=sys.stderr,
    )
    return 1


# --- scrub ------------------------------------------------------------------------------


async def scrub(db: Database, box: SecretBox, configuration_id: str, path: str, context: AuditContext) -> int:
    """Seal the value at `path` in the configuration, its revisions and its audit images, and
    record that; return how many values were sealed (none: nothing is recorded)."""
    configuration_id = existing_id(configuration_id, ConfigurationNotFound)

    def work(conn: Connection) -> int:
        current = configurations.get(conn, configuration_id, for_update=True)
        if current is None:
            raise ConfigurationNotFound(configuration_id)
        count = seal_everywhere(conn, box, configuration_id, [path])
        if count:
            note = f"scrubbed {path}: sealed {count} values"  # what, never the value
            record_about(
                conn, context, "configuration.scrubbed", current, version=current["version"], note=note
            )
        return count

    count = await db.write(work)
    if count:
        # Running services drop what they cached of it now, not at their next poll.
        await db.write_statement(lambda conn: audit.announce(conn, CHANGES_CHANNEL))
    return count


# --- command line -----------------------------------------------------------------------


async def run(args: argparse.Namespace, db: Database, box: SecretBox) -> int:
    if args.command == "rotate":
        rotation = await rotate(db, box, args.batch_size, sys.stderr)
        return _report_rotation(rotation, box)
    count = await scrub(db, box, args.configuration, args.path, _context())
    if count:
        print(f"sealed {count} values at {args.path} in configuration {args.configuration}")
    else:
        print(
            f"nothing to seal at {args.path} in configuration {args.configuration} "
            "(absent, or sealed already)"
        )
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def _pointer(text: str) -> str:
    # The whole config is an object, never one secret: a pointer names a value inside it.
    if not text.startswith("/"):
        raise argparse.ArgumentTypeError(
            f"must be a JSON Pointer inside the config, e.g. /db/password, not {text!r}"
        )
    return text


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="secrets", description="Re-seal stored secrets with the first key, or seal a value that leaked."
    )
    commands = root.add_subparsers(dest="command", required=True)
    rotate_command = commands.add_parser(
        "rotate", help="re-seal every stored secret with the first key (resumes if run again)"
    )
    rotate_command.add_argument(
        "--batch-size",
        type=_positive,
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help=f"rows a transaction; default {DEFAULT_BATCH_SIZE}",
    )
    scrub_command = commands.add_parser(
        "scrub", help="seal the value at a path in a configuration, its revisions and its audit events"
    )
    scrub_command.add_argument("--configuration", required=True, metavar="ID")
    scrub_command.add_argument(
        "--path", required=True, type=_pointer, metavar="POINTER", help="a JSON Pointer, e.g. /db/password"
    )
    return root


async def _with_database(url: str, args: argparse.Namespace, box: SecretBox) -> int:
    db = Database(
        url, PoolOptions(min_connections=1, max_connections=1, statement_timeout_ms=STATEMENT_TIMEOUT_MS)
    )
    db.open()
    try:
        return await run(args, db, box)
    finally:
        db.close()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
        box = SecretBox(settings.secrets_keys())
    except (SettingsError, SecretsKeyMissing, ValueError, OSError) as error:  # never holding a key
        print(f"secrets: {error}", file=sys.stderr)
        return 2
    url = resolve_database_url(settings)
    apply_migrations(url, settings.db_connect_timeout_s)
    try:
        return asyncio.run(_with_database(url, args, box))
    except (DomainError, DatabaseUnavailable) as error:
        print(f"secrets: {error.detail}", file=sys.stderr)
    except psycopg2.Error as error:
        # Only the server's headline: its detail may quote a row, and a row may hold a secret.
        print(f"secrets: the database refused: {error.diag.message_primary}", file=sys.stderr)
    if args.command == "rotate":
        print("secrets: what was done is kept; run rotate again to go on", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
