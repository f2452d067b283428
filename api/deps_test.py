from types import SimpleNamespace

from api.deps import _applications, _configurations, _health


def test_services_come_from_the_app_state():
    state = SimpleNamespace(applications="apps", configurations="configs", health="health")
    request = SimpleNamespace(app=SimpleNamespace(state=state))
    assert (_applications(request), _configurations(request), _health(request)) == (
        "apps",
        "configs",
        "health",
    )
