import pytest
from pydantic import TypeAdapter, ValidationError

from models.ids import ULID_PATTERN, Ulid, new_id, normalize_id


def test_new_ids_are_ulids_in_the_order_they_were_made():
    ids = [new_id() for _ in range(1000)]
    assert all(ULID_PATTERN.fullmatch(i) for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == 1000


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("01ARZ3NDEKTSV4RRFFQ69G5FAV", "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        ("01arz3ndektsv4rrffq69g5fav", "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        ("01ARZ3NDEKTSV4RRFFQ69G5FA", None),  # too short
        ("01ARZ3NDEKTSV4RRFFQ69G5FAVX", None),  # too long
        ("81ARZ3NDEKTSV4RRFFQ69G5FAV", None),  # beyond the largest timestamp
        ("01ARZ3NDEKTSV4RRFFQ69G5FAU", None),  # U is not Crockford base32
        ("01ARZ3NDEKTSV4RRFFQ69G5FA\u0000", None),
        ("", None),
        ("01ARZ3NDEKTſV4RRFFQ69G5FAV", None),  # "ſ".upper() == "S"
        ("01ARZ3NDEKTV4RRFFQ69G5FAß", None),  # "ß".upper() == "SS"
    ],
)
def test_normalize_id(raw, expected):
    assert normalize_id(raw) == expected


def test_ulid_type_validates_and_normalizes():
    adapter = TypeAdapter(Ulid)
    assert adapter.validate_python("01arz3ndektsv4rrffq69g5fav") == "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    for bad in ["nope", 123, None]:
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)
