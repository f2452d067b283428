from types import SimpleNamespace

import pytest
from starlette.requests import Request

from api.deps import _audit_context, from_state

pytestmark = pytest.mark.anyio


async def test_services_come_from_the_app_state():
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(applications="apps")))
    dependency = from_state("applications").dependency
    assert await dependency(request) == "apps"
    assert dependency.__name__ == "state_applications"


async def test_the_audit_context_says_who_and_from_where():
    request = Request(
        {
            "type": "http",
            "headers": [(b"x-actor", b"alice"), (b"user-agent", b"cli/1")],
            "client": ("10.0.0.7", 5000),
        }
    )
    context = await _audit_context(request)
    assert (context.actor, context.client_ip, context.user_agent) == ("alice", "10.0.0.7", "cli/1")
