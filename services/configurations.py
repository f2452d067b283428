from collections.abc import Callable, Sequence
from typing import Any

import jsonpatch
from psycopg2.extensions import connection as Connection
from pydantic import ValidationError

from database.pool import Database
from models import exact_json
from models.api_keys import Reach, within
from models.audit import AuditContext
from models.configurations import (
    Configuration,
    ConfigurationCreate,
    ConfigurationState,
    ConfigurationUpdate,
    binding_of,
)
from models.errors import (
    ApplicationNotFound,
    ConfigurationNotFound,
    InvalidChange,
    RevisionNotFound,
)
from models.ids import new_id
from models.paging import Page, PageRequest
from models.preconditions import VersionCondition, etag, require_match
from models.revisions import Diff, Revision
from models.schemas import ValidationResult
from models.sealed import holds_sealed, masked_for_diff
from repositories import applications, configurations, revisions
from services.audit import record_about
from services.cache import Representation, RepresentationCache
from services.ids import existing_id
from services.merge_patch import merge_patch
from services.schemas import SchemaService
from services.secrets import opened

# Configurations remembered as bound to a schema, at most (see _note_binding).
BOUND_REMEMBERED = 10_000

# What a change wants the configuration to become, given what it is now.
Target = Callable[[Connection, dict], dict]


def image(row: dict) -> dict:
    """The configuration as the API shows it: what the audit log keeps of it. (Its exact
    numbers are marks here, which the audit log's JSON writer turns back into numbers.)"""
    return Configuration.model_validate(row).model_dump(mode="json")


def render(configuration: Configuration) -> Representation:
    return Representation(
        body=exact_json.unmarked_bytes(configuration.model_dump_json().encode()),
        version=configuration.version,
        etag=etag(configuration.version),
        application_id=configuration.application_id,
    )


class ConfigurationService:
    def __init__(
        self, db: Database, cache: RepresentationCache | None = None, schemas: SchemaService | None = None
    ) -> None:
        self._db = db
        self._cache = cache if cache is not None else RepresentationCache(capacity=0)
        self._schemas = schemas if schemas is not None else SchemaService(db)
        self._bound: set[str] = set()  # see _note_binding

    async def create(self, request: ConfigurationCreate, context: AuditContext) -> Configuration:
        if not within(context.reach, request.application_id):
            raise ApplicationNotFound(request.application_id)

        fields = request.model_dump()
        configuration_id = new_id()  # its secrets are sealed to it
        # Bound, or holding what claims to be a sealed secret (which must open here, for this
        # configuration): checked under the schema's lock, in a transaction.
        checked = fields["binding"] is not None or holds_sealed(fields["config"])

        def create(conn: Connection) -> Configuration:
            config = fields["config"]
            if checked:
                config = self._schemas.stored_form(conn, configuration_id, fields["binding"], config, None)
            row = configurations.insert(
                conn, context, id=configuration_id, event_id=new_id(), **(fields | {"config": config})
            )
            return Configuration.model_validate(row)

        created = await (self._db.write if checked else self._db.write_statement)(create)
        self._note_binding(created)
        self._cache.drop(("application", created.application_id))  # its configuration_ids changed
        return created

    async def representation(self, configuration_id: str, reach: Reach = None) -> Representation:
        """The configuration as rendered JSON, from the cache when it holds it."""
        configuration_id = existing_id(configuration_id, ConfigurationNotFound)

        async def load() -> Representation | None:
            row = await self._db.read(lambda conn: configurations.get(conn, configuration_id))
            return None if row is None else render(Configuration.model_validate(row))

        found = await self._cache.read_through(("configuration", configuration_id), load)
        if found is None or not within(reach, found.application_id):
            raise ConfigurationNotFound(configuration_id)
        return found

    async def get(self, configuration_id: str, reach: Reach = None) -> Configuration:
        configuration_id = existing_id(configuration_id, ConfigurationNotFound)
        row = await self._db.read(lambda conn: configurations.get(conn, configuration_id))
        if row is None or not within(reach, row["application_id"]):
            raise ConfigurationNotFound(configuration_id)
        return Configuration.model_validate(row)

    async def list(
        self,
        page: PageRequest,
        *,
        application_id: str | None = None,
        name: str | None = None,
        reach: Reach = None,
    ) -> Page[Configuration]:
        """List configurations; a filter on an application that does not exist (or is out of
        the caller's reach) is a 404."""
        if application_id is not None and not within(reach, application_id):
            raise ApplicationNotFound(application_id)

        def list_page(conn: Connection) -> list[dict]:
            rows = configurations.list_page(conn, page, application_id=application_id, name=name, reach=reach)
            # Only an empty page needs the second look: rows prove the application exists.
            if not rows and application_id and not applications.exists(conn, application_id):
                raise ApplicationNotFound(application_id)
            return rows

        rows = await self._db.read(list_page)
        return Page.from_rows([Configuration.model_validate(row) for row in rows], page)

    async def list_for_application(
        self, application_id: str, page: PageRequest, reach: Reach = None
    ) -> Page[Configuration]:
        return await self.list(
            page, application_id=existing_id(application_id, ApplicationNotFound), reach=reach
        )

    async def update(
        self,
        configuration_id: str,
        request: ConfigurationUpdate,
        context: AuditContext,
        if_match: VersionCondition | None = None,
    ) -> Configuration:
        configuration_id = existing_id(configuration_id, ConfigurationNotFound)
        changes = request.model_dump(exclude_unset=True)
        return await self._change_in_one_statement(
            configuration_id, context, if_match, "updated", fields=changes
        )

    async def patch(
        self,
        configuration_id: str,
        patch: dict[str, Any],
        context: AuditContext,
        if_match: VersionCondition | None = None,
    ) -> Configuration:
        """Apply an RFC 7396 merge patch to {name, comments, config}; the result must be valid.

        The patch is applied here, to the configuration as locked, and written by the same
        statement as any other change: a transaction of three statements, not one (and one
        or two more when it is bound to a schema: its lock, and its version's document when
        this process has not compiled it yet)."""
        configuration_id = existing_id(configuration_id, ConfigurationNotFound)

        def apply(conn: Connection) -> Configuration:
            current = self._current(conn, configuration_id, context.reach, lock=True)
            # A patch that makes no valid configuration is a bad request whatever the version,
            # as a PUT's invalid body is: 400 before If-Match's 412.
            wanted = _patched(current, patch, self._schemas.plain(configuration_id, current["config"]))
            require_match(if_match, current["version"], "configuration")
            row = self._write_checked(conn, current, context, "patched", wanted, wanted["binding"])
            return _changed(configuration_id, row, if_match)

        changed = await self._db.write(apply)
        self._note_binding(changed)
        self._cache.drop(("configuration", configuration_id))
        return changed

    async def rollback(
        self,
        configuration_id: str,
        version: int,
        context: AuditContext,
        *,
        note: str | None = None,
        if_match: VersionCondition | None = None,
    ) -> Configuration:
        """Make a new version whose name, comments and config are those of `version`."""
        configuration_id = existing_id(configuration_id, ConfigurationNotFound)
        return await self._change_in_one_statement(
            configuration_id, context, if_match, "rolled_back", rolled_back_from=version, note=note
        )

    async def delete(
        self, configuration_id: str, context: AuditContext, if_match: VersionCondition | None = None
    ) -> None:
        configuration_id = existing_id(configuration_id, ConfigurationNotFound)

        def delete(conn: Connection) -> dict | None:
            return configurations.delete(
                conn, configuration_id, context, event_id=new_id(), if_match=versions_admitted(if_match)
            )

        deleted = await self._db.write_statement(delete)
        if deleted is None:
            raise ConfigurationNotFound(configuration_id)
        if not deleted["written"]:
            require_match(if_match, deleted["version"], "configuration")
        self._cache.drop(("configuration", configuration_id), ("application", deleted["application_id"]))

    async def versions(self, configuration_id: str, page: PageRequest, reach: Reach = None) -> Page[Revision]:
        """The configuration's revisions, newest first."""
        configuration_id = existing_id(configuration_id, ConfigurationNotFound)

        def list_page(conn: Connection) -> list[dict]:
            self._require_reach(conn, configuration_id, reach)
            rows = revisions.list_page(conn, configuration_id, page)
            if not rows and configurations.get(conn, configuration_id) is None:
                raise ConfigurationNotFound(configuration_id)
            return rows

        rows = await self._db.read(list_page)
        return Page.from_rows([Revision.model_validate(r) for r in rows], page, lambda r: r.version)

    async def version(self, configuration_id: str, version: int, reach: Reach = None) -> Revision:
        configuration_id = existing_id(configuration_id, ConfigurationNotFound)

        def read(conn: Connection) -> dict[int, dict]:
            self._require_reach(conn, configuration_id, reach)
            return self._revisions(conn, configuration_id, [version])

        rows = await self._db.read(read)
        return Revision.model_validate(rows[version])

    async def diff(
        self, configuration_id: str, from_version: int, to_version: int | None = None, reach: Reach = None
    ) -> Diff:
        """An RFC 6902 patch turning one version's config into another's (default: current)."""
        configuration_id = existing_id(configuration_id, ConfigurationNotFound)

        def versions(conn: Connection) -> tuple[dict, dict]:
            self._require_reach(conn, configuration_id, reach)
            target = to_version
            if target is None:
                current = configurations.get(conn, configuration_id)
                if current is None:
                    raise ConfigurationNotFound(configuration_id)
                target = current["version"]
            found = self._revisions(conn, configuration_id, [from_version, target])
            return found[from_version], found[target]

        source, target = await self._db.read(versions)
        # Values are compared as written: exactly, with the exact numbers' own writer; and
        # secrets masked, so that a diff tells that one changed, never from what or to what.
        before, after = masked_for_diff(source["config"], target["config"])
        patch = jsonpatch.JsonPatch.from_diff(before, after, dumps=exact_json.dumps).patch
        return Diff(from_version=source["version"], to_version=target["version"], patch=patch)

    @staticmethod
    def _require_reach(conn: Connection, configuration_id: str, reach: Reach) -> None:
        """A configuration out of the caller's reach is as unknown as one that is not there
        (one more read, for restricted keys only)."""
        if reach is None:
            return
        current = configurations.get(conn, configuration_id)
        if current is None or current["application_id"] not in reach:
            raise ConfigurationNotFound(configuration_id)

    @staticmethod
    def _revisions(conn: Connection, configuration_id: str, wanted: Sequence[int]) -> dict[int, dict]:
        found = {}
        for version in wanted:
            row = revisions.get(conn, configuration_id, version)
            if row is None:
                if configurations.get(conn, configuration_id) is None:
                    raise ConfigurationNotFound(configuration_id)
                raise RevisionNotFound(configuration_id, version)
            found[version] = row
        return found

    async def _change_in_one_statement(
        self,
        configuration_id: str,
        context: AuditContext,
        if_match: VersionCondition | None,
        change: str,
        *,
        fields: dict | None = None,
        rolled_back_from: int | None = None,
        note: str | None = None,
    ) -> Configuration:
        """Lock, check reach and If-Match, work out the target, write it with its revision and
        event: one statement, one round trip, its own transaction. Unless the configuration is
        bound to a schema (or becomes bound): then the statement writes nothing, and the
        change is validated and written in a transaction (_change_validated); a configuration
        last seen bound here goes there at once.

        A target equal to the current state writes nothing: no version, revision or event;
        except a rollback, which is always recorded, with its note.
        """

        def apply(conn: Connection) -> Configuration | None:
            row = configurations.change(
                conn,
                configuration_id,
                context,
                event_id=new_id(),
                change=change,
                if_match=versions_admitted(if_match),
                fields=fields,
                rolled_back_from=rolled_back_from,
                note=note,
            )
            if row is not None and row["needs_validation"]:
                return None
            return _changed(configuration_id, row, if_match, rolled_back_from)

        def validated(conn: Connection) -> Configuration:
            return self._change_validated(
                conn, configuration_id, context, if_match, change, fields or {}, rolled_back_from, note
            )

        # A configuration known to be bound must be validated, and a sealed value sent must open:
        # no statement that would not write.
        if configuration_id in self._bound or holds_sealed((fields or {}).get("config")):
            changed = await self._db.write(validated)
        else:
            changed = await self._db.write_statement(apply)
            if changed is None:  # bound to a schema: validated and written in a transaction
                changed = await self._db.write(validated)
        self._note_binding(changed)
        self._cache.drop(("configuration", configuration_id))
        return changed

    def _note_binding(self, configuration: Configuration) -> None:
        """Remember which configurations were bound when last written here: a hint only (the
        statement still refuses to write a bound one unvalidated), which spares their next
        write a statement that would write nothing."""
        if configuration.binding is None:
            self._bound.discard(configuration.id)
            return
        if len(self._bound) >= BOUND_REMEMBERED:
            self._bound.clear()
        self._bound.add(configuration.id)

    def _change_validated(
        self,
        conn: Connection,
        configuration_id: str,
        context: AuditContext,
        if_match: VersionCondition | None,
        change: str,
        fields: dict,
        rolled_back_from: int | None,
        note: str | None,
    ) -> Configuration:
        """The change of a bound configuration (or of one that holds secrets): what it becomes
        must pass the schema, which stays at its version until the change commits, and its
        secrets are sealed (services/schemas.py stored_form)."""
        current = self._current(conn, configuration_id, context.reach, lock=True)
        require_match(if_match, current["version"], "configuration")
        wanted = _target(conn, current, fields, rolled_back_from)
        row = self._write_checked(
            conn,
            current,
            context,
            change,
            fields | {"config": wanted["config"]},
            wanted["binding"],
            rolled_back_from=rolled_back_from,
            note=note,
        )
        return _changed(configuration_id, row, if_match, rolled_back_from)

    def _write_checked(
        self,
        conn: Connection,
        current: dict,
        context: AuditContext,
        change: str,
        fields: dict,
        binding: dict | None,
        *,
        rolled_back_from: int | None = None,
        note: str | None = None,
    ) -> dict | None:
        """Write `fields` over `current` (locked, its If-Match checked), once their config passes
        the schema `binding` names and has its secrets sealed (services/schemas.py stored_form);
        then seal, in the history, what became secret. Returns configurations.change's row."""
        stored = self._schemas.stored_form(conn, current["id"], binding, fields["config"], current["config"])
        row = configurations.change(
            conn,
            current["id"],
            context,
            event_id=new_id(),
            change=change,
            if_match=None,
            fields=fields | {"config": stored},
            based_on=current["version"],
            rolled_back_from=rolled_back_from,
            note=note,
            validated=True,
        )
        # After the change: its own event's image of what it replaced is history too.
        self._schemas.seal_earlier(conn, current["id"], current["config"], stored)
        return row

    async def check(
        self,
        configuration_id: str,
        reach: Reach,
        *,
        fields: dict | None = None,
        patch: dict[str, Any] | None = None,
    ) -> ValidationResult:
        """Whether a PUT of `fields`, or a merge `patch`, would pass the configuration's
        schema (as it would be bound after it): a dry run, which writes nothing."""
        configuration_id = existing_id(configuration_id, ConfigurationNotFound)

        def check(conn: Connection) -> list[dict]:
            current = self._current(conn, configuration_id, reach)
            if patch is not None:
                plain = self._schemas.plain(configuration_id, current["config"])
                wanted = _patched(current, patch, plain)
            else:
                wanted = _target(conn, current, fields or {}, None)
            return self._schemas.errors_of_change(
                conn, configuration_id, wanted["binding"], wanted["config"], current["config"]
            )

        errors = await self._db.read(check)
        return ValidationResult(valid=not errors, errors=errors)

    async def revealed(
        self, configuration_id: str, context: AuditContext, version: int | None = None
    ) -> Configuration | Revision:
        """The configuration (or its revision `version`) with its secrets in plain: for a key
        that may see them (the caller checks). Each reveal is an audit event naming the paths
        it opened, never their values; it never goes through the cache."""
        configuration_id = existing_id(configuration_id, ConfigurationNotFound)

        def reveal(conn: Connection) -> dict:
            current = self._current(conn, configuration_id, context.reach)
            row = current if version is None else self._revisions(conn, configuration_id, [version])[version]
            plain, paths = opened(row["config"], self._schemas.box, configuration_id)
            note = "revealed " + ", ".join(paths) if paths else "revealed: no secrets"
            record_about(conn, context, "configuration.revealed", current, version=row["version"], note=note)
            return row | {"config": plain}

        row = await self._db.write(reveal)
        return (Configuration if version is None else Revision).model_validate(row)

    @staticmethod
    def _current(conn: Connection, configuration_id: str, reach: Reach, *, lock: bool = False) -> dict:
        current = configurations.get(conn, configuration_id, for_update=lock)
        if current is None or not within(reach, current["application_id"]):
            raise ConfigurationNotFound(configuration_id)
        return current


def _patched(current: dict, patch: dict[str, Any], plain_config: dict[str, Any]) -> dict:
    """What a merge patch makes of the configuration: its fields, valid, or InvalidChange.
    It applies to the config as the client knows it (`plain_config`: its secrets opened), not
    to the sealed form it is stored in."""
    document = {
        "name": current["name"],
        "comments": current["comments"],
        "config": plain_config,
        "schema": binding_of(current),
    }
    try:
        return ConfigurationState.model_validate(merge_patch(document, patch)).model_dump()
    except ValidationError as error:
        raise InvalidChange(error.errors(include_input=False, include_url=False)) from None


def _target(conn: Connection, current: dict, fields: dict, rolled_back_from: int | None) -> dict:
    """The config and binding a change leaves: a rollback restores the config of a version
    and keeps the binding (a schema guards what is stored, whichever version it came from)."""
    binding = fields["binding"] if "binding" in fields else binding_of(current)
    if rolled_back_from is None:
        return {"config": fields.get("config", current["config"]), "binding": binding}
    restored = revisions.get(conn, current["id"], rolled_back_from)
    if restored is None:
        raise RevisionNotFound(current["id"], rolled_back_from)
    return {"config": restored["config"], "binding": binding}


def versions_admitted(if_match: VersionCondition | None) -> list[int] | None:
    """The versions an If-Match admits, as the statements take them (None: any)."""
    if if_match is None or if_match.any:
        return None
    return sorted(if_match.strong)  # a weak tag never matches: If-Match compares strongly


def _changed(
    configuration_id: str,
    row: dict | None,
    if_match: VersionCondition | None,
    rolled_back_from: int | None = None,
) -> Configuration:
    """The outcome of configurations.change: the configuration, or why nothing was written.
    The checks are the statement's, in its order."""
    if row is None:
        raise ConfigurationNotFound(configuration_id)
    if not row["written"]:
        require_match(if_match, row["current_version"], "configuration")
        if rolled_back_from is not None and not row["restorable"]:
            raise RevisionNotFound(configuration_id, rolled_back_from)
    return Configuration.model_validate(row)
