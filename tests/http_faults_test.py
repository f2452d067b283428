"""The fault-injecting proxy, in front of the real service: it forwards faithfully (statuses,
bodies, conditional answers, streams) and fails exactly as often as told."""

from collections.abc import Iterator

import httpx
import pytest

from tests.apps import AUTHORIZED
from tests.http_faults import HttpFaults
from tests.postgres import TestServer
from tests.server import Service, api_client, free_port, service_on_new_database
from tests.sse import EventStream


@pytest.fixture(scope="module")
def service(postgres: TestServer) -> Iterator[Service]:
    with service_on_new_database(postgres) as running:
        yield running


@pytest.fixture
def faults(service: Service) -> Iterator[HttpFaults]:
    with HttpFaults(service.url) as proxy:
        yield proxy


def test_it_forwards_requests_and_answers_as_the_service_does(faults: HttpFaults) -> None:
    with api_client(faults.url) as client:
        created = client.post("/api/v1/applications", json={"name": "forwarded"})
        listed = client.get("/api/v1/applications", params={"name": "forwarded"})
        missing = client.get("/api/v1/applications/01JNOTANAPPLICATION0000000")

    assert created.status_code == 201
    assert [app["id"] for app in listed.json()] == [created.json()["id"]]
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert [(seen.method, seen.outcome, seen.status) for seen in faults.seen] == [
        ("POST", "forwarded", 201),
        ("GET", "forwarded", 200),
        ("GET", "forwarded", 404),
    ]
    assert faults.count(path="/api/v1/applications?name=forwarded") == 1


def test_a_conditional_read_comes_back_a_bodiless_304(faults: HttpFaults) -> None:
    with api_client(faults.url) as client:
        app = client.post("/api/v1/applications", json={"name": "conditional"}).json()
        configuration = client.post(
            "/api/v1/configurations", json={"application_id": app["id"], "name": "db", "config": {"a": 1}}
        ).json()
        path = f"/api/v1/configurations/{configuration['id']}"
        first = client.get(path)
        again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})

    assert first.status_code == 200 and first.json()["config"] == {"a": 1}
    assert again.status_code == 304 and again.content == b""
    assert faults.count(path=path, status=304) == 1
    assert faults.seen[-1].headers["If-None-Match"] == '"1"'


def test_it_drops_exactly_as_many_requests_as_told(faults: HttpFaults) -> None:
    faults.drop_next(2)
    with httpx.Client(base_url=faults.url) as client:
        for _ in range(2):
            with pytest.raises(httpx.RemoteProtocolError):
                client.get("/health")
        answered = client.get("/health")

    assert answered.status_code == 200
    assert [seen.outcome for seen in faults.seen] == ["dropped", "dropped", "forwarded"]


@pytest.mark.parametrize(("status", "retry_after"), [(503, "1"), (429, "7")])
def test_it_answers_refusals_itself_with_retry_after(
    faults: HttpFaults, status: int, retry_after: str
) -> None:
    faults.refuse_next(2, status=status, retry_after=retry_after)
    with api_client(faults.url) as client:
        refused = [client.get("/api/v1/applications") for _ in range(2)]
        answered = client.get("/api/v1/applications")

    assert [response.status_code for response in refused] == [status, status]
    assert {response.headers["Retry-After"] for response in refused} == {retry_after}
    assert refused[0].json()["status"] == status
    assert answered.status_code == 200
    assert faults.count(outcome="refused", status=status) == 2
    assert faults.count(outcome="forwarded") == 1


def test_it_relays_an_event_stream_as_it_comes(faults: HttpFaults, service: Service) -> None:
    with EventStream(f"{faults.url}/api/v1/events") as stream:
        assert stream.status_code == 200
        with service.client() as direct:
            direct.post("/api/v1/applications", json={"name": "streamed"})
        event = stream.next()

    assert (event["action"], event["name"]) == ("application.created", "streamed")


def test_once_closed_nothing_answers_at_its_url(service: Service) -> None:
    faults = HttpFaults(service.url)
    with httpx.Client(base_url=faults.url, headers=AUTHORIZED) as kept_alive:
        assert kept_alive.get("/health").status_code == 200
        faults.close()
        with pytest.raises(httpx.TransportError):
            kept_alive.get("/health")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{faults.url}/health")


def test_it_can_listen_on_a_port_it_is_given(service: Service) -> None:
    port = free_port()
    with HttpFaults(service.url, port=port) as faults:
        assert faults.url == f"http://127.0.0.1:{port}"
        assert httpx.get(f"{faults.url}/health").status_code == 200
