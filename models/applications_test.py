import pytest
from pydantic import ValidationError

from models.applications import ApplicationCreate, ApplicationUpdate


def test_create_requires_a_name_and_ignores_unknown_fields():
    assert ApplicationCreate.model_validate({"name": "a", "extra": 1}).model_dump() == {
        "name": "a",
        "comments": None,
    }
    with pytest.raises(ValidationError):
        ApplicationCreate.model_validate({})


def test_update_knows_which_fields_were_sent():
    assert ApplicationUpdate.model_validate({}).model_dump(exclude_unset=True) == {}
    assert ApplicationUpdate.model_validate({"comments": None}).model_dump(exclude_unset=True) == {
        "comments": None
    }


def test_update_refuses_a_null_name():
    with pytest.raises(ValidationError, match="name cannot be null"):
        ApplicationUpdate.model_validate({"name": None})
