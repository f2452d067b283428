import pytest

from models.applications import ApplicationCreate
from models.audit import AuditContext, AuditFilter
from models.errors import ApplicationNotFound, FlagKeyTaken, FlagNotFound, InvalidChange, PreconditionFailed
from models.flags import FlagCreate, FlagDefinition
from models.paging import PageRequest
from models.preconditions import VersionCondition
from services.applications import ApplicationService
from services.audit import AuditService
from services.cache import RepresentationCache
from services.flags import FlagService
from tests.waiting import wait_until_async

pytestmark = pytest.mark.anyio

ME = AuditContext(actor="tester")
DEFINITION = {
    "variants": {"on": True, "off": False},
    "default_variant": "on",
    "off_variant": "off",
    "enabled": True,
}


@pytest.fixture
async def app_id(database) -> str:
    return (await ApplicationService(database).create(ApplicationCreate(name="payments"), ME)).id


def new(key: str = "beta", **fields) -> FlagCreate:
    return FlagCreate.model_validate(DEFINITION | {"key": key} | fields)


async def test_the_flag_set_is_cached_until_a_write_here_drops_it(database, app_id):
    service = FlagService(database, RepresentationCache())
    await service.create(app_id, new(), ME)

    first = await service.flag_set(app_id)
    assert await service.flag_set(app_id) is first  # from the cache
    await service.update(app_id, "beta", FlagDefinition.model_validate(DEFINITION | {"enabled": False}), ME)
    second = await service.flag_set(app_id)
    assert second is not first
    assert second.etag != first.etag
    assert second.evaluate({})["beta"]["reason"] == "DISABLED"


async def test_a_write_elsewhere_reaches_the_cache_through_the_change_feed(database, app_id, feed):
    cache = RepresentationCache()
    feed.subscribe(cache.apply)
    reader, elsewhere = FlagService(database, cache), FlagService(database)  # another process's
    await elsewhere.create(app_id, new(), ME)
    assert (await reader.evaluate(app_id, {}, None))["beta"]["reason"] == "STATIC"

    await elsewhere.patch(app_id, "beta", {"enabled": False}, ME)
    feed.notify()

    async def killed() -> bool:
        return (await reader.evaluate(app_id, {}, None))["beta"]["reason"] == "DISABLED"

    await wait_until_async(killed)


async def test_refusals(database, app_id):
    service = FlagService(database)
    await service.create(app_id, new(), ME)

    with pytest.raises(FlagKeyTaken):
        await service.create(app_id, new(), ME)
    with pytest.raises(InvalidChange):
        await service.create(app_id, new("other", default_variant="nope"), ME)
    with pytest.raises(InvalidChange):
        await service.patch(app_id, "beta", {"variants": {"on": 1, "off": "x"}}, ME)
    with pytest.raises(PreconditionFailed):
        await service.patch(app_id, "beta", {"enabled": False}, ME, VersionCondition.parse('"9"'))
    with pytest.raises(FlagNotFound):
        await service.patch(app_id, "gamma", {"enabled": False}, ME)
    with pytest.raises(ApplicationNotFound):
        await service.create(app_id, new("x"), AuditContext(actor="restricted", reach=frozenset({"other"})))
    assert [f.version for f in (await service.flag_set(app_id)).flags.values()] == [1]


async def test_deleting_the_application_keeps_its_flags_in_the_event(database, app_id):
    await FlagService(database).create(app_id, new(), ME)
    applications = ApplicationService(database)

    await applications.delete(app_id, ME)

    with pytest.raises(ApplicationNotFound):
        await FlagService(database).flag_set(app_id)
    [event] = (
        await AuditService(database).list(AuditFilter(action="application.deleted"), PageRequest())
    ).items
    assert [flag["key"] for flag in event.before["flags"]] == ["beta"]
    assert event.before["configurations"] == []
