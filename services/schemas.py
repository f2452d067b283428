"""Schemas: shared, versioned JSON Schemas that bound configurations must pass.

A schema's lock orders everything that depends on which version is the latest: a write of a
bound configuration shares it (it validates against the latest as it stands), a new version
or a deletion takes it alone (it checks the configurations as they stand). So no
configuration that follows the latest is ever left holding what the latest refuses.
"""

import os
from typing import Any

from psycopg2.extensions import connection as Connection

from config.secret_keys import KEY_BYTES
from database.pool import Database
from models.audit import AuditContext
from models.errors import (
    BreakingSchemaVersion,
    SchemaInUse,
    SchemaNotFound,
    SchemaValidationFailed,
    SchemaVersionNotFound,
)
from models.ids import new_id
from models.paging import Page, PageRequest
from models.schemas import (
    BrokenConfiguration,
    Compatibility,
    Schema,
    SchemaCreate,
    SchemaVersion,
    ValidationResult,
)
from models.sealed import sealed_paths
from repositories import schemas
from services.audit import record
from services.cache import RepresentationCache
from services.ids import existing_name
from services.json_schemas import (
    CompiledSchema,
    CompiledSchemas,
    compile_schema,
    marks_secrets,
    secret_paths,
)
from services.secret_history import seal_everywhere, seal_history
from services.secrets import SecretBox, opened, sealed, unmasked

# The configurations a conflict names, at most: with the count of them all.
MAX_LISTED = 100

# Why a document does not pass: services/json_schemas.py explains each error.
Errors = list[dict]


def _schema(row: dict) -> Schema:
    return Schema.model_validate({**row, "version": row["latest_version"], "schema": row["schema"]})


def _image(row: dict) -> dict:
    """The schema as the API shows it, at the version just made: what the audit log keeps."""
    return _schema(row).model_dump(mode="json")


def _entity(row: dict) -> dict:
    return {"entity_type": "schema", "entity_id": row["id"], "application_id": None}


class SchemaService:
    def __init__(
        self,
        db: Database,
        compiled: CompiledSchemas | None = None,
        box: SecretBox | None = None,
        cache: RepresentationCache | None = None,
    ) -> None:
        self._db = db
        # This process's cache, dropped at once when a version seals values in place (other
        # processes drop theirs when the change feed tells them: services/cache.py).
        self._cache = cache
        self._compiled = compiled if compiled is not None else CompiledSchemas()
        # Without keys of its own (a test's), one made for this process: what it seals opens
        # only here.
        self.box = box if box is not None else SecretBox([os.urandom(KEY_BYTES)])

    async def create(self, request: SchemaCreate, context: AuditContext) -> Schema:
        compile_schema(request.document)  # refused before anything is written

        def create(conn: Connection) -> dict:
            row = schemas.insert(
                conn,
                id=new_id(),
                name=request.name,
                description=request.description,
                document=request.document,
                actor=context.actor,
            )
            record(conn, context, "schema.created", **_entity(row), version=1, before=None, after=_image(row))
            return row

        return _schema(await self._db.write(create))

    async def add_version(
        self, name: str, document: dict[str, Any], context: AuditContext, *, dry_run: bool = False
    ) -> Schema | Compatibility:
        """Make `document` the next version, unless it would refuse a configuration that
        follows the latest (BreakingSchemaVersion, naming them). A dry run writes nothing and
        tells whether it would be refused, and why."""
        name = existing_name(name, SchemaNotFound)
        compiled = CompiledSchema(compile_schema(document), marks_secrets(document), document)
        validator = compiled.validator

        def breaking(conn: Connection) -> tuple[list[BrokenConfiguration], int]:
            """The first MAX_LISTED configurations it would refuse, and how many in all."""
            listed: list[BrokenConfiguration] = []
            count, after = 0, None
            while batch := schemas.following_latest(conn, name, after=after):
                for row in batch:
                    # Checked as the client knows it: its secrets opened, and never shown.
                    errors = compiled.errors(opened(row["config"], self.box, row["id"])[0])
                    if errors:
                        count += 1
                        if len(listed) < MAX_LISTED:
                            listed.append(BrokenConfiguration.model_validate({**row, "errors": errors}))
                after = batch[-1]["id"]
            return listed, count

        if dry_run:

            def check(conn: Connection) -> tuple[list[BrokenConfiguration], int]:
                if schemas.get(conn, name) is None:
                    raise SchemaNotFound(name)
                return breaking(conn)

            broken, count = await self._db.read(check)
            return Compatibility(compatible=not count, breaking=broken, breaking_count=count)

        def add(conn: Connection) -> dict:
            current = schemas.lock_for_change(conn, name)
            if current is None:
                raise SchemaNotFound(name)
            broken, count = breaking(conn)
            if count:
                raise BreakingSchemaVersion(name, [item.model_dump() for item in broken], count)
            if marks_secrets(document):
                self._seal_followers(conn, name, validator)
            before = schemas.get(conn, name)
            row = schemas.add_version(
                conn,
                id=current["id"],
                version=current["latest_version"] + 1,
                document=document,
                actor=context.actor,
            )
            record(
                conn,
                context,
                "schema.versioned",
                **_entity(row),
                version=row["latest_version"],
                before=_image(before),
                after=_image(row),
            )
            return row

        added = _schema(await self._db.write(add))
        if self._cache is not None and marks_secrets(document):
            self._cache.drop_all()
        return added

    def _seal_followers(self, conn: Connection, name: str, validator: Any) -> None:
        """A new version that marks values secret: the configurations that follow the latest
        have those values sealed where they lie (no new version: the values do not change)."""
        after = None
        while batch := schemas.following_latest(conn, name, after=after):
            for row in batch:
                plain, _ = opened(row["config"], self.box, row["id"])
                newly = set(secret_paths(validator, plain)) - set(sealed_paths(row["config"]))
                if newly:
                    seal_everywhere(conn, self.box, row["id"], sorted(newly))
            after = batch[-1]["id"]

    async def get(self, name: str) -> Schema:
        name = existing_name(name, SchemaNotFound)
        row = await self._db.read(lambda conn: schemas.get(conn, name))
        if row is None:
            raise SchemaNotFound(name)
        return _schema(row)

    async def list(self, page: PageRequest) -> Page[Schema]:
        rows = await self._db.read(lambda conn: schemas.list_page(conn, page))
        return Page.from_rows([_schema(row) for row in rows], page)

    async def versions(self, name: str, page: PageRequest) -> Page[SchemaVersion]:
        name = existing_name(name, SchemaNotFound)

        def list_page(conn: Connection) -> list[dict]:
            rows = schemas.versions_page(conn, name, page)
            if not rows and schemas.get(conn, name) is None:
                raise SchemaNotFound(name)
            return rows

        rows = await self._db.read(list_page)
        return Page.from_rows([SchemaVersion.model_validate(row) for row in rows], page, lambda v: v.version)

    async def version(self, name: str, version: int) -> SchemaVersion:
        name = existing_name(name, SchemaNotFound)

        def read(conn: Connection) -> dict:
            row = schemas.version(conn, name, version)
            if row is None:
                if schemas.get(conn, name) is None:
                    raise SchemaNotFound(name)
                raise SchemaVersionNotFound(name, version)
            return row

        return SchemaVersion.model_validate(await self._db.read(read))

    async def delete(self, name: str, context: AuditContext) -> None:
        """Delete the schema with all its versions; refused while it binds a configuration."""
        name = existing_name(name, SchemaNotFound)

        def delete(conn: Connection) -> None:
            current = schemas.lock_for_change(conn, name)
            if current is None:
                raise SchemaNotFound(name)
            bound = schemas.bound(conn, name)
            if bound:
                listed = [{k: row[k] for k in ("id", "application_id", "name")} for row in bound[:MAX_LISTED]]
                raise SchemaInUse(name, listed, len(bound))
            before = schemas.get(conn, name)
            schemas.delete(conn, current["id"])
            record(
                conn,
                context,
                "schema.deleted",
                **_entity(current),
                version=current["latest_version"],
                before=_image(before),
                after=None,
            )

        await self._db.write(delete)

    async def validate(
        self, name: str, config: dict[str, Any], version: int | None = None
    ) -> ValidationResult:
        """Whether `config` passes the schema (its latest version, or `version`): a dry run."""
        name = existing_name(name, SchemaNotFound)
        _, errors = await self._db.read(lambda conn: self.errors_against(conn, name, version, config))
        return ValidationResult(valid=not errors, errors=errors)

    def errors_against(
        self, conn: Connection, name: str, version: int | None, config: dict[str, Any], *, lock: bool = False
    ) -> tuple[int, Errors]:
        """The version `config` was checked against (`version`, or None: the latest as it
        stands), and why it does not pass; with `lock`, the schema stays as it is until the
        transaction ends."""
        wanted, compiled = self._version(conn, name, version, lock=lock)
        return wanted, compiled.errors(config)

    def _version(
        self, conn: Connection, name: str, version: int | None, *, lock: bool
    ) -> tuple[int, CompiledSchema]:
        current = (schemas.lock_for_binding if lock else schemas.get)(conn, name)
        if current is None:
            raise SchemaNotFound(name)
        wanted = current["latest_version"] if version is None else version
        compiled = self._compiled.get(current["id"], wanted)
        if compiled is None:
            document = schemas.document(conn, current["id"], wanted)
            if document is None:
                raise SchemaVersionNotFound(name, wanted)
            compiled = self._compiled.compile(current["id"], wanted, document)
        return wanted, compiled

    def stored_form(
        self,
        conn: Connection,
        configuration_id: str,
        binding: dict | None,
        config: dict[str, Any],
        stored: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """In a write's transaction, what to store of `config`, which is to replace `stored`
        (None: a new configuration), as bound by `binding`:

        - each MASK where a secret is stored keeps that secret (a masked read written back);
        - what it holds sealed (a rollback's) is opened, and must open here;
        - it must pass the schema, which keeps its latest version until the write commits
          (else SchemaValidationFailed: the write is rolled back);
        - the values the schema marks secret are sealed, and so are those that were sealed
          where they stood (a secret stays one when the schema, or the binding, goes).
        """
        plain, secret = self._opened(configuration_id, config, stored)
        if binding is not None:
            version, compiled = self._version(conn, binding["name"], binding.get("version"), lock=True)
            errors = compiled.errors(plain)
            if errors:
                raise SchemaValidationFailed(binding["name"], version, errors)
            if compiled.marks_secrets:
                secret.update(secret_paths(compiled.validator, plain))
        return sealed(plain, sorted(secret), self.box, configuration_id, stored)

    def errors_of_change(
        self,
        conn: Connection,
        configuration_id: str,
        binding: dict | None,
        config: dict[str, Any],
        stored: dict[str, Any] | None,
    ) -> Errors:
        """Why stored_form would refuse the change (empty: it would not): a dry run."""
        if binding is None:
            return []
        plain, _ = self._opened(configuration_id, config, stored)
        return self.errors_against(conn, binding["name"], binding.get("version"), plain)[1]

    def _opened(
        self, configuration_id: str, config: dict[str, Any], stored: dict[str, Any] | None
    ) -> tuple[dict[str, Any], set[str]]:
        """`config` as the client means it (each MASK the secret stored there, each sealed
        value opened), and the paths that held secrets in it or in `stored`."""
        stored_plain, was_sealed = opened(stored, self.box, configuration_id) if stored else (None, [])
        sent = unmasked(config, stored_plain, was_sealed) if stored_plain is not None else config
        plain, came_sealed = opened(sent, self.box, configuration_id)
        return plain, {*was_sealed, *came_sealed}

    def seal_earlier(
        self, conn: Connection, configuration_id: str, stored_before: dict | None, stored_after: dict
    ) -> None:
        """After a write: a value sealed now that was not before (a schema, or a new version
        of it, marks it secret) is sealed in the configuration's history too, its revisions
        and audit images, where its earlier values lie in plain."""
        newly = set(sealed_paths(stored_after)) - set(sealed_paths(stored_before or {}))
        if newly:
            seal_history(conn, self.box, configuration_id, sorted(newly))

    def plain(self, configuration_id: str, config: dict[str, Any]) -> dict[str, Any]:
        """`config` as stored, with its secrets opened."""
        return opened(config, self.box, configuration_id)[0]
