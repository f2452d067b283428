import pytest

from models.paging import PageRequest
from services import seed as seed_module
from services.applications import ApplicationService
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
    await seed(applications, configurations)
    payments = (await applications.list(PageRequest(), name="payments")).items[0]
    database_config = (
        await configurations.list(PageRequest(), application_id=payments.id, name="database")
    ).items[0]
    await configurations.delete(payments.configuration_ids[-1], SEEDER)

    report = await seed(applications, configurations)

    assert (report.applications_created, report.configurations_created) == (0, 1)
    assert await configurations.get(database_config.id) == database_config


def test_command_line(monkeypatch, capsys, database_url):
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert seed_module.main() == 0
    assert f"seeded: {len(SAMPLES)} applications" in capsys.readouterr().out


def test_command_line_reports_bad_settings(monkeypatch, capsys):
    monkeypatch.setenv("PORT", "-1")
    assert seed_module.main() == 2
    assert "PORT" in capsys.readouterr().err
