import logging
import stat

import pytest

from models.api_keys import ApiKeyCreate
from models.audit import AuditContext, AuditFilter
from models.errors import ApiKeyNameTaken, ApiKeyNotFound
from models.paging import PageRequest
from repositories import api_keys
from services.api_keys import ADMIN_KEY_FILE, ApiKeyService, BootstrapFailed, digest, new_secret, shown_prefix
from services.audit import AuditService

pytestmark = pytest.mark.anyio

ME = AuditContext(actor="tester")


@pytest.fixture
def service(database) -> ApiKeyService:
    return ApiKeyService(database, default_rate_limit=100)


def test_secrets_are_256_random_bits_with_a_findable_prefix():
    secret = new_secret()
    assert secret.startswith("cs_") and len(secret) >= 3 + 43
    assert new_secret() != secret
    assert shown_prefix(secret) == secret[:9]
    assert shown_prefix("hunter22-operator-chosen") == ""  # nothing of a chosen secret is shown
    assert len(digest(secret)) == 32


async def test_create_shows_the_secret_once_and_stores_only_its_hash(service, database):
    created = await service.create(ApiKeyCreate(name="ci", scopes=["read"]), ME)
    assert created.key.startswith(created.prefix)
    assert created.rate_limit_per_second == 100  # the default, when none is asked for
    shown = await service.get(created.id)
    assert "key" not in shown.model_dump()
    stored = await database.read(lambda conn: api_keys.by_secret(conn, digest(created.key)))
    assert stored["id"] == created.id
    assert created.key not in repr(stored)


async def test_creating_and_revoking_are_audited_without_the_secret(service, database):
    created = await service.create(ApiKeyCreate(name="ci", scopes=["write"]), ME)
    await service.revoke(created.id, ME)
    events = (await AuditService(database).list(AuditFilter(entity_id=created.id), PageRequest())).items
    assert [e.action for e in events] == ["api_key.revoked", "api_key.created"]
    assert all(e.application_id is None and e.entity_type == "api_key" for e in events)
    assert events[1].after["name"] == "ci" and events[0].before["scopes"] == ["write"]
    assert created.key not in repr(events) and created.key[3:] not in repr(events)


async def test_names_are_unique(service):
    await service.create(ApiKeyCreate(name="ci", scopes=["read"]), ME)
    with pytest.raises(ApiKeyNameTaken):
        await service.create(ApiKeyCreate(name="ci", scopes=["admin"]), ME)


async def test_a_revoked_key_is_gone(service):
    created = await service.create(ApiKeyCreate(name="ci", scopes=["read"]), ME)
    await service.revoke(created.id, ME)
    with pytest.raises(ApiKeyNotFound):
        await service.get(created.id)
    with pytest.raises(ApiKeyNotFound):
        await service.revoke(created.id, ME)
    with pytest.raises(ApiKeyNotFound):
        await service.get("not-a-ulid")


async def test_list_pages_by_id(service):
    for name in ("a", "b", "c"):
        await service.create(ApiKeyCreate(name=name, scopes=["read"]), ME)
    first = await service.list(PageRequest(limit=2))
    assert [k.name for k in first.items] == ["a", "b"] and first.has_more
    assert [k.name for k in (await service.list(PageRequest(), name="c")).items] == ["c"]


async def test_bootstrap_writes_a_private_key_file_and_logs_only_where(service, database, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    await service.bootstrap(None, tmp_path)
    path = tmp_path / ADMIN_KEY_FILE
    secret = path.read_text().strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    row = await database.read(lambda conn: api_keys.by_secret(conn, digest(secret)))
    assert row["name"] == "bootstrap" and row["scopes"] == ["admin"]
    assert str(path) in caplog.text and secret not in caplog.text
    # Keys exist now: a second start makes none.
    path.unlink()
    await service.bootstrap(None, tmp_path)
    assert not path.exists()
    assert await database.read(api_keys.count) == 1


async def test_bootstrap_with_admin_api_key_makes_that_key_work(service, database, tmp_path):
    await service.bootstrap("cs_given-by-the-operator-0123456789", tmp_path)
    row = await database.read(
        lambda conn: api_keys.by_secret(conn, digest("cs_given-by-the-operator-0123456789"))
    )
    assert row["name"] == "bootstrap" and row["scopes"] == ["admin"]
    assert not (tmp_path / ADMIN_KEY_FILE).exists()
    # Set again at the next start, it is kept; a new value is added beside the first.
    await service.bootstrap("cs_given-by-the-operator-0123456789", tmp_path)
    await service.bootstrap("another-operator-secret-9876543210", tmp_path)
    names = [k.name for k in (await service.list(PageRequest())).items]
    assert names == ["bootstrap", "bootstrap-2"]


async def test_a_first_key_that_cannot_be_written_is_not_made(service, database, tmp_path):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    with pytest.raises(BootstrapFailed, match="ADMIN_API_KEY"):
        await service.bootstrap(None, blocked)
    assert await database.read(api_keys.count) == 0  # rolled back: no key nobody knows


async def test_a_revoked_admin_api_key_is_not_made_again_at_the_next_start(
    service, database, tmp_path, caplog
):
    secret = "cs_given-by-the-operator-0123456789"
    await service.bootstrap(secret, tmp_path)
    (key,) = (await service.list(PageRequest())).items
    await service.revoke(key.id, ME)
    caplog.set_level(logging.WARNING)
    await service.bootstrap(secret, tmp_path)  # still in the environment at the next start
    assert await database.read(lambda conn: api_keys.by_secret(conn, digest(secret))) is None
    assert "revoked" in caplog.text and secret not in caplog.text
