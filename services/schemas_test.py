import asyncio

import psycopg2
import pytest

from models.audit import AuditContext
from models.configurations import ConfigurationCreate, ConfigurationUpdate
from models.errors import BreakingSchemaVersion, SchemaInUse, SchemaNotFound, SchemaValidationFailed
from models.paging import PageRequest
from models.schemas import SchemaCreate
from repositories import applications
from repositories import schemas as schema_repository
from services.configurations import ConfigurationService
from services.json_schemas import CompiledSchemas
from services.schemas import SchemaService
from tests.waiting import wait_until_async

pytestmark = pytest.mark.anyio

ADMIN = AuditContext(actor="admin")
PORT = {"type": "object", "properties": {"port": {"type": "integer", "maximum": 65535}}}


@pytest.fixture
async def application_id(database):
    def create(conn):
        return applications.insert(conn, id="01JAPP00000000000000000000", name="payments", comments=None)[
            "id"
        ]

    return await database.write(create)


async def test_schema_changes_reach_the_change_feed_in_order(database, feed):
    schemas = SchemaService(database)

    created = await schemas.create(SchemaCreate.model_validate({"name": "net", "schema": PORT}), ADMIN)
    await schemas.add_version("net", {"type": "object"}, ADMIN)
    await schemas.delete("net", ADMIN)
    feed.notify()
    await wait_until_async(lambda: feed.tail >= 3, what="the feed reaches the deletion")
    changes = await feed.changes_after(0)

    told = [(c.action, c.entity_type, c.entity_id, c.name, c.version, c.application_id) for c in changes]
    assert told == [
        ("schema.created", "schema", created.id, "net", 1, None),
        ("schema.versioned", "schema", created.id, "net", 2, None),
        ("schema.deleted", "schema", created.id, "net", 2, None),
    ]


async def test_each_version_is_compiled_once_per_process(database, application_id):
    compiled = CompiledSchemas()
    schemas = SchemaService(database, compiled)
    configurations = ConfigurationService(database, schemas=schemas)
    await schemas.create(SchemaCreate.model_validate({"name": "net", "schema": PORT}), ADMIN)

    for name in ("a", "b", "c"):
        body = {
            "application_id": application_id,
            "name": name,
            "config": {"port": 1},
            "schema": {"name": "net"},
        }
        await configurations.create(ConfigurationCreate.model_validate(body), ADMIN)

    assert len(compiled) == 1


async def test_a_failed_validation_writes_nothing(database, application_id):
    schemas = SchemaService(database)
    configurations = ConfigurationService(database, schemas=schemas)
    await schemas.create(SchemaCreate.model_validate({"name": "net", "schema": PORT}), ADMIN)
    body = {"application_id": application_id, "name": "a", "config": {"port": 1e6}, "schema": {"name": "net"}}

    with pytest.raises(SchemaValidationFailed) as refused:
        await configurations.create(ConfigurationCreate.model_validate(body), ADMIN)

    assert refused.value.errors[0]["path"] == "/port"
    page = await configurations.list_for_application(application_id, PageRequest())
    assert page.items == []


async def test_a_new_version_and_a_deletion_see_the_configurations_as_they_stand(database, application_id):
    schemas = SchemaService(database)
    configurations = ConfigurationService(database, schemas=schemas)
    await schemas.create(SchemaCreate.model_validate({"name": "net", "schema": PORT}), ADMIN)
    body = {"application_id": application_id, "name": "a", "config": {"port": 70}, "schema": {"name": "net"}}
    await configurations.create(ConfigurationCreate.model_validate(body), ADMIN)

    with pytest.raises(BreakingSchemaVersion):
        await schemas.add_version("net", {"properties": {"port": {"maximum": 10}}}, ADMIN)
    with pytest.raises(SchemaInUse):
        await schemas.delete("net", ADMIN)


async def test_a_process_that_last_saw_a_configuration_bound_follows_what_another_did(
    database, application_id
):
    schemas = SchemaService(database)
    here = ConfigurationService(database, schemas=schemas)
    elsewhere = ConfigurationService(database, schemas=schemas)
    await schemas.create(SchemaCreate.model_validate({"name": "net", "schema": PORT}), ADMIN)
    body = {"application_id": application_id, "name": "a", "config": {"port": 1}, "schema": {"name": "net"}}
    created = await here.create(ConfigurationCreate.model_validate(body), ADMIN)

    await elsewhere.update(created.id, ConfigurationUpdate.model_validate({"schema": None}), ADMIN)
    unbound = await here.update(
        created.id, ConfigurationUpdate.model_validate({"config": {"port": -1e9}}), ADMIN
    )
    await elsewhere.update(
        created.id,
        ConfigurationUpdate.model_validate({"config": {"port": 2}, "schema": {"name": "net"}}),
        ADMIN,
    )

    assert unbound.version == 3 and unbound.binding is None
    with pytest.raises(SchemaValidationFailed):
        await here.update(created.id, ConfigurationUpdate.model_validate({"config": {"port": 1e9}}), ADMIN)


def _waiting_for_a_lock(database_url: str) -> bool:
    with psycopg2.connect(database_url) as watcher, watcher.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


async def test_a_write_that_follows_the_latest_waits_for_a_new_version_then_meets_it(
    database, database_url, conn, application_id
):
    schemas = SchemaService(database)
    configurations = ConfigurationService(database, schemas=schemas)
    created = await schemas.create(SchemaCreate.model_validate({"name": "net", "schema": PORT}), ADMIN)
    body = {"application_id": application_id, "name": "a", "config": {"port": 1}, "schema": {"name": "net"}}
    configuration = await configurations.create(ConfigurationCreate.model_validate(body), ADMIN)
    # A new version in the making, in another transaction: it holds the schema's lock.
    schema_repository.lock_for_change(conn, "net")
    stricter = {"properties": {"port": {"maximum": 10}}}
    schema_repository.add_version(conn, id=created.id, version=2, document=stricter, actor="other")

    write = asyncio.ensure_future(
        configurations.update(
            configuration.id, ConfigurationUpdate.model_validate({"config": {"port": 80}}), ADMIN
        )
    )
    await wait_until_async(lambda: _waiting_for_a_lock(database_url), what="the write waits for the schema")
    conn.commit()

    with pytest.raises(SchemaValidationFailed) as refused:
        await write
    assert refused.value.version == 2


async def test_a_binding_that_races_a_deletion_finds_the_schema_gone(
    database, database_url, conn, application_id
):
    schemas = SchemaService(database)
    configurations = ConfigurationService(database, schemas=schemas)
    created = await schemas.create(SchemaCreate.model_validate({"name": "net", "schema": PORT}), ADMIN)
    schema_repository.lock_for_change(conn, "net")
    schema_repository.delete(conn, created.id)

    body = {"application_id": application_id, "name": "a", "config": {"port": 1}, "schema": {"name": "net"}}
    binding = asyncio.ensure_future(configurations.create(ConfigurationCreate.model_validate(body), ADMIN))
    await wait_until_async(lambda: _waiting_for_a_lock(database_url), what="the binding waits for the schema")
    conn.commit()

    with pytest.raises(SchemaNotFound):
        await binding
