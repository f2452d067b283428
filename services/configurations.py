from psycopg2.extensions import connection as Connection

from database.pool import Database
from models.configurations import Configuration, ConfigurationCreate, ConfigurationUpdate
from models.errors import ApplicationNotFound, ConfigurationNotFound
from models.ids import new_id
from models.paging import Page, PageRequest
from repositories import applications, configurations
from services.ids import existing_id


class ConfigurationService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, request: ConfigurationCreate) -> Configuration:
        def create(conn: Connection) -> dict:
            return configurations.insert(conn, id=new_id(), **request.model_dump())

        return Configuration.model_validate(await self._db.write(create))

    async def get(self, configuration_id: str) -> Configuration:
        configuration_id = existing_id(configuration_id, ConfigurationNotFound)
        row = await self._db.read(lambda conn: configurations.get(conn, configuration_id))
        if row is None:
            raise ConfigurationNotFound(configuration_id)
        return Configuration.model_validate(row)

    async def list(
        self,
        page: PageRequest,
        *,
        application_id: str | None = None,
        name: str | None = None,
    ) -> Page[Configuration]:
        """List configurations; a filter on an application that does not exist is a 404."""

        def list_page(conn: Connection) -> list[dict]:
            rows = configurations.list_page(conn, page, application_id=application_id, name=name)
            # Only an empty page needs the second look: rows prove the application exists.
            if not rows and application_id and not applications.exists(conn, application_id):
                raise ApplicationNotFound(application_id)
            return rows

        rows = await self._db.read(list_page)
        return Page.from_rows([Configuration.model_validate(row) for row in rows], page)

    async def list_for_application(self, application_id: str, page: PageRequest) -> Page[Configuration]:
        return await self.list(page, application_id=existing_id(application_id, ApplicationNotFound))

    async def update(self, configuration_id: str, request: ConfigurationUpdate) -> Configuration:
        configuration_id = existing_id(configuration_id, ConfigurationNotFound)
        changes = request.model_dump(exclude_unset=True)

        def update(conn: Connection) -> dict:
            current = configurations.get(conn, configuration_id, for_update=True)
            if current is None:
                raise ConfigurationNotFound(configuration_id)
            wanted = {**current, **changes}
            return configurations.update(
                conn,
                configuration_id,
                name=wanted["name"],
                comments=wanted["comments"],
                config=wanted["config"],
            )

        return Configuration.model_validate(await self._db.write(update))

    async def delete(self, configuration_id: str) -> None:
        configuration_id = existing_id(configuration_id, ConfigurationNotFound)
        if not await self._db.write(lambda conn: configurations.delete(conn, configuration_id)):
            raise ConfigurationNotFound(configuration_id)
