from types import SimpleNamespace

import pytest
from starlette.requests import Request

from api.auth import PRINCIPAL
from api.deps import audit_context, from_state
from models.api_keys import Principal

pytestmark = pytest.mark.anyio


async def test_services_come_from_the_app_state():
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(applications="apps")))
    dependency = from_state("applications").dependency
    assert await dependency(request) == "apps"
    assert dependency.__name__ == "state_applications"


async def test_theaudit_context_says_who_and_from_where():
    """The actor is the key's name; X-Actor names whom it acts for; the reach goes along."""
    deployer = Principal("01JD0000000000000000000000", "deployer", 2, frozenset({"A"}), 10)
    request = Request(
        {
            "type": "http",
            "headers": [(b"x-actor", b"alice"), (b"user-agent", b"cli/1")],
            "client": ("10.0.0.7", 5000),
            PRINCIPAL: deployer,
        }
    )
    context = await audit_context(request)
    assert (context.actor, context.on_behalf_of) == ("deployer", "alice")
    assert (context.client_ip, context.user_agent, context.reach) == ("10.0.0.7", "cli/1", frozenset({"A"}))


async def test_a_request_without_a_principal_reaches_nothing():
    context = await audit_context(Request({"type": "http", "headers": [], "client": None}))
    assert context.reach == frozenset()
