import pytest

from api.hosts import allowed_host_names, host_name
from config.settings import SettingsError, load_settings
from main import create_app
from tests.apps import settings_for, sync_client


def names(**values: object) -> frozenset[bytes] | None:
    return allowed_host_names(load_settings(_env_file=None, **values))


def test_by_default_the_local_names_and_the_bound_address():
    assert names() == {b"localhost", b"127.0.0.1", b"[::1]"}
    assert names(host="0.0.0.0") == {b"localhost", b"127.0.0.1", b"[::1]", b"0.0.0.0"}
    assert names(host="::") == {b"localhost", b"127.0.0.1", b"[::1]", b"[::]"}


def test_allowed_hosts_adds_names_and_a_star_allows_any():
    assert names(allowed_hosts=" Config.Example.com, api ,") >= {b"config.example.com", b"api", b"localhost"}
    assert names(allowed_hosts="api,*") is None


@pytest.mark.parametrize("bad", ["http://config.example.com", "café.example"])
def test_allowed_hosts_are_plain_names(bad):
    with pytest.raises(SettingsError, match="invalid setting ALLOWED_HOSTS"):
        load_settings(_env_file=None, allowed_hosts=bad)


@pytest.mark.parametrize(
    ("header", "name"),
    [
        (b"localhost:8000", b"localhost"),
        (b"LocalHost", b"localhost"),
        (b"[::1]:8000", b"[::1]"),
        (b"[::1]", b"[::1]"),
        (b"127.0.0.1:", b"127.0.0.1"),  # an empty port is allowed (RFC 3986)
        (b"[::1]:", b"[::1]"),
        (b"evil.example:80", b"evil.example"),
    ],
)
def test_the_name_in_a_host_header(header, name):
    assert host_name(header) == name


@pytest.fixture
def local_client(database_url):
    settings = settings_for(database_url, allowed_hosts="")  # the default, as a user has it
    with sync_client(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1", "[::1]:9999", "LOCALHOST"])
def test_local_names_are_served(local_client, host):
    assert local_client.get("/health", headers={"Host": host}).status_code == 200


def test_another_host_is_refused_with_a_problem_naming_the_setting(local_client):
    for path in ("/health", "/api/v1/configurations/01ARZ3NDEKTSV4RRFFQ69G5FAV"):  # the fast read path too
        response = local_client.get(path, headers={"Host": "rebound.example:8000"})

        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["x-request-id"]
        assert response.json() == {
            "type": "urn:config-service:problem:host-not-allowed",
            "title": "Bad Request",
            "status": 400,
            "detail": "The host 'rebound.example:8000' is not allowed: "
            "the ALLOWED_HOSTS setting lists the hosts this service answers to",
        }


def test_a_star_lets_any_host_through(database_url):
    with sync_client(create_app(settings_for(database_url, allowed_hosts="*"))) as client:
        assert client.get("/health", headers={"Host": "anything.example"}).status_code == 200
