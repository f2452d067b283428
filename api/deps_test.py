from types import SimpleNamespace

import pytest

from api.deps import _applications, _configurations, _health

pytestmark = pytest.mark.anyio


async def test_services_come_from_the_app_state():
    state = SimpleNamespace(applications="apps", configurations="configs", health="health")
    request = SimpleNamespace(app=SimpleNamespace(state=state))
    assert (await _applications(request), await _configurations(request), await _health(request)) == (
        "apps",
        "configs",
        "health",
    )
