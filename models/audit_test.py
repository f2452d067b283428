import pytest
from pydantic import ValidationError

from models.audit import AuditContext, AuditEvent


def test_an_unknown_actor_is_anonymous():
    assert AuditContext().actor == "anonymous"


def test_events_only_have_known_actions_and_entity_types():
    event = {
        "id": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "seq": 1,
        "occurred_at": "2026-01-01T00:00:00Z",
        "actor": "a",
        "on_behalf_of": None,
        "action": "configuration.patched",
        "entity_type": "configuration",
        "entity_id": "E",
        "application_id": "A",
        "version": 2,
        "before": {},
        "after": {},
        "note": None,
        "request_id": None,
        "client_ip": None,
        "user_agent": None,
    }
    assert AuditEvent.model_validate(event).action == "configuration.patched"
    key_event = event | {"action": "api_key.revoked", "entity_type": "api_key", "application_id": None}
    assert AuditEvent.model_validate(key_event).application_id is None
    with pytest.raises(ValidationError):
        AuditEvent.model_validate(event | {"action": "configuration.exploded"})
    with pytest.raises(ValidationError):
        AuditEvent.model_validate(event | {"entity_type": "planet"})
