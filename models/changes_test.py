from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from models.changes import ChangeEvent

CHANGE = {
    "seq": 3,
    "action": "configuration.rolled_back",
    "entity_type": "configuration",
    "entity_id": "C",
    "application_id": "A",
    "name": "db",
    "version": 4,
    "occurred_at": datetime(2026, 1, 1, tzinfo=UTC),
    "actor": "alice",
}


def test_a_change_is_small_and_hashable():
    change = ChangeEvent.model_validate(CHANGE)
    assert hash(change) == hash(ChangeEvent.model_validate(CHANGE))
    assert set(change.model_dump()) == set(CHANGE)


def test_a_change_names_a_known_action():
    with pytest.raises(ValidationError):
        ChangeEvent.model_validate(CHANGE | {"action": "configuration.exploded"})
