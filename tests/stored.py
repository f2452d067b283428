"""What tests of secrets look at in the database: configurations written with a history, and
the tables a text is stored in."""

import psycopg2

from models.audit import AuditContext
from models.ids import new_id
from repositories import configurations

# Every table that holds a configuration's values: the configuration, its revisions, its events.
TABLES = ("configurations", "configuration_revisions", "audit_events")
WRITER = AuditContext("t")


def configuration_with_versions(
    conn, application_id: str, name: str, configs: list[dict], *, configuration_id: str | None = None
) -> str:
    """A configuration with a version for each of `configs` (each with its revision and
    event), written as they are, as the repositories write them; not committed."""
    configuration_id = configuration_id or new_id()
    configurations.insert(
        conn,
        WRITER,
        id=configuration_id,
        event_id=new_id(),
        application_id=application_id,
        name=name,
        comments=None,
        config=configs[0],
    )
    for config in configs[1:]:
        changed = configurations.change(
            conn,
            configuration_id,
            WRITER,
            event_id=new_id(),
            change="updated",
            if_match=None,
            fields={"config": config},
            validated=True,
        )
        assert changed["written"]
    return configuration_id


def tables_holding(database_url: str, text: str) -> list[str]:
    """The TABLES with a row that holds `text` anywhere (in the row's text form)."""
    found = []
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"SELECT count(*) FROM {table} AS t WHERE t::text LIKE %s", (f"%{text}%",))
            if cursor.fetchone()[0]:
                found.append(table)
    conn.close()
    return found
