import pytest

from models.applications import ApplicationCreate
from models.audit import AuditContext, AuditFilter
from models.configurations import ConfigurationCreate, ConfigurationUpdate
from models.errors import (
    ApplicationNotFound,
    ConfigurationNameTaken,
    ConfigurationNotFound,
    InvalidChange,
    PreconditionFailed,
    RevisionNotFound,
)
from models.paging import PageRequest
from models.preconditions import VersionCondition
from services.applications import ApplicationService
from services.audit import AuditService
from services.cache import RepresentationCache
from services.configurations import ConfigurationService

pytestmark = pytest.mark.anyio

ME = AuditContext(actor="tester")


@pytest.fixture
def service(database) -> ConfigurationService:
    return ConfigurationService(database)


@pytest.fixture
async def app_id(database) -> str:
    return (await ApplicationService(database).create(ApplicationCreate(name="payments"), ME)).id


def new(app_id: str, name: str = "db", config: dict | None = None) -> ConfigurationCreate:
    return ConfigurationCreate(application_id=app_id, name=name, config=config or {"a": 1})


async def test_create_and_get(service, app_id):
    created = await service.create(new(app_id, config={"x": [1, {"y": None}]}), ME)

    assert created.config == {"x": [1, {"y": None}]}
    assert await service.get(created.id) == created


async def test_create_for_unknown_application_or_taken_name(service, app_id):
    await service.create(new(app_id, "db"), ME)
    with pytest.raises(ConfigurationNameTaken):
        await service.create(new(app_id, "db"), ME)
    with pytest.raises(ApplicationNotFound):
        await service.create(new("01ARZ3NDEKTSV4RRFFQ69G5FAV"), ME)


async def test_list_with_and_without_filters(service, app_id):
    first = await service.create(new(app_id, "db"), ME)
    second = await service.create(new(app_id, "cache"), ME)

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
    created = await service.create(new(app_id, config={"a": 1}), ME)

    updated = await service.update(created.id, ConfigurationUpdate(config={"b": 2}), ME)

    assert (updated.name, updated.config) == ("db", {"b": 2})
    assert updated.updated_at > created.updated_at


async def test_update_or_delete_unknown_is_not_found(service):
    with pytest.raises(ConfigurationNotFound):
        await service.update("01ARZ3NDEKTSV4RRFFQ69G5FAV", ConfigurationUpdate(name="x"), ME)
    with pytest.raises(ConfigurationNotFound):
        await service.delete("nope", ME)


async def test_delete(service, app_id):
    created = await service.create(new(app_id), ME)
    await service.delete(created.id, ME)
    with pytest.raises(ConfigurationNotFound):
        await service.get(created.id)


async def test_patch_merges_and_validates_the_result(service, app_id):
    created = await service.create(new(app_id, config={"a": {"b": 1, "c": 2}}), ME)

    patched = await service.patch(created.id, {"config": {"a": {"c": None}}, "comments": "x"}, ME)

    assert (patched.config, patched.comments, patched.version) == ({"a": {"b": 1}}, "x", 2)
    with pytest.raises(InvalidChange) as raised:
        await service.patch(created.id, {"name": None, "config": None}, ME)
    assert sorted(e["loc"] for e in raised.value.errors) == [("config",), ("name",)]


async def test_rollback_and_history(service, app_id):
    created = await service.create(new(app_id, config={"v": 1}), ME)
    await service.update(created.id, ConfigurationUpdate(config={"v": 2}), ME)

    rolled = await service.rollback(created.id, 1, ME, note="back")

    assert (rolled.version, rolled.config) == (3, {"v": 1})
    page = await service.versions(created.id, PageRequest(limit=2))
    assert [r.version for r in page.items] == [3, 2]
    assert page.next_after == 2
    assert (await service.version(created.id, 3)).note == "back"
    with pytest.raises(RevisionNotFound):
        await service.rollback(created.id, 9, ME)
    with pytest.raises(RevisionNotFound):
        await service.version(created.id, 9)


async def test_diff_between_versions(service, app_id):
    created = await service.create(new(app_id, config={"v": 1, "gone": True}), ME)
    await service.update(created.id, ConfigurationUpdate(config={"v": 2}), ME)

    diff = await service.diff(created.id, 1)

    assert (diff.from_version, diff.to_version) == (1, 2)
    assert sorted(diff.patch, key=lambda op: op["path"]) == [
        {"op": "remove", "path": "/gone"},
        {"op": "replace", "path": "/v", "value": 2},
    ]
    with pytest.raises(ConfigurationNotFound):
        await service.diff("01ARZ3NDEKTSV4RRFFQ69G5FAV", 1)


async def test_writes_check_if_match_under_the_lock(service, app_id):
    created = await service.create(new(app_id), ME)
    stale = VersionCondition.parse('"2"')

    for write in (
        service.update(created.id, ConfigurationUpdate(config={"x": 1}), ME, stale),
        service.patch(created.id, {}, ME, stale),
        service.rollback(created.id, 1, ME, if_match=stale),
        service.delete(created.id, ME, stale),
    ):
        with pytest.raises(PreconditionFailed):
            await write
    assert await service.get(created.id) == created


async def test_each_change_is_audited_with_the_context(service, database, app_id):
    context = AuditContext(actor="alice", request_id="r1", client_ip="10.1.1.1", user_agent="ua")
    created = await service.create(new(app_id), context)
    await service.delete(created.id, context)

    events = (await AuditService(database).list(AuditFilter(entity_id=created.id), PageRequest())).items

    assert [e.action for e in events] == ["configuration.deleted", "configuration.created"]
    assert {(e.actor, e.request_id, e.client_ip, e.user_agent) for e in events} == {
        ("alice", "r1", "10.1.1.1", "ua")
    }
    assert events[0].before == events[1].after == created.model_dump(mode="json")


async def test_a_read_overtaken_by_its_applications_deletion_does_not_fill_the_cache(database, app_id):
    """The read fetches the row, the application is deleted (its configurations with it),
    then the read comes back to fill the cache: it must not, or the deleted configuration
    would be served until evicted."""
    cache = RepresentationCache()
    applications = ApplicationService(database, cache)
    created = await ConfigurationService(database, cache).create(new(app_id), ME)

    class DeletedWhileReading:
        async def read(self, work):
            row = await database.read(work)
            await applications.delete(app_id, ME)
            return row

    reader = ConfigurationService(DeletedWhileReading(), cache)
    assert (await reader.representation(created.id)).application_id == app_id  # what it had read
    with pytest.raises(ConfigurationNotFound):
        await ConfigurationService(database, cache).representation(created.id)
