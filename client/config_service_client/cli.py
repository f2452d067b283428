"""`config-service`: manage Config Service from the shell.

Built on Click (parsing, help, prompts, `$EDITOR`, and exit status 2 for every usage error, for
free) with Rich for what a person reads on a terminal: tables and progress bars. Output is a
table on a terminal and JSON in a pipe, or as `--json` / `--table` say.

Exit status: 0 success; 1 an error from the service ("error: <title>: <detail>", one line on
stderr); 2 a usage error; 3 the service could not be reached before the deadline (`--timeout`).
"""

import difflib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import IO, Any, Literal

import click
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from config_service_client.client import Call, ConfigClient, _nfc
from config_service_client.errors import ConfigServiceError, PreconditionFailed, ServiceUnreachable
from config_service_client.models import MASK
from config_service_client.retry import RetryPolicy
from config_service_client.watch import EventFeed, concerns

EXPORT_FORMAT = "config-service-export/1"
# A single request never waits longer than this, even under a long --timeout: the deadline is
# for retrying, and a hung connection should be retried rather than waited on.
_REQUEST_TIMEOUT_S = 10.0

Json = dict[str, Any]


class Failure(click.ClickException):
    """An error the user reads as one line, "error: ...": exit status 1."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", file=file or sys.stderr)


class Unreachable(Failure):
    """No answer from the service within the deadline: exit status 3."""

    exit_code = 3


def _is_terminal(stream: IO[Any]) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


@dataclass
class Session:
    """What the global options say, and the client made from them on first use (so that
    `--help` and usage errors need no URL)."""

    url: str | None
    api_key: str | None = field(repr=False)
    output: bool | None  # True: JSON, False: tables, None: as stdout is
    timeout_s: float
    _client: ConfigClient | None = field(default=None, repr=False)

    @property
    def as_json(self) -> bool:
        return self.output if self.output is not None else not _is_terminal(sys.stdout)

    def client(self) -> ConfigClient:
        if self._client is None:
            if not self.url:
                raise click.UsageError("No service URL: pass --url or set CONFIG_SERVICE_URL.")
            if not self.api_key:
                raise click.UsageError("No API key: pass --api-key or set CONFIG_SERVICE_API_KEY.")
            try:
                self._client = ConfigClient(
                    self.url,
                    self.api_key,
                    timeout=min(self.timeout_s, _REQUEST_TIMEOUT_S),
                    retry=RetryPolicy(deadline_s=self.timeout_s),
                )
            except ValueError as error:  # a URL that is none
                raise click.UsageError(str(error)) from error
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


class _ServiceErrors(click.Group):
    """Turns the client's exceptions into one line on stderr and the exit status of their kind,
    for every command below it."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ServiceUnreachable as error:  # its message names the service, without credentials
            raise Unreachable(f"cannot reach the service: {error}") from error
        except ConfigServiceError as error:  # a ProblemError reads "<title>: <detail>"
            raise Failure(str(error)) from error


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def _dump(model: BaseModel) -> Json:
    return model.model_dump(mode="json", by_alias=True)


def _table(*columns: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _print(table: Table) -> None:
    Console(highlight=False).print(table)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _read_document(source: IO[str], what: str) -> Json:
    try:
        document = json.load(source)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint=what) from error
    if not isinstance(document, dict):
        raise click.BadParameter("a configuration is a JSON object", param_hint=what)
    return document


@click.group("config-service", cls=_ServiceErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    envvar="CONFIG_SERVICE_URL",
    metavar="URL",
    help="The service, e.g. http://127.0.0.1:8000.",
    show_envvar=True,
)
@click.option(
    "--api-key",
    envvar="CONFIG_SERVICE_API_KEY",
    metavar="KEY",
    help="The API key (never printed).",
    show_envvar=True,
)
@click.option(
    "--json/--table",
    "output",
    default=None,
    help="Output JSON, or tables. Default: tables on a terminal, JSON in a pipe.",
)
@click.option(
    "--timeout",
    envvar="CONFIG_SERVICE_TIMEOUT",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    show_envvar=True,
    metavar="SECONDS",
    help="How long to keep retrying an unreachable or busy service before exit status 3.",
)
@click.version_option(package_name="config-service-client", prog_name="config-service")
@click.pass_context
def cli(
    ctx: click.Context, url: str | None, api_key: str | None, output: bool | None, timeout: float
) -> None:
    """Manage Config Service: applications, configurations, their history, live changes, and
    export/import.

    The service's URL and API key come from --url and --api-key, or CONFIG_SERVICE_URL and
    CONFIG_SERVICE_API_KEY.

    Exit status: 0 success; 1 an error from the service ("error: <title>: <detail>" on
    stderr); 2 a usage error; 3 the service could not be reached within --timeout.
    """
    session = Session(url, api_key, output, timeout)
    ctx.obj = session
    ctx.call_on_close(session.close)


# --- applications -----------------------------------------------------------------------------


@cli.group()
def apps() -> None:
    """List, create and delete applications."""


@apps.command("list")
@click.pass_obj
def apps_list(session: Session) -> None:
    """List the applications."""
    applications = [_dump(app) for app in session.client().list_applications()]
    if session.as_json:
        click.echo(_json(applications))
        return
    table = _table("NAME", "CONFIGURATIONS", "VERSION", "UPDATED", "COMMENTS")
    for app in sorted(applications, key=lambda app: app["name"]):
        count = len(app.get("configuration_ids") or [])
        table.add_row(app["name"], str(count), str(app["version"]), app["updated_at"], _text(app["comments"]))
    _print(table)


@apps.command("create")
@click.argument("name")
@click.option("--comments", help="What the application is.")
@click.pass_obj
def apps_create(session: Session, name: str, comments: str | None) -> None:
    """Create the application NAME."""
    created = session.client().create_application(name, comments)
    if session.as_json:
        click.echo(_json(_dump(created)))
    else:
        click.echo(f"created application {name}")


@apps.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Delete without asking.")
@click.option(
    "--if-match",
    type=click.IntRange(min=1),
    metavar="VERSION",
    help="Delete only if the application is still at this version.",
)
@click.pass_obj
def apps_delete(session: Session, name: str, yes: bool, if_match: int | None) -> None:
    """Delete the application NAME, and every configuration of it.

    With --if-match, only if VERSION (as `apps list` shows it) is still the application's
    (else exit status 1).
    """
    client = session.client()
    if not yes:
        count = len(client.list_configurations(name))
        click.confirm(f"Delete application {name} and its {count} configuration(s)?", abort=True, err=True)
    client.delete_application(name, if_match=if_match)
    if session.as_json:
        click.echo(_json({"deleted": name}))
    else:
        click.echo(f"deleted application {name}")


# --- one configuration ------------------------------------------------------------------------


@cli.command(short_help="Print a configuration.")
@click.argument("app")
@click.argument("name")
@click.option(
    "--version", type=click.IntRange(min=1), metavar="N", help="A past version, instead of the current one."
)
@click.option("--reveal", is_flag=True, help="Secrets in plain (a key with the 'secrets' scope).")
@click.pass_obj
def get(session: Session, app: str, name: str, version: int | None, reveal: bool) -> None:
    """Print the configuration NAME of APP.

    Prints the config document itself, so that `get APP NAME > f.json` and `set APP NAME f.json`
    go together. `config-service --json get ...` prints the whole resource instead (id,
    version, schema, comments, config ...).
    """
    configuration = _dump(session.client().get_configuration(app, name, version=version, reveal=reveal))
    if session.output is True:
        click.echo(_json(configuration))
    elif _is_terminal(sys.stdout):
        Console().print_json(data=configuration["config"])
    else:
        click.echo(_json(configuration["config"]))


@cli.command("set", short_help="Create or update a configuration from a JSON file.")
@click.argument("app")
@click.argument("name")
@click.argument("file", type=click.File("r"))
@click.option(
    "--if-match", type=click.IntRange(min=1), metavar="VERSION", help="Write only over this version."
)
@click.option("--comments", help="The configuration's comments.")
@click.pass_obj
def set_(
    session: Session, app: str, name: str, file: IO[str], if_match: int | None, comments: str | None
) -> None:
    """Create or update the configuration NAME of APP from FILE (a JSON object; - for stdin).

    With --if-match, the write happens only if VERSION is still the current one (else exit
    status 1): nobody's change is overwritten unseen.
    """
    document = _read_document(file, "FILE")
    written = _dump(session.client().set(app, name, document, if_match=if_match, comments=comments))
    if session.as_json:
        click.echo(_json(written))
    else:
        click.echo(f"{app}/{name}: version {written['version']}")


@cli.command(short_help="Edit a configuration in $EDITOR, then write it.")
@click.argument("app")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Write without asking.")
@click.pass_obj
def edit(session: Session, app: str, name: str, yes: bool) -> None:
    """Edit the configuration NAME of APP in $EDITOR, see the diff, and write it.

    The write carries If-Match with the version you opened: if someone changed the
    configuration meanwhile, nothing is written, and your edit is kept in a file for you.
    Secrets show as "********"; leave them so and they stay as they are.
    """
    client = session.client()
    current = client.get_configuration(app, name)
    before = _json(current.config) + "\n"
    # Readable by its owner only (mkstemp); named for no part of NAME, which may hold a "/".
    handle, name_of_draft = tempfile.mkstemp(prefix="config-service-edit-", suffix=".json")
    draft = Path(name_of_draft)
    with os.fdopen(handle, "w") as opened:
        opened.write(before)
    keep = False  # an edit that is not written is kept, not lost
    try:
        click.edit(filename=str(draft))
        after = draft.read_text()
        if after == before:
            click.echo("no changes", err=True)
            return
        keep = True
        try:
            with draft.open() as edited:
                document = _read_document(edited, "the edited file")
        except click.BadParameter as error:
            raise Failure(
                f"{error.format_message()}; nothing was written, your edit is in {draft}"
            ) from error
        proposed = _json(document) + "\n"
        if proposed == before:  # only its layout changed
            keep = False
            click.echo("no changes", err=True)
            return
        # For the person at the keyboard, beside the question: stdout keeps only the result.
        diff = _unified_diff(before, proposed, f"{app}/{name} v{current.version}", f"{app}/{name} edited")
        click.echo(diff, nl=False, err=True)
        if not yes and not click.confirm(f"Write {app}/{name}?", default=False, err=True):
            click.echo(f"nothing written; your edit is in {draft}", err=True)
            return
        try:
            written = client.set(app, name, document, if_match=current.version, create=False)
        except PreconditionFailed as error:
            raise Failure(
                f"someone changed {app}/{name} since you opened version {current.version}; "
                f"nothing was written, your edit is in {draft}"
            ) from error
        except ConfigServiceError:
            click.echo(f"your edit is in {draft}", err=True)
            raise
        keep = False
        if session.as_json:
            click.echo(_json(_dump(written)))
        else:
            click.echo(f"{app}/{name}: version {written.version}")
    finally:
        if not keep:
            draft.unlink(missing_ok=True)


def _unified_diff(before: str, after: str, before_name: str, after_name: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), before_name, after_name
    )
    return "".join(lines)


@cli.command(short_help="What changed between two versions (JSON Patch).")
@click.argument("app")
@click.argument("name")
@click.option("--from", "from_version", required=True, type=click.IntRange(min=1), metavar="N")
@click.option(
    "--to", "to_version", type=click.IntRange(min=1), metavar="M", help="Default: the current version."
)
@click.pass_obj
def diff(session: Session, app: str, name: str, from_version: int, to_version: int | None) -> None:
    """What changed in NAME of APP from version N to M, as JSON Patch operations."""
    changes = _dump(session.client().diff(app, name, from_version, to_version))
    if session.as_json:
        click.echo(_json(changes))
        return
    click.echo(f"{app}/{name}: version {changes['from']} -> {changes['to']}")
    table = _table("OP", "PATH", "VALUE")
    for operation in changes["patch"]:
        value = json.dumps(operation["value"], ensure_ascii=False) if "value" in operation else ""
        moved = f"from {operation['from']}" if "from" in operation else ""
        table.add_row(operation["op"], operation["path"], value or moved)
    _print(table)


@cli.command(short_help="The versions of a configuration, newest first.")
@click.argument("app")
@click.argument("name")
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest LIMIT versions.")
@click.pass_obj
def history(session: Session, app: str, name: str, limit: int | None) -> None:
    """The versions of NAME of APP, newest first: who changed it, when and how."""
    revisions = [_dump(revision) for revision in session.client().history(app, name, limit=limit)]
    if session.as_json:
        click.echo(_json(revisions))
        return
    table = _table("VERSION", "WHEN", "ACTOR", "CHANGE", "NOTE")
    for revision in revisions:
        rolled_back = revision.get("rolled_back_from")
        change = f"{revision['change']} to v{rolled_back}" if rolled_back else _text(revision.get("change"))
        note = revision.get("note")  # a rollback's comment, among others
        table.add_row(
            str(revision["version"]), revision["created_at"], _text(revision["actor"]), change, _text(note)
        )
    _print(table)


@cli.command(short_help="Make a configuration hold an old version again.")
@click.argument("app")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--comment", help="Why (kept in the history).")
@click.option(
    "--if-match",
    type=click.IntRange(min=1),
    metavar="CURRENT",
    help="Only if CURRENT is still the current version.",
)
@click.pass_obj
def rollback(
    session: Session, app: str, name: str, version: int, comment: str | None, if_match: int | None
) -> None:
    """Make NAME of APP hold again what VERSION held, as a new version.

    With --if-match, the rollback happens only if CURRENT is still the current version (else
    exit status 1): a change made since you looked is not undone unseen.
    """
    restored = _dump(session.client().rollback(app, name, version, comment=comment, if_match=if_match))
    if session.as_json:
        click.echo(_json(restored))
    else:
        click.echo(f"{app}/{name}: version {restored['version']}, as version {version}")


# --- watch ------------------------------------------------------------------------------------


@cli.command(short_help="Print each change as it happens.")
@click.argument("app", required=False)
@click.argument("name", required=False)
@click.option(
    "--after", type=click.IntRange(min=0), metavar="SEQ", help="Replay the changes after event SEQ first."
)
@click.option("--count", type=click.IntRange(min=1), hidden=True, help="Stop after COUNT changes.")
@click.pass_obj
def watch(session: Session, app: str | None, name: str | None, after: int | None, count: int | None) -> None:
    """Print each change as it happens, until interrupted (Ctrl-C): of every application, of
    APP, or of its configuration NAME. One line each, or one JSON object a line.

    A dropped connection is resumed where it was cut (after waiting as long as the service
    asks): no change is missed or repeated. Without --after it starts with the next change;
    --after SEQ (each JSON line's "seq") resumes from an earlier run. Exit status 3 when no
    stream could be opened for --timeout.
    """
    client = session.client()
    names = _ApplicationNames(client, app)
    # The feed Watch follows too: it resumes from where each stream began, and honours `retry:`.
    feed = EventFeed(client, app, after=after, give_up_after_s=session.timeout_s)
    printed = 0
    try:
        with closing(feed.events()) as events:
            for change in events:
                if name is not None and not concerns(change, name):
                    continue
                event = _dump(change)
                if session.as_json:
                    click.echo(json.dumps(event, ensure_ascii=False))
                else:
                    click.echo(_event_line(event, names))
                printed += 1
                if count is not None and printed >= count:
                    return
    except KeyboardInterrupt:
        return


class _ApplicationNames:
    """Application names for events, which carry ids: looked up again when a new one appears."""

    def __init__(self, client: ConfigClient, known: str | None) -> None:
        self._client = client
        self._known = known
        self._names: dict[str, str] = {}

    def __call__(self, application_id: str | None) -> str:
        if application_id is None:
            return "-"
        if self._known is not None:
            return self._known
        if application_id not in self._names:
            self._names = {app.id: app.name for app in self._client.list_applications()}
        return self._names.get(application_id, application_id)  # a deleted application: its id


def _event_line(event: Json, names: Callable[[str | None], str]) -> str:
    application = names(event.get("application_id"))
    what = f"{application}/{event['name']}" if event.get("entity_type") == "configuration" else application
    version = f" v{event['version']}" if event.get("version") is not None else ""
    actor = f" by {event['actor']}" if event.get("actor") else ""
    return f"{event['occurred_at']}  #{event['seq']}  {event['action']}  {what}{version}{actor}"


# --- export and import ------------------------------------------------------------------------


class ExportedConfiguration(BaseModel):
    """A configuration in an export. `comments` or `schema` left out: import leaves them as they
    are; null clears the comments, or unbinds the schema."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str
    comments: str | None = None
    config: Json
    schema_: Json | None = Field(default=None, alias="schema")

    def given(self) -> Json:
        """What the dump says of it, beyond its name: what an import writes."""
        given: Json = {"config": self.config}
        if "comments" in self.model_fields_set:
            given["comments"] = self.comments
        if "schema_" in self.model_fields_set:
            given["schema"] = self.schema_
        return given


class ExportedApplication(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    comments: str | None = None
    configurations: list[ExportedConfiguration] = []


class Export(BaseModel):
    """The export format (`config-service-export/1`)::

        {"format": "config-service-export/1",
         "exported_at": "2025-01-01T00:00:00Z",
         "secrets": "masked" | "revealed",
         "applications": [
           {"name": "payments", "comments": "...",
            "configurations": [
              {"name": "database", "comments": "...", "config": {...},
               "schema": {"name": "db", "version": 2} | {"name": "db", "version": null} | null}]}]}

    A schema binding names the schema (it must exist where the dump is imported; schemas are
    not exported); version null follows its latest version.
    """

    model_config = ConfigDict(extra="forbid")
    format: str
    exported_at: str | None = None
    secrets: Literal["masked", "revealed"] = "masked"
    applications: list[ExportedApplication]


@contextmanager
def _progress(description: str, total: int) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr when it is a terminal; nothing in a pipe or a file."""
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=not _is_terminal(sys.stderr),
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda: progress.advance(task)


@cli.command("export", short_help="Print applications and their configurations as JSON.")
@click.argument("app", required=False)
@click.option(
    "--reveal", is_flag=True, help="Secrets in plain (a key with the 'secrets' scope), to copy them."
)
@click.pass_obj
def export(session: Session, app: str | None, reveal: bool) -> None:
    """Print every application (or APP) with all its configurations, as JSON, for `import`:
    `config-service export > dump.json`.

    \b
    {"format": "config-service-export/1",
     "exported_at": "2025-01-01T00:00:00Z",
     "secrets": "masked",                     (or "revealed", with --reveal)
     "applications": [
       {"name": "payments", "comments": "...",
        "configurations": [
          {"name": "database", "comments": "...", "config": {...},
           "schema": {"name": "db", "version": null}}]}]}

    "schema" is the configuration's binding (version null: the latest), or null. Schemas are
    not exported: they must exist where the dump is imported. Secrets are "********" unless
    --reveal: a masked dump restores what it was taken from, but creates no secret elsewhere.
    """
    client = session.client()
    if app is None:
        applications = client.list_applications()
    else:
        # NotFound, exit status 1, for an application that is not there; by the client's
        # lookup, which compares names as the service keeps them.
        application_id = client.application_id(app)
        applications = [found for found in client.list_applications() if found.id == application_id]
    exported = []
    with _progress("exporting", len(applications)) as advance:
        for application in sorted(applications, key=lambda found: found.name):
            configurations = []
            for configuration in sorted(client.list_configurations(application.name), key=lambda c: c.name):
                if reveal:
                    configuration = client.get_configuration(
                        application.name, configuration.name, reveal=True
                    )
                resource = _dump(configuration)
                configurations.append(
                    {key: resource.get(key) for key in ("name", "comments", "config", "schema")}
                )
            exported.append(
                {"name": application.name, "comments": application.comments, "configurations": configurations}
            )
            advance()
    dump = {
        "format": EXPORT_FORMAT,
        "exported_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "secrets": "revealed" if reveal else "masked",
        "applications": exported,
    }
    click.echo(_json(dump))


@dataclass
class Step:
    """One thing an import does (or would do)."""

    action: str  # create | update | unchanged
    application: str
    configuration: str | None = None  # None: the application itself
    from_version: int | None = None
    to_version: int | None = None
    write: Callable[[], int | None] | None = field(default=None, repr=False)

    def line(self, dry_run: bool) -> str:
        what = (
            f"app {self.application}"
            if self.configuration is None
            else f"{self.application}/{self.configuration}"
        )
        if self.action == "update":
            what += f" (v{self.from_version} -> v{self.to_version})"
        elif self.action == "unchanged":
            what += f" (v{self.from_version})"
        return f"{'would ' if dry_run and self.action != 'unchanged' else ''}{self.action} {what}"

    def as_json(self) -> Json:
        return {
            "action": self.action,
            "application": self.application,
            "configuration": self.configuration,
            "from_version": self.from_version,
            "to_version": self.to_version,
        }


@cli.command("import", short_help="Create or update what an export holds.")
@click.argument("dump_file", metavar="DUMP", type=click.File("r"))
@click.option("--dry-run", is_flag=True, help="Only say what it would change.")
@click.pass_obj
def import_(session: Session, dump_file: IO[str], dry_run: bool) -> None:
    """Create or update, by name, the applications and configurations of DUMP (from `export`;
    - for stdin), and say what changed: "create app x", "update x/db (v3 -> v4)", "unchanged
    x/db (v4)". Importing the same dump again changes nothing.

    Each update carries If-Match with the version compared against, so a change made meanwhile
    stops the import (exit status 1) instead of being overwritten.
    """
    try:
        dump = Export.model_validate(json.load(dump_file))
    except (json.JSONDecodeError, ValidationError) as error:
        raise click.BadParameter(f"not an export: {error}", param_hint="DUMP") from error
    if dump.format != EXPORT_FORMAT:
        raise click.BadParameter(f"format {dump.format!r}, not {EXPORT_FORMAT!r}", param_hint="DUMP")
    steps = _Importer(session, dump).plan()
    if dry_run:
        _report(session, steps, dry_run=True)
        return
    done: list[Step] = []
    try:
        with _progress("importing", sum(step.write is not None for step in steps)) as advance:
            for step in steps:
                if step.write is not None:
                    step.to_version = step.write()
                    advance()
                done.append(step)
    finally:
        _report(session, done, dry_run=False)  # what was done, even when a write failed


def _report(session: Session, steps: list[Step], *, dry_run: bool) -> None:
    if session.as_json:
        click.echo(_json({"dry_run": dry_run, "steps": [step.as_json() for step in steps]}))
    else:
        for step in steps:
            click.echo(step.line(dry_run))


class _Importer:
    """Compares a dump with what the service holds, and plans the writes that make them equal."""

    def __init__(self, session: Session, dump: Export) -> None:
        self._client = session.client()
        self._dump = dump

    def plan(self) -> list[Step]:
        # By names as the service keeps them (NFC): a dump's "café" typed decomposed is the
        # same application, not a new one that the service would refuse as taken.
        existing = {_nfc(app.name): _dump(app) for app in self._client.list_applications()}
        steps: list[Step] = []
        for application in self._dump.applications:
            current = existing.get(_nfc(application.name))
            steps.append(self._application_step(application, current))
            held = self._configurations(application.name) if current is not None else {}
            steps.extend(
                self._configuration_step(application.name, wanted, held.get(_nfc(wanted.name)))
                for wanted in application.configurations
            )
        return steps

    def _configurations(self, application: str) -> dict[str, Json]:
        held = {_nfc(found.name): found for found in self._client.list_configurations(application)}
        if self._dump.secrets == "revealed":
            # Compared with plain values, or a revealed dump would differ from every masked read.
            return {
                name: _dump(self._client.get_configuration(application, found.name, reveal=True))
                for name, found in held.items()
            }
        return {name: _dump(found) for name, found in held.items()}

    def _application_step(self, wanted: ExportedApplication, current: Json | None) -> Step:
        if current is None:
            return Step("create", wanted.name, to_version=1, write=lambda: self._create_application(wanted))
        version = current["version"]
        if "comments" not in wanted.model_fields_set or wanted.comments == current["comments"]:
            return Step("unchanged", wanted.name, from_version=version, to_version=version)
        path = f"/api/v1/applications/{current['id']}"
        write = partial(self._send, "PUT", path, {"comments": wanted.comments}, version)
        return Step("update", wanted.name, from_version=version, to_version=version + 1, write=write)

    def _create_application(self, wanted: ExportedApplication) -> int:
        return self._client.create_application(wanted.name, wanted.comments).version

    def _configuration_step(
        self, application: str, wanted: ExportedConfiguration, current: Json | None
    ) -> Step:
        body = wanted.given()
        if current is None:
            if _holds(wanted.config, MASK):
                raise Failure(
                    f"{application}/{wanted.name} holds masked secrets ({MASK!r}), which cannot create it: "
                    "export with --reveal to copy secrets; nothing was written"
                )
            write = partial(self._create_configuration, application, wanted.name, body)
            return Step("create", application, wanted.name, to_version=1, write=write)
        version = current["version"]
        changed = {key: value for key, value in body.items() if not _same(key, value, current.get(key))}
        if not changed:
            return Step("unchanged", application, wanted.name, from_version=version, to_version=version)
        write = partial(self._send, "PUT", f"/api/v1/configurations/{current['id']}", changed, version)
        return Step(
            "update", application, wanted.name, from_version=version, to_version=version + 1, write=write
        )

    def _create_configuration(self, application: str, name: str, body: Json) -> int | None:
        # The application's id only now: it may be one this import has just created.
        created = {"application_id": self._client.application_id(application), "name": name} | body
        return self._send("POST", "/api/v1/configurations", created)

    def _send(self, method: str, path: str, body: Json, if_match: int | None = None) -> int | None:
        """A write the client has no method for (a schema binding, an application's comments),
        retried as the client retries its own; If-Match keeps it from overwriting a change
        made since the plan."""
        headers = {"If-Match": f'"{if_match}"'} if if_match is not None else None
        deadline_at = time.monotonic() + self._client._retry.deadline_s
        response = self._client._exchange(Call(method, path, headers=headers, json=body), deadline_at)
        version = response.json().get("version")
        return version if isinstance(version, int) else None


def _same(key: str, wanted: Any, held: Any) -> bool:
    if key == "schema" and wanted is not None and held is not None:
        # A binding without a version follows the latest: the service answers version null.
        return bool(wanted.get("name") == held.get("name") and wanted.get("version") == held.get("version"))
    return bool(wanted == held)


def _holds(document: Any, value: str) -> bool:
    if isinstance(document, dict):
        return any(_holds(item, value) for item in document.values())
    if isinstance(document, list):
        return any(_holds(item, value) for item in document)
    return bool(document == value)


def main() -> None:
    cli.main(prog_name="config-service")


if __name__ == "__main__":
    main()
