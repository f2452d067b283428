import pytest
from pydantic import ValidationError

from models.applications import ApplicationCreate, ApplicationUpdate


def test_create_requires_a_name_and_refuses_unknown_fields():
    assert ApplicationCreate.model_validate({"name": "a"}).model_dump() == {"name": "a", "comments": None}
    with pytest.raises(ValidationError):
        ApplicationCreate.model_validate({})
    with pytest.raises(ValidationError) as raised:
        ApplicationCreate.model_validate({"name": "a", "extra": 1})
    assert [(e["type"], e["loc"]) for e in raised.value.errors()] == [("extra_forbidden", ("extra",))]


def test_update_knows_which_fields_were_sent():
    assert ApplicationUpdate.model_validate({}).model_dump(exclude_unset=True) == {}
    assert ApplicationUpdate.model_validate({"comments": None}).model_dump(exclude_unset=True) == {
        "comments": None
    }


def test_update_refuses_a_null_name():
    with pytest.raises(ValidationError, match="Cannot be null; leave it out"):
        ApplicationUpdate.model_validate({"name": None})


def test_the_schema_of_an_update_says_a_name_is_never_null():
    name = ApplicationUpdate.model_json_schema()["properties"]["name"]
    assert (name["type"], name["minLength"], name["maxLength"]) == ("string", 1, 256)
    assert "anyOf" not in name
    assert "default" not in name
