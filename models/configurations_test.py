import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from models.configurations import ConfigurationCreate, ConfigurationUpdate


def test_create_normalizes_the_application_id():
    created = ConfigurationCreate.model_validate(
        {"application_id": "01arz3ndektsv4rrffq69g5fav", "name": "db", "config": {}}
    )
    assert created.application_id == "01ARZ3NDEKTSV4RRFFQ69G5FAV"


@pytest.mark.parametrize("missing", ["application_id", "name", "config"])
def test_create_requires_its_fields(missing):
    body = {"application_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "name": "db", "config": {}}
    del body[missing]
    with pytest.raises(ValidationError) as raised:
        ConfigurationCreate.model_validate(body)
    assert raised.value.errors()[0]["loc"] == (missing,)


def test_update_keeps_track_of_sent_fields_and_refuses_nulls():
    assert ConfigurationUpdate.model_validate({"comments": None}).model_dump(exclude_unset=True) == {
        "comments": None
    }
    for field in ("name", "config"):
        with pytest.raises(ValidationError, match="Cannot be null; leave it out") as raised:
            ConfigurationUpdate.model_validate({field: None})
        assert raised.value.errors()[0]["loc"] == (field,)


def test_the_schema_of_an_update_allows_null_only_for_the_comments():
    # As the OpenAPI document has it (api/schema_test.py holds it to the code): config refers
    # to a component, which pydantic's own model_json_schema cannot resolve.
    document = json.loads((Path(__file__).parent.parent / "openapi.json").read_text())
    schema = document["components"]["schemas"]["ConfigurationUpdate"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["name"]["type"] == "string"
    assert schema["properties"]["config"]["type"] == "object"
    assert {"type": "null"} in schema["properties"]["comments"]["anyOf"]
    assert "default" not in schema["properties"]["name"]
    assert "default" not in schema["properties"]["config"]
