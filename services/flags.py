"""Feature flags, kept as configurations of the kind "flag": written by the configurations'
own statements (one round trip: the change, its revision and its audit event), fed to
watchers by the change feed, and read through the representation cache, where each
application's flags are held compiled, ready to evaluate without reading the database.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonpatch
from config_service_client.flag_rules import CompiledFlag
from psycopg2.extensions import connection as Connection
from pydantic import ValidationError

from database.pool import Database
from models.api_keys import Reach, within
from models.audit import AuditContext
from models.errors import ApplicationNotFound, FlagNotFound, FlagVersionNotFound, InvalidChange
from models.flags import (
    Flag,
    FlagCreate,
    FlagDefinition,
    FlagRevision,
    definition_errors,
)
from models.ids import new_id
from models.paging import Page, PageRequest
from models.preconditions import VersionCondition, require_match
from models.revisions import Diff
from repositories import applications, configurations, revisions
from services.cache import Representation, RepresentationCache
from services.configurations import versions_admitted
from services.ids import existing_id
from services.merge_patch import merge_patch

# As models.flags.FlagResult writes them: plain, for an evaluation makes many of them.
NOT_FOUND = {"value": None, "variant": None, "reason": "ERROR", "error_code": "FLAG_NOT_FOUND"}


@dataclass(frozen=True)
class FlagSet:
    """An application's flags as last committed, compiled; its etag changes with any of them."""

    flags: dict[str, Flag]
    compiled: dict[str, CompiledFlag]
    etag: str

    @classmethod
    def of(cls, rows: Iterable[dict]) -> "FlagSet":
        flags = {flag.key: flag for flag in map(Flag.from_row, rows)}
        compiled = {key: CompiledFlag(key, flag.definition()) for key, flag in flags.items()}
        tag = hashlib.sha256(json.dumps([[f.id, f.version] for f in flags.values()]).encode())
        return cls(flags, compiled, f'"{tag.hexdigest()[:20]}"')

    def evaluate(self, context: Mapping[str, Any], keys: Iterable[str] | None = None) -> dict[str, dict]:
        """Each flag's result (all, or those of `keys`), as models.flags.FlagResult's JSON."""
        results = {}
        for key in self.compiled if keys is None else keys:
            compiled = self.compiled.get(key)
            if compiled is None:
                results[key] = NOT_FOUND
                continue
            found = compiled.evaluate(context)
            results[key] = {
                "value": found.value,
                "variant": found.variant,
                "reason": found.reason,
                "error_code": None,
            }
        return results


def evaluation_body(results: dict[str, dict]) -> bytes:
    """An evaluation's answer (models.flags.EvaluationResult) as sent: compact, as every body."""
    return json.dumps({"flags": results}, ensure_ascii=False, separators=(",", ":")).encode()


class FlagService:
    def __init__(self, db: Database, cache: RepresentationCache | None = None) -> None:
        self._db = db
        self._cache = cache if cache is not None else RepresentationCache(capacity=0)

    async def flag_set(self, application_id: str, reach: Reach = None) -> FlagSet:
        """The application's flags, compiled, from the cache when it holds them."""
        content = (await self.listing(application_id, reach)).content
        assert isinstance(content, FlagSet)
        return content

    async def listing(self, application_id: str, reach: Reach = None) -> Representation:
        """The application's flags as GET .../flags sends them (its body), and compiled (its
        content): one cache entry, filled by one read, serves both."""
        application_id = self._reached(application_id, reach)

        async def load() -> Representation | None:
            def read(conn: Connection) -> list[dict] | None:
                if not applications.exists(conn, application_id):
                    return None
                return configurations.flags_of_application(conn, application_id)

            rows = await self._db.read(read)
            if rows is None:
                return None
            flags = FlagSet.of(rows)
            listed = [flag.model_dump(mode="json") for flag in flags.flags.values()]
            body = json.dumps(listed, ensure_ascii=False, separators=(",", ":")).encode()
            return Representation(body, 0, flags.etag, application_id, content=flags)

        found = await self._cache.read_through(("flags", application_id), load)
        if found is None:
            raise ApplicationNotFound(application_id)
        return found

    async def get(self, application_id: str, key: str, reach: Reach = None) -> Flag:
        flag = (await self.flag_set(application_id, reach)).flags.get(key)
        if flag is None:
            raise FlagNotFound(key)
        return flag

    async def evaluate(
        self, application_id: str, context: Mapping[str, Any], keys: list[str] | None, reach: Reach = None
    ) -> dict[str, dict]:
        return (await self.flag_set(application_id, reach)).evaluate(context, keys)

    async def create(self, application_id: str, request: FlagCreate, context: AuditContext) -> Flag:
        application_id = self._reached(application_id, context.reach)
        definition = _checked(request)

        def create(conn: Connection) -> dict:
            return configurations.insert(
                conn,
                context,
                id=new_id(),
                event_id=new_id(),
                application_id=application_id,
                name=request.key,
                comments=None,
                config=definition,
                kind="flag",
            )

        created = Flag.from_row(await self._db.write_statement(create))
        self._cache.drop(("flags", application_id))
        return created

    async def update(
        self,
        application_id: str,
        key: str,
        request: FlagDefinition,
        context: AuditContext,
        if_match: VersionCondition | None = None,
    ) -> Flag:
        definition = _checked(request)
        return await self._change(application_id, key, context, if_match, "updated", config=definition)

    async def rollback(
        self,
        application_id: str,
        key: str,
        version: int,
        context: AuditContext,
        *,
        note: str | None = None,
        if_match: VersionCondition | None = None,
    ) -> Flag:
        """A new version whose definition is that of `version` (valid then, so valid now: a
        flag's rules refer to nothing outside it)."""
        return await self._change(
            application_id, key, context, if_match, "rolled_back", rolled_back_from=version, note=note
        )

    async def patch(
        self,
        application_id: str,
        key: str,
        patch: dict[str, Any],
        context: AuditContext,
        if_match: VersionCondition | None = None,
    ) -> Flag:
        """Apply an RFC 7396 merge patch to the definition, locked; the result must be valid."""
        application_id = self._reached(application_id, context.reach)

        def apply(conn: Connection) -> dict | None:
            current = configurations.get_flag(conn, application_id, key, for_update=True)
            if current is None:
                raise FlagNotFound(key)
            try:
                wanted = FlagDefinition.model_validate(
                    merge_patch(Flag.from_row(current).definition(), patch)
                )
            except ValidationError as error:
                raise InvalidChange(error.errors(include_input=False, include_url=False)) from None
            definition = _checked(wanted)
            require_match(if_match, current["version"], "flag")
            return configurations.change(
                conn,
                None,
                context,
                event_id=new_id(),
                change="patched",
                if_match=None,
                fields={"config": definition},
                based_on=current["version"],
                flag=(application_id, key),
            )

        changed = _changed(key, await self._db.write(apply), None)
        self._cache.drop(("flags", application_id))
        return changed

    async def delete(
        self, application_id: str, key: str, context: AuditContext, if_match: VersionCondition | None = None
    ) -> None:
        application_id = self._reached(application_id, context.reach)

        def delete(conn: Connection) -> dict | None:
            return configurations.delete(
                conn,
                None,
                context,
                event_id=new_id(),
                if_match=versions_admitted(if_match),
                flag=(application_id, key),
            )

        deleted = await self._db.write_statement(delete)
        if deleted is None:
            raise FlagNotFound(key)
        if not deleted["written"]:
            require_match(if_match, deleted["version"], "flag")
        self._cache.drop(("flags", application_id))

    async def versions(
        self, application_id: str, key: str, page: PageRequest, reach: Reach = None
    ) -> Page[FlagRevision]:
        """The flag's revisions, newest first."""
        application_id = self._reached(application_id, reach)

        def list_page(conn: Connection) -> list[dict]:
            return revisions.list_page(conn, self._id(conn, application_id, key), page)

        rows = await self._db.read(list_page)
        return Page.from_rows([FlagRevision.from_row(r) for r in rows], page, lambda r: r.version)

    async def version(self, application_id: str, key: str, version: int, reach: Reach = None) -> FlagRevision:
        application_id = self._reached(application_id, reach)

        def read(conn: Connection) -> dict:
            return self._revision(conn, self._id(conn, application_id, key), key, version)

        return FlagRevision.from_row(await self._db.read(read))

    async def diff(
        self, application_id: str, key: str, from_version: int, to_version: int | None, reach: Reach = None
    ) -> Diff:
        """An RFC 6902 patch turning one version's definition into another's (default: current)."""
        application_id = self._reached(application_id, reach)

        def versions(conn: Connection) -> tuple[dict, dict]:
            current = configurations.get_flag(conn, application_id, key)
            if current is None:
                raise FlagNotFound(key)
            target = current["version"] if to_version is None else to_version
            source = self._revision(conn, current["id"], key, from_version)
            return source, self._revision(conn, current["id"], key, target)

        source, target = await self._db.read(versions)
        patch = jsonpatch.JsonPatch.from_diff(source["config"], target["config"]).patch
        return Diff(from_version=source["version"], to_version=target["version"], patch=patch)

    async def _change(
        self,
        application_id: str,
        key: str,
        context: AuditContext,
        if_match: VersionCondition | None,
        change: str,
        *,
        config: dict | None = None,
        rolled_back_from: int | None = None,
        note: str | None = None,
    ) -> Flag:
        """One statement: lock, check If-Match, write the change with its revision and event."""
        application_id = self._reached(application_id, context.reach)

        def apply(conn: Connection) -> dict | None:
            return configurations.change(
                conn,
                None,
                context,
                event_id=new_id(),
                change=change,
                if_match=versions_admitted(if_match),
                fields=None if config is None else {"config": config},
                rolled_back_from=rolled_back_from,
                note=note,
                flag=(application_id, key),
            )

        changed = _changed(key, await self._db.write_statement(apply), if_match, rolled_back_from)
        self._cache.drop(("flags", application_id))
        return changed

    @staticmethod
    def _reached(application_id: str, reach: Reach) -> str:
        application_id = existing_id(application_id, ApplicationNotFound)
        if not within(reach, application_id):
            raise ApplicationNotFound(application_id)
        return application_id

    @staticmethod
    def _id(conn: Connection, application_id: str, key: str) -> str:
        current = configurations.get_flag(conn, application_id, key)
        if current is None:
            raise FlagNotFound(key)
        return current["id"]

    @staticmethod
    def _revision(conn: Connection, flag_id: str, key: str, version: int) -> dict:
        row = revisions.get(conn, flag_id, version)
        if row is None:
            raise FlagVersionNotFound(key, version)
        return row


def _checked(definition: FlagDefinition) -> dict[str, Any]:
    """The definition as stored, if it can be evaluated; else InvalidChange naming each problem."""
    errors = definition_errors(definition)
    if errors:
        raise InvalidChange(errors)
    return definition.stored()


def _changed(
    key: str, row: dict | None, if_match: VersionCondition | None, rolled_back_from: int | None = None
) -> Flag:
    """The outcome of configurations.change: the flag, or why nothing was written."""
    if row is None:
        raise FlagNotFound(key)
    if not row["written"]:
        require_match(if_match, row["current_version"], "flag")
        if rolled_back_from is not None and not row["restorable"]:
            raise FlagVersionNotFound(key, rolled_back_from)
    return Flag.from_row(row)
