import pytest

from models.errors import ApplicationNotFound
from services.ids import existing_id


def test_a_well_formed_id_is_normalized():
    assert existing_id("01arz3ndektsv4rrffq69g5fav", ApplicationNotFound) == "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def test_an_impossible_id_is_not_found():
    with pytest.raises(ApplicationNotFound, match='"nope" does not exist'):
        existing_id("nope", ApplicationNotFound)
