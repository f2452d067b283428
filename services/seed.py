"""Sample applications and configurations, for a first look at the service.

    python -m services.seed

Idempotent: what already exists (by name) is left as it is. It touches only the sample
applications it made itself: their names begin `sample-`, so they cannot be a user's by
accident, and an application of a sample's name that seed did not make (its creation is not
seed's in the audit log) is skipped, never added to.
"""

import asyncio
import sys
from dataclasses import dataclass, field

from config.settings import SettingsError, load_settings
from database.embedded import resolve_database_url
from database.migrations import apply_migrations
from database.pool import Database, PoolOptions
from models.applications import ApplicationCreate
from models.audit import AuditContext, AuditFilter
from models.configurations import ConfigurationCreate
from models.paging import PageRequest
from services.applications import ApplicationService
from services.audit import AuditService
from services.configurations import ConfigurationService

SAMPLES: dict[str, dict] = {
    "sample-payments": {
        "comments": "Card and wallet payments",
        "configurations": {
            "database": {"host": "payments-db", "port": 5432, "pool": {"min": 2, "max": 20}},
            "feature-flags": {"three_d_secure": True, "wallets": ["apple_pay", "google_pay"]},
        },
    },
    "sample-checkout": {
        "comments": "Basket and order placement",
        "configurations": {
            "rate-limits": {"per_minute": 600, "burst": 50},
            "database": {"host": "checkout-db", "port": 5432, "pool": {"min": 1, "max": 10}},
        },
    },
    "sample-notifications": {
        "comments": None,
        "configurations": {"email": {"provider": "smtp", "from": "noreply@example.com", "retries": 3}},
    },
}


SEEDER = AuditContext(actor="seed")


@dataclass
class SeedReport:
    applications_created: int = 0
    configurations_created: int = 0
    applications_skipped: list[str] = field(default_factory=list)


async def seed(
    applications: ApplicationService, configurations: ConfigurationService, audit: AuditService
) -> SeedReport:
    report = SeedReport()
    for name, sample in SAMPLES.items():
        found = (await applications.list(PageRequest(limit=1), name=name)).items
        if found and not await _made_by_seed(audit, found[0].id):
            report.applications_skipped.append(name)
            continue
        if found:
            app_id = found[0].id
        else:
            app_id = (
                await applications.create(ApplicationCreate(name=name, comments=sample["comments"]), SEEDER)
            ).id
            report.applications_created += 1
        for config_name, config in sample["configurations"].items():
            existing = await configurations.list(
                PageRequest(limit=1), application_id=app_id, name=config_name
            )
            if not existing.items:
                await configurations.create(
                    ConfigurationCreate(application_id=app_id, name=config_name, config=config), SEEDER
                )
                report.configurations_created += 1
    return report


async def _made_by_seed(audit: AuditService, application_id: str) -> bool:
    """Whether seed created the application: the audit log, unlike a name or a comment,
    cannot be changed afterwards."""
    created_by_seed = AuditFilter(entity_id=application_id, action="application.created", actor=SEEDER.actor)
    return bool((await audit.list(created_by_seed, PageRequest(limit=1))).items)


async def seed_database(url: str) -> SeedReport:
    db = Database(url, PoolOptions(min_connections=1, max_connections=2))
    db.open()
    try:
        return await seed(ApplicationService(db), ConfigurationService(db), AuditService(db))
    finally:
        db.close()


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    url = resolve_database_url(settings)
    apply_migrations(url, settings.db_connect_timeout_s)
    report = asyncio.run(seed_database(url))
    print(
        f"seeded: {report.applications_created} applications, "
        f"{report.configurations_created} configurations created"
    )
    for name in report.applications_skipped:
        print(f"skipped {name}: an application of that name exists that seed did not make; left as it is")
    return 0


if __name__ == "__main__":
    sys.exit(main())
