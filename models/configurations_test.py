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
        with pytest.raises(ValidationError, match=f"{field} cannot be null"):
            ConfigurationUpdate.model_validate({field: None})
