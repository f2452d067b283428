import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from models.api_keys import ApiKeyCreate
from models.audit import AuditContext
from models.changes import ChangeEvent
from repositories import api_keys
from services.api_keys import ApiKeyService
from services.keyring import KeyRing

pytestmark = pytest.mark.anyio

ME = AuditContext(actor="tester")


@pytest.fixture
def keys(database) -> ApiKeyService:
    return ApiKeyService(database, default_rate_limit=100)


def revoked(key_id: str) -> ChangeEvent:
    return ChangeEvent(
        seq=1,
        action="api_key.revoked",
        entity_type="api_key",
        entity_id=key_id,
        application_id=None,
        name="ci",
        version=None,
        occurred_at=datetime.now(UTC),
        actor="tester",
    )


async def test_a_key_is_read_once_then_known_in_memory(keys, database):
    created = await keys.create(ApiKeyCreate(name="ci", scopes=["write"], rate_limit_per_second=7), ME)
    ring = KeyRing(database, default_rate_limit=100)
    assert ring.cached(created.key) is None
    principal = await ring.lookup(created.key)
    assert (principal.key_id, principal.name, principal.rate_limit_per_second) == (created.id, "ci", 7)
    assert principal.holds("write") and not principal.holds("admin")
    assert ring.cached(created.key) == principal


async def test_unknown_secrets_find_nothing(database):
    assert await KeyRing(database, 100).lookup("cs_nobody") is None


async def test_a_change_to_a_key_makes_the_ring_forget_it(keys, database):
    created = await keys.create(ApiKeyCreate(name="ci", scopes=["read"]), ME)
    ring = KeyRing(database, 100)
    await ring.lookup(created.key)
    ring.apply(revoked("01JD0000000000000000000000"))  # another key: still known
    assert ring.cached(created.key) is not None
    generation = ring.generation
    await keys.revoke(created.id, ME)
    ring.apply(revoked(created.id))
    assert ring.generation > generation  # what was derived from the ring no longer holds
    assert ring.cached(created.key) is None
    assert await ring.lookup(created.key) is None


async def test_while_suspended_every_lookup_reads_the_database(keys, database):
    created = await keys.create(ApiKeyCreate(name="ci", scopes=["read"]), ME)
    ring = KeyRing(database, 100)
    await ring.lookup(created.key)
    ring.suspend()
    assert ring.cached(created.key) is None
    await database.write(lambda conn: api_keys.delete(conn, created.id))  # unheard of
    assert await ring.lookup(created.key) is None
    ring.resume()


async def test_a_lookup_overtaken_by_a_change_is_not_kept(keys, database):
    created = await keys.create(ApiKeyCreate(name="ci", scopes=["read"]), ME)
    ring = KeyRing(database, 100)
    lookup = asyncio.ensure_future(ring.lookup(created.key))
    await asyncio.sleep(0)  # one step: the lookup is now waiting for the database
    ring.apply(revoked(created.id))  # heard while the lookup is on its way
    assert (await lookup) is not None
    assert ring.cached(created.key) is None


async def test_expiry_and_default_rate_come_from_the_row(keys, database):
    moment = datetime.now(UTC) + timedelta(hours=1)
    created = await keys.create(ApiKeyCreate(name="ci", scopes=["read"], expires_at=moment), ME)
    principal = await KeyRing(database, 42).lookup(created.key)
    assert principal.expires_at == pytest.approx(moment.timestamp())
    assert principal.rate_limit_per_second == 42


async def test_last_use_is_written_once_a_minute(keys, database):
    created = await keys.create(ApiKeyCreate(name="ci", scopes=["read"]), ME)
    ring = KeyRing(database, 100)
    principal = await ring.lookup(created.key)
    ring.used(principal)
    await ring.drain()
    first = (await keys.get(created.id)).last_used_at
    assert first is not None
    ring.used(principal)  # within the minute: no write
    assert not ring._touching
    assert (await keys.get(created.id)).last_used_at == first
