import pytest

from models.applications import ApplicationCreate
from models.configurations import ConfigurationCreate, ConfigurationUpdate
from models.errors import ApplicationNotFound, ConfigurationNameTaken, ConfigurationNotFound
from models.paging import PageRequest
from services.applications import ApplicationService
from services.configurations import ConfigurationService

pytestmark = pytest.mark.anyio


@pytest.fixture
def service(database) -> ConfigurationService:
    return ConfigurationService(database)


@pytest.fixture
async def app_id(database) -> str:
    return (await ApplicationService(database).create(ApplicationCreate(name="payments"))).id


def new(app_id: str, name: str = "db", config: dict | None = None) -> ConfigurationCreate:
    return ConfigurationCreate(application_id=app_id, name=name, config=config or {"a": 1})


async def test_create_and_get(service, app_id):
    created = await service.create(new(app_id, config={"x": [1, {"y": None}]}))

    assert created.config == {"x": [1, {"y": None}]}
    assert await service.get(created.id) == created


async def test_create_for_unknown_application_or_taken_name(service, app_id):
    await service.create(new(app_id, "db"))
    with pytest.raises(ConfigurationNameTaken):
        await service.create(new(app_id, "db"))
    with pytest.raises(ApplicationNotFound):
        await service.create(new("01ARZ3NDEKTSV4RRFFQ69G5FAV"))


async def test_list_with_and_without_filters(service, app_id):
    first = await service.create(new(app_id, "db"))
    second = await service.create(new(app_id, "cache"))

    assert (await service.list(PageRequest())).items == [first, second]
    assert (await service.list(PageRequest(), name="cache")).items == [second]
    page = await service.list(PageRequest(limit=1), application_id=app_id)
    assert page.items == [first] and page.has_more
    assert (await service.list_for_application(app_id.lower(), PageRequest())).items == [first, second]


async def test_listing_an_unknown_application_is_not_found(service, app_id):
    for unknown in ("01ARZ3NDEKTSV4RRFFQ69G5FAV", "nope"):
        with pytest.raises(ApplicationNotFound):
            await service.list_for_application(unknown, PageRequest())
    assert (await service.list(PageRequest(), application_id=app_id)).items == []


async def test_update_merges_the_sent_fields(service, app_id):
    created = await service.create(new(app_id, config={"a": 1}))

    updated = await service.update(created.id, ConfigurationUpdate(config={"b": 2}))

    assert (updated.name, updated.config) == ("db", {"b": 2})
    assert updated.updated_at > created.updated_at


async def test_update_or_delete_unknown_is_not_found(service):
    with pytest.raises(ConfigurationNotFound):
        await service.update("01ARZ3NDEKTSV4RRFFQ69G5FAV", ConfigurationUpdate(name="x"))
    with pytest.raises(ConfigurationNotFound):
        await service.delete("nope")


async def test_delete(service, app_id):
    created = await service.create(new(app_id))
    await service.delete(created.id)
    with pytest.raises(ConfigurationNotFound):
        await service.get(created.id)
