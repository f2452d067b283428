import pytest
from pydantic import ValidationError

from models.revisions import Diff, RollbackRequest


def test_a_rollback_names_a_positive_version_and_may_say_why():
    assert RollbackRequest.model_validate({"version": 2, "comment": "bad deploy"}).comment == "bad deploy"
    for bad in ({"version": 0}, {"version": "two"}, {}, {"version": 1, "comment": "\u0000"}):
        with pytest.raises(ValidationError):
            RollbackRequest.model_validate(bad)


def test_a_diff_is_shown_with_from_and_to():
    diff = Diff(from_version=1, to_version=3, patch=[{"op": "remove", "path": "/a"}])
    assert diff.model_dump(by_alias=True) == {"from": 1, "to": 3, "patch": [{"op": "remove", "path": "/a"}]}


@pytest.mark.parametrize("version", [True, "2", None, [2], 2.5])
def test_a_rollback_names_a_version_by_number(version):
    with pytest.raises(ValidationError):
        RollbackRequest.model_validate({"version": version})


def test_a_whole_number_written_with_a_fraction_is_that_number():
    assert RollbackRequest.model_validate({"version": 2.0}).version == 2
