from psycopg2.extensions import connection as Connection

from database.pool import Database
from models.applications import Application, ApplicationCreate, ApplicationUpdate
from models.errors import ApplicationNotFound
from models.ids import new_id
from models.paging import Page, PageRequest
from repositories import applications
from services.ids import existing_id


class ApplicationService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, request: ApplicationCreate) -> Application:
        def create(conn: Connection) -> dict:
            return applications.insert(
                conn, id=new_id(), name=request.name, comments=request.comments
            )

        return Application.model_validate(await self._db.write(create))

    async def get(self, application_id: str) -> Application:
        application_id = existing_id(application_id, ApplicationNotFound)
        row = await self._db.read(lambda conn: applications.get(conn, application_id))
        if row is None:
            raise ApplicationNotFound(application_id)
        return Application.model_validate(row)

    async def list(self, page: PageRequest, *, name: str | None = None) -> Page[Application]:
        rows = await self._db.read(lambda conn: applications.list_page(conn, page, name=name))
        return Page.from_rows([Application.model_validate(row) for row in rows], page)

    async def update(self, application_id: str, request: ApplicationUpdate) -> Application:
        application_id = existing_id(application_id, ApplicationNotFound)
        changes = request.model_dump(exclude_unset=True)

        def update(conn: Connection) -> dict:
            current = applications.get(conn, application_id, for_update=True)
            if current is None:
                raise ApplicationNotFound(application_id)
            wanted = {**current, **changes}
            return applications.update(
                conn, application_id, name=wanted["name"], comments=wanted["comments"]
            )

        return Application.model_validate(await self._db.write(update))

    async def delete(self, application_id: str) -> None:
        application_id = existing_id(application_id, ApplicationNotFound)
        if not await self._db.write(lambda conn: applications.delete(conn, application_id)):
            raise ApplicationNotFound(application_id)
