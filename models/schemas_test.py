import pytest
from pydantic import ValidationError

from models.configurations import Configuration, ConfigurationUpdate
from models.schemas import SchemaBinding, SchemaCreate


def test_the_document_is_written_and_read_as_schema():
    created = SchemaCreate.model_validate({"name": "net", "schema": {"type": "object"}})
    assert created.document == {"type": "object"}
    with pytest.raises(ValidationError):
        SchemaCreate.model_validate({"name": "net", "document": {}})


def test_a_binding_follows_the_latest_unless_a_version_is_pinned():
    assert SchemaBinding.model_validate({"name": "net"}).version is None
    assert SchemaBinding.model_validate({"name": "net", "version": 2}).version == 2
    with pytest.raises(ValidationError):
        SchemaBinding.model_validate({"name": "net", "version": 0})


def test_null_unbinds_and_leaving_it_out_keeps_the_binding():
    assert ConfigurationUpdate.model_validate({"schema": None}).model_dump(exclude_unset=True) == {
        "binding": None
    }
    assert "binding" not in ConfigurationUpdate.model_validate({"config": {}}).model_dump(exclude_unset=True)


def test_a_configuration_row_shows_its_binding_as_schema():
    row = {
        "id": "A",
        "application_id": "B",
        "name": "n",
        "comments": None,
        "config": {},
        "schema_name": "net",
        "schema_version": None,
        "version": 1,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    dumped = Configuration.model_validate(row).model_dump(mode="json")
    assert dumped["schema"] == {"name": "net", "version": None}
    assert Configuration.model_validate(row | {"schema_name": None}).model_dump(mode="json")["schema"] is None
