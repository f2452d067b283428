from psycopg2.extensions import connection as Connection

from database.pool import Database
from models.api_keys import Reach, within
from models.applications import Application, ApplicationCreate, ApplicationUpdate
from models.audit import AuditContext
from models.errors import ApplicationNotFound
from models.flags import Flag
from models.ids import new_id
from models.paging import Page, PageRequest
from models.preconditions import VersionCondition, etag, require_match
from repositories import applications, configurations
from services import configurations as configuration_service
from services.audit import record
from services.cache import Representation, RepresentationCache
from services.ids import existing_id


def image(row: dict) -> dict:
    """The application as the API shows it: what the audit log keeps of it."""
    return Application.model_validate(row).model_dump(mode="json")


def _entity(row: dict) -> dict:
    return {"entity_type": "application", "entity_id": row["id"], "application_id": row["id"]}


def render(application: Application) -> Representation:
    return Representation(
        body=application.model_dump_json().encode(),
        version=application.version,
        etag=etag(application.version),
        application_id=application.id,
    )


class ApplicationService:
    def __init__(self, db: Database, cache: RepresentationCache | None = None) -> None:
        self._db = db
        self._cache = cache if cache is not None else RepresentationCache(capacity=0)

    async def create(self, request: ApplicationCreate, context: AuditContext) -> Application:
        def create(conn: Connection) -> dict:
            row = applications.insert(conn, id=new_id(), name=request.name, comments=request.comments)
            record(
                conn,
                context,
                "application.created",
                **_entity(row),
                version=row["version"],
                before=None,
                after=image(row),
            )
            return row

        return Application.model_validate(await self._db.write(create))

    async def representation(self, application_id: str, reach: Reach = None) -> Representation:
        """The application as rendered JSON, from the cache when it holds it."""
        application_id = existing_id(application_id, ApplicationNotFound)
        if not within(reach, application_id):
            raise ApplicationNotFound(application_id)

        async def load() -> Representation | None:
            row = await self._db.read(lambda conn: applications.get(conn, application_id))
            return None if row is None else render(Application.model_validate(row))

        found = await self._cache.read_through(("application", application_id), load)
        if found is None:
            raise ApplicationNotFound(application_id)
        return found

    async def get(self, application_id: str, reach: Reach = None) -> Application:
        application_id = existing_id(application_id, ApplicationNotFound)
        if not within(reach, application_id):
            raise ApplicationNotFound(application_id)
        row = await self._db.read(lambda conn: applications.get(conn, application_id))
        if row is None:
            raise ApplicationNotFound(application_id)
        return Application.model_validate(row)

    async def require_known(self, application_id: str, reach: Reach = None) -> None:
        """Raise ApplicationNotFound unless the application exists or once did, so that a
        change feed filtered by it can still resume across its deletion."""
        application_id = existing_id(application_id, ApplicationNotFound)
        if not within(reach, application_id):
            raise ApplicationNotFound(application_id)
        if not await self._db.read(lambda conn: applications.known(conn, application_id)):
            raise ApplicationNotFound(application_id)

    async def list(
        self, page: PageRequest, *, name: str | None = None, reach: Reach = None
    ) -> Page[Application]:
        rows = await self._db.read(lambda conn: applications.list_page(conn, page, name=name, reach=reach))
        return Page.from_rows([Application.model_validate(row) for row in rows], page)

    async def update(
        self,
        application_id: str,
        request: ApplicationUpdate,
        context: AuditContext,
        if_match: VersionCondition | None = None,
    ) -> Application:
        """Change the fields sent; changing nothing writes nothing (no version, no event)."""
        application_id = existing_id(application_id, ApplicationNotFound)
        changes = request.model_dump(exclude_unset=True)

        def update(conn: Connection) -> dict:
            current = self._locked(conn, application_id, if_match, context.reach)
            wanted = {**current, **changes}
            row = applications.update(conn, application_id, name=wanted["name"], comments=wanted["comments"])
            if row is None:
                return current
            record(
                conn,
                context,
                "application.updated",
                **_entity(row),
                version=row["version"],
                before=image(current),
                after=image(row),
            )
            return row

        updated = Application.model_validate(await self._db.write(update))
        self._cache.drop(("application", application_id))
        return updated

    async def delete(
        self, application_id: str, context: AuditContext, if_match: VersionCondition | None = None
    ) -> None:
        """Delete the application, its configurations and its flags; the event keeps images of them all."""
        application_id = existing_id(application_id, ApplicationNotFound)

        def delete(conn: Connection) -> None:
            current = self._locked(conn, application_id, if_match, context.reach)
            # The lock above makes new configurations of this application wait, then fail.
            children = configurations.all_of_application(conn, application_id)
            flags = configurations.flags_of_application(conn, application_id)
            applications.delete(conn, application_id)
            before = image(current) | {
                "configurations": [configuration_service.image(c) for c in children],
                "flags": [Flag.from_row(f).model_dump(mode="json") for f in flags],
            }
            record(
                conn,
                context,
                "application.deleted",
                **_entity(current),
                version=current["version"],
                before=before,
                after=None,
            )

        await self._db.write(delete)
        self._cache.drop_application(application_id)

    @staticmethod
    def _locked(
        conn: Connection, application_id: str, if_match: VersionCondition | None, reach: Reach
    ) -> dict:
        current = applications.get(conn, application_id, for_update=True)
        if current is None or not within(reach, application_id):
            raise ApplicationNotFound(application_id)
        require_match(if_match, current["version"], "application")
        return current
