import pytest

from models.applications import ApplicationCreate
from models.audit import AuditContext
from models.configurations import ConfigurationCreate
from models.paging import PageRequest
from services import seed as seed_module
from services.applications import ApplicationService
from services.audit import AuditService
from services.configurations import ConfigurationService
from services.seed import SAMPLES, SEEDER, seed, seed_database

pytestmark = pytest.mark.anyio

EXPECTED_CONFIGURATIONS = sum(len(sample["configurations"]) for sample in SAMPLES.values())


async def test_seeding_twice_creates_the_samples_once(database_url, database):
    first = await seed_database(database_url)
    second = await seed_database(database_url)

    assert (first.applications_created, first.configurations_created) == (
        len(SAMPLES),
        EXPECTED_CONFIGURATIONS,
    )
    assert (second.applications_created, second.configurations_created) == (0, 0)
    names = [a.name for a in (await ApplicationService(database).list(PageRequest())).items]
    assert names == list(SAMPLES)


async def test_seeding_fills_in_what_is_missing_and_keeps_what_is_there(database):
    applications, configurations = ApplicationService(database), ConfigurationService(database)
    await seed(applications, configurations, AuditService(database))
    payments = (await applications.list(PageRequest(), name="sample-payments")).items[0]
    database_config = (
        await configurations.list(PageRequest(), application_id=payments.id, name="database")
    ).items[0]
    await configurations.delete(payments.configuration_ids[-1], SEEDER)

    report = await seed(applications, configurations, AuditService(database))

    assert (report.applications_created, report.configurations_created) == (0, 1)
    assert await configurations.get(database_config.id) == database_config


def test_every_sample_has_a_name_no_user_would_choose_by_accident():
    assert all(name.startswith("sample-") for name in SAMPLES)


async def test_an_application_of_a_samples_name_that_seed_did_not_make_is_left_alone(database):
    applications, configurations = ApplicationService(database), ConfigurationService(database)
    users = await applications.create(ApplicationCreate(name="sample-payments"), AuditContext(actor="carol"))
    await configurations.create(
        ConfigurationCreate(application_id=users.id, name="database", config={"host": "mine"}),
        AuditContext(actor="carol"),
    )

    report = await seed(applications, configurations, AuditService(database))

    assert report.applications_skipped == ["sample-payments"]
    assert report.applications_created == len(SAMPLES) - 1
    theirs = await configurations.list(PageRequest(), application_id=users.id)
    assert [(c.name, c.config) for c in theirs.items] == [("database", {"host": "mine"})]
    assert (await applications.get(users.id)).version == users.version


async def test_users_applications_are_not_touched(database):
    applications, configurations = ApplicationService(database), ConfigurationService(database)
    users = await applications.create(ApplicationCreate(name="payments"), AuditContext(actor="carol"))

    await seed(applications, configurations, AuditService(database))

    assert (await applications.get(users.id)).configuration_ids == []


def test_command_line_says_what_it_skipped(monkeypatch, capsys, database_url, client):
    assert client.post("/api/v1/applications", json={"name": "sample-checkout"}).status_code == 201
    monkeypatch.setenv("DATABASE_URL", database_url)

    assert seed_module.main() == 0

    out = capsys.readouterr().out
    assert f"seeded: {len(SAMPLES) - 1} applications" in out
    assert "skipped sample-checkout: an application of that name exists that seed did not make" in out


def test_command_line(monkeypatch, capsys, database_url):
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert seed_module.main() == 0
    assert f"seeded: {len(SAMPLES)} applications" in capsys.readouterr().out


def test_command_line_reports_bad_settings(monkeypatch, capsys):
    monkeypatch.setenv("PORT", "-1")
    assert seed_module.main() == 2
    assert "PORT" in capsys.readouterr().err
