"""End to end: the change feed over real HTTP, across processes and a database restart."""

import socket
import threading
import time

import httpx
import pytest

from main import SHUTDOWN_GRACE_S
from tests.apps import ADMIN_KEY, CHANGES_AT_START
from tests.server import api_client, running_service, scraped
from tests.sse import EventStream
from tests.waiting import DEADLINE_S, wait_until

FAST = {"SSE_HEARTBEAT_SECONDS": "0.5", "LOG_LEVEL": "warning"}
KEY_HEADER = f"Authorization: Bearer {ADMIN_KEY}\r\n"  # for requests written by hand


def seq(n: int) -> int:
    """The seq of the test's own n-th change."""
    return CHANGES_AT_START + n


@pytest.fixture
def service(database_url):
    with running_service({"DATABASE_URL": database_url, **FAST}) as url:
        yield url


@pytest.fixture
def http():
    """A client sending the admin key, for every service of the test (URLs name the one)."""
    with api_client() as client:
        yield client


def api(url: str) -> str:
    return f"{url}/api/v1"


def new_configuration(http: httpx.Client, url: str, app_id: str, name: str, config: dict) -> dict:
    body = {"application_id": app_id, "name": name, "config": config}
    return http.post(f"{api(url)}/configurations", json=body).json()


def test_every_kind_of_change_arrives_in_order_with_its_seq(service, http):
    with EventStream(f"{api(service)}/events") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        app = http.post(f"{api(service)}/applications", json={"name": "payments"}).json()
        config = http.post(
            f"{api(service)}/configurations",
            json={"application_id": app["id"], "name": "db", "config": {"n": 1}},
        ).json()
        curl = f"{api(service)}/configurations/{config['id']}"
        http.put(curl, json={"config": {"n": 2}})
        http.patch(
            curl, content=b'{"comments": "x"}', headers={"content-type": "application/merge-patch+json"}
        )
        http.post(f"{curl}/rollback", json={"version": 1}, headers={"X-Actor": "oncall"})
        http.delete(curl)

        events = stream.take(6)

    assert [(e["event"], e["action"], e["version"]) for e in events] == [
        ("application.created", "application.created", 1),
        ("configuration.created", "configuration.created", 1),
        ("configuration.updated", "configuration.updated", 2),
        ("configuration.patched", "configuration.patched", 3),
        ("configuration.rolled_back", "configuration.rolled_back", 4),
        ("configuration.deleted", "configuration.deleted", 4),
    ]
    assert [int(e["id"]) for e in events] == [e["seq"] for e in events] == [seq(n) for n in range(1, 7)]
    # The actor is the key's name; X-Actor is kept beside it, as on_behalf_of, in the audit log.
    assert events[4]["actor"] == "bootstrap"
    assert {e["name"] for e in events[1:]} == {"db"}
    assert {e["application_id"] for e in events} == {app["id"]}
    assert set(events[0]) == {
        "id",
        "event",
        "seq",
        "action",
        "entity_type",
        "entity_id",
        "application_id",
        "name",
        "version",
        "occurred_at",
        "actor",
    }


def test_resuming_replays_exactly_what_was_missed_then_continues_live(service, http):
    for n in range(5):
        http.post(f"{api(service)}/applications", json={"name": f"app-{n}"})

    with EventStream(f"{api(service)}/events", headers={"Last-Event-ID": str(seq(2))}) as stream:
        missed = stream.take(3)
        http.post(f"{api(service)}/applications", json={"name": "live"})
        live = stream.next()
        assert stream.events.empty()

    with EventStream(f"{api(service)}/events?since={seq(4)}") as by_query:
        assert [e["seq"] for e in by_query.take(2)] == [seq(5), seq(6)]

    assert [e["seq"] for e in missed] == [seq(3), seq(4), seq(5)]
    assert [e["name"] for e in missed] == ["app-2", "app-3", "app-4"]
    assert (live["seq"], live["name"]) == (seq(6), "live")


def test_a_stream_for_one_application_carries_only_its_changes(service, http):
    payments = http.post(f"{api(service)}/applications", json={"name": "payments"}).json()
    with EventStream(f"{api(service)}/events?application_id={payments['id']}") as stream:
        http.post(f"{api(service)}/applications", json={"name": "other"})
        http.put(f"{api(service)}/applications/{payments['id']}", json={"comments": "mine"})
        event = stream.next()
        assert stream.events.empty()
    assert (event["action"], event["entity_id"]) == ("application.updated", payments["id"])


def test_a_stream_for_one_application_resumes_across_its_deletion(service, http):
    app_id = http.post(f"{api(service)}/applications", json={"name": "payments"}).json()["id"]
    new_configuration(http, service, app_id, "db", {})
    http.delete(f"{api(service)}/applications/{app_id}")

    headers = {"Last-Event-ID": str(seq(2))}  # it saw the application and its configuration created
    with EventStream(f"{api(service)}/events?application_id={app_id}", headers=headers) as stream:
        assert stream.status_code == 200
        missed = stream.next()

    assert (missed["seq"], missed["action"], missed["entity_id"]) == (seq(3), "application.deleted", app_id)


def test_a_client_cut_off_before_any_change_came_resumes_from_where_its_stream_began(service, http):
    with EventStream(f"{api(service)}/events") as stream:
        assert stream.comments.get(timeout=DEADLINE_S) == "stream open"
        began = stream.last_event_id  # the opening names it, before any change
    assert began == str(seq(0))

    http.post(f"{api(service)}/applications", json={"name": "made-while-away"})  # no stream open
    with EventStream(f"{api(service)}/events", headers={"Last-Event-ID": began}) as resumed:
        missed = resumed.next()
    assert (missed["seq"], missed["name"]) == (seq(1), "made-while-away")


def test_idle_streams_get_heartbeats(service):
    with EventStream(f"{api(service)}/events") as stream:
        assert stream.comments.get(timeout=DEADLINE_S) == "stream open"
        assert stream.comments.get(timeout=DEADLINE_S) == "heartbeat"


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ("?application_id=01ARZ3NDEKTSV4RRFFQ69G5FAV", {}, 404),
        ("?application_id=nope", {}, 400),
        ("?since=-1", {}, 400),
        ("", {"Last-Event-ID": "abc"}, 400),
    ],
)
def test_bad_subscriptions_are_refused(service, query, headers, status, http):
    response = http.get(f"{api(service)}/events{query}", headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


def test_racing_writers_never_skip_or_reorder_a_seq_on_the_feed(service, http):
    app_id = http.post(f"{api(service)}/applications", json={"name": "payments"}).json()["id"]
    config_ids = [new_configuration(http, service, app_id, f"c{n}", {})["id"] for n in range(4)]

    def writer(config_id: str) -> None:
        with api_client() as client:
            for n in range(15):
                client.put(f"{api(service)}/configurations/{config_id}", json={"config": {"n": n}})

    with EventStream(f"{api(service)}/events?since={seq(0)}") as stream:
        threads = [threading.Thread(target=writer, args=(c,)) for c in config_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        events = stream.take(1 + 4 + 4 * 15)

    seqs = [e["seq"] for e in events]
    assert seqs == [seq(n) for n in range(1, len(seqs) + 1)]
    for config_id in config_ids:
        versions = [e["version"] for e in events if e["entity_id"] == config_id]
        assert versions == list(range(1, 17))


def test_a_write_through_one_process_reaches_watchers_of_another(database_url, http):
    env = {"DATABASE_URL": database_url, **FAST}
    with running_service(env) as writer_url, running_service(env) as watcher_url:
        app = http.post(f"{api(writer_url)}/applications", json={"name": "payments"}).json()
        config = http.post(
            f"{api(writer_url)}/configurations",
            json={"application_id": app["id"], "name": "db", "config": {}},
        ).json()
        with EventStream(f"{api(watcher_url)}/events") as stream:
            result = {}
            poll = threading.Thread(
                target=lambda: result.update(
                    response=http.get(
                        f"{api(watcher_url)}/configurations/{config['id']}",
                        params={"wait": 20, "version": 1},
                        timeout=30,
                    )
                )
            )
            poll.start()
            http.put(f"{api(writer_url)}/configurations/{config['id']}", json={"config": {"n": 2}})
            event = stream.next()
            poll.join(DEADLINE_S)

    assert (event["action"], event["version"]) == ("configuration.updated", 2)
    assert result["response"].status_code == 200
    assert result["response"].json()["config"] == {"n": 2}


def test_a_watcher_still_hears_the_next_change_after_the_database_restarts(
    database_url, stoppable_postgres, http
):
    with running_service({"DATABASE_URL": database_url, **FAST}) as url:
        app_id = http.post(f"{api(url)}/applications", json={"name": "payments"}).json()["id"]
        with EventStream(f"{api(url)}/events") as stream:
            stoppable_postgres.stop()
            stoppable_postgres.start_again()

            def written_after_the_restart() -> bool:  # once the service's pool has reconnected
                comments = {"comments": "after restart"}
                return http.put(f"{api(url)}/applications/{app_id}", json=comments).status_code == 200

            wait_until(written_after_the_restart)
            event = stream.next(timeout=DEADLINE_S)
    assert (event["action"], event["version"]) == ("application.updated", 2)


def open_watchers(url: str, kind: str) -> float:
    return scraped(url, "configsvc_open_watchers", kind=kind)


def wait_for_open(url: str, kind: str, count: float, timeout_s: float = DEADLINE_S) -> None:
    wait_until(
        lambda: open_watchers(url, kind) == count, timeout_s=timeout_s, what=f"{count:g} open ({kind})"
    )


def raw_get(url: str, path: str) -> socket.socket:
    """A request on a socket of the test's own, so that closing it really disconnects (an
    httpx stream read on another thread keeps its connection open until the read ends)."""
    host, port = url.removeprefix("http://").split(":")
    client = socket.create_connection((host, int(port)))
    client.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{KEY_HEADER}\r\n".encode())
    return client


def test_long_polls_end_when_their_clients_leave(service, http):
    app_id = http.post(f"{api(service)}/applications", json={"name": "payments"}).json()["id"]
    config_id = new_configuration(http, service, app_id, "db", {})["id"]
    path = f"/api/v1/configurations/{config_id}?wait=30&version=1"
    clients = [raw_get(service, path) for _ in range(10)]
    wait_for_open(service, "long_poll", 10)

    for client in clients:
        client.close()

    wait_for_open(service, "long_poll", 0, timeout_s=15)  # well before the 27-30 s they would wait


def test_a_filtered_stream_ends_when_its_client_leaves_while_others_change(database_url, http):
    env = {"DATABASE_URL": database_url, "SSE_HEARTBEAT_SECONDS": "60", "LOG_LEVEL": "warning"}
    with running_service(env) as url:
        mine, other = (
            http.post(f"{api(url)}/applications", json={"name": name}).json()["id"]
            for name in ("payments", "other")
        )
        stream = raw_get(url, f"/api/v1/events?application_id={mine}")
        wait_for_open(url, "stream", 1)
        stream.close()

        def ended_while_others_change() -> bool:  # long before its first heartbeat, due in 60 s
            http.put(f"{api(url)}/applications/{other}", json={"comments": str(time.monotonic())})
            return open_watchers(url, "stream") == 0

        wait_until(ended_while_others_change)


def test_open_streams_do_not_hold_up_shutdown(database_url):
    with running_service({"DATABASE_URL": database_url, **FAST}) as url:
        stream = EventStream(f"{api(url)}/events")
        started = time.monotonic()
    stopped_in = time.monotonic() - started
    stream.close()
    assert stopped_in < SHUTDOWN_GRACE_S + 5
