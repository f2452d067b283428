"""The resources as the client reads them: tolerant of members a newer service adds, and
spelled as Python allows ("schema", "from")."""

import pydantic
import pytest

from config_service_client.models import ChangeEvent, Configuration, Diff, Revision

CONFIGURATION = {
    "id": "01JCONFIG",
    "application_id": "01JAPP",
    "name": "database",
    "comments": None,
    "config": {"host": "db", "pool": {"size": 5}},
    "schema": {"name": "database", "version": 2},
    "version": 3,
    "created_at": "2025-01-01T00:00:00Z",
    "updated_at": "2025-01-02T00:00:00Z",
}


def test_a_configuration_reads_its_schema_binding_and_keeps_unknown_members() -> None:
    configuration = Configuration.model_validate(CONFIGURATION | {"owner": "team-a"})

    assert configuration.schema_ is not None
    assert (configuration.schema_.name, configuration.schema_.version) == ("database", 2)
    assert configuration.model_extra == {"owner": "team-a"}
    assert configuration.model_dump(by_alias=True, mode="json")["schema"] == {
        "name": "database",
        "version": 2,
    }


def test_models_are_frozen() -> None:
    configuration = Configuration.model_validate(CONFIGURATION)

    with pytest.raises(pydantic.ValidationError):
        configuration.version = 4  # type: ignore[misc]


def test_a_diff_reads_from_and_to() -> None:
    diff = Diff.model_validate({"from": 1, "to": 3, "patch": [{"op": "replace", "path": "/a", "value": 2}]})

    assert (diff.from_, diff.to) == (1, 3)
    assert diff.patch == [{"op": "replace", "path": "/a", "value": 2}]


def test_a_revision_and_an_event_read_as_the_service_sends_them() -> None:
    revision = Revision.model_validate(
        {
            "configuration_id": "01JCONFIG",
            "version": 2,
            "name": "database",
            "comments": None,
            "config": {},
            "schema": None,
            "created_at": "2025-01-02T00:00:00Z",
            "actor": "admin",
            "change": "rolled_back",
            "rolled_back_from": 1,
            "note": "bad deploy",
        }
    )
    event = ChangeEvent.model_validate_json(
        '{"seq": 7, "action": "configuration.updated", "entity_type": "configuration",'
        ' "entity_id": "01J", "application_id": "01JAPP", "name": "database", "version": 2,'
        ' "occurred_at": "2025-01-02T00:00:00Z", "actor": "admin"}'
    )

    assert (revision.change, revision.rolled_back_from, revision.schema_) == ("rolled_back", 1, None)
    assert (event.seq, event.action, event.name, event.version) == (7, "configuration.updated", "database", 2)
