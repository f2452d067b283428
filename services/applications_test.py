import pytest

from models.applications import ApplicationCreate, ApplicationUpdate
from models.audit import AuditContext
from models.configurations import ConfigurationCreate
from models.errors import ApplicationNameTaken, ApplicationNotFound
from models.paging import PageRequest
from services.applications import ApplicationService
from services.configurations import ConfigurationService

pytestmark = pytest.mark.anyio

ME = AuditContext(actor="tester")


@pytest.fixture
def service(database) -> ApplicationService:
    return ApplicationService(database)


async def test_create_get_list(service):
    created = await service.create(ApplicationCreate(name="payments", comments="c"), ME)

    assert await service.get(created.id) == created
    assert await service.get(created.id.lower()) == created
    page = await service.list(PageRequest())
    assert page.items == [created]
    assert not page.has_more
    assert (await service.list(PageRequest(), name="other")).items == []


async def test_get_unknown_or_impossible_is_not_found(service):
    for unknown in ("01ARZ3NDEKTSV4RRFFQ69G5FAV", "nope"):
        with pytest.raises(ApplicationNotFound):
            await service.get(unknown)


async def test_update_merges_the_sent_fields(service):
    created = await service.create(ApplicationCreate(name="payments", comments="c"), ME)

    renamed = await service.update(created.id, ApplicationUpdate(name="billing"), ME)
    cleared = await service.update(created.id, ApplicationUpdate.model_validate({"comments": None}), ME)

    assert (renamed.name, renamed.comments) == ("billing", "c")
    assert (cleared.name, cleared.comments) == ("billing", None)


async def test_update_unknown_or_taken(service):
    await service.create(ApplicationCreate(name="payments"), ME)
    billing = await service.create(ApplicationCreate(name="billing"), ME)

    with pytest.raises(ApplicationNotFound):
        await service.update("01ARZ3NDEKTSV4RRFFQ69G5FAV", ApplicationUpdate(name="x"), ME)
    with pytest.raises(ApplicationNameTaken):
        await service.update(billing.id, ApplicationUpdate(name="payments"), ME)
    assert await service.get(billing.id) == billing


async def test_delete_takes_the_configurations_along(service, database):
    configurations = ConfigurationService(database)
    created = await service.create(ApplicationCreate(name="payments"), ME)
    await configurations.create(ConfigurationCreate(application_id=created.id, name="db", config={}), ME)

    await service.delete(created.id, ME)

    with pytest.raises(ApplicationNotFound):
        await service.delete(created.id, ME)
    assert (await configurations.list(PageRequest())).items == []


async def test_a_deleted_application_stays_known_unlike_one_never_seen(service):
    created = await service.create(ApplicationCreate(name="payments"), ME)
    await service.delete(created.id, ME)

    await service.require_known(created.id)
    await service.require_known(created.id.lower())
    for unknown in ("01ARZ3NDEKTSV4RRFFQ69G5FAV", "nope"):
        with pytest.raises(ApplicationNotFound):
            await service.require_known(unknown)
