"""End to end, against `python main.py`: stopping with long polls and streams open, clients
too slow to send a request, and the cap on connections."""

import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from main import SHUTDOWN_GRACE_S
from tests.apps import ADMIN_KEY, AUTHORIZED
from tests.server import api_client, running_service, scraped, service_process
from tests.waiting import DEADLINE_S, wait_until

READ_TIMEOUT_S = 1
KEY_HEADER = f"Authorization: Bearer {ADMIN_KEY}\r\n".encode()  # for requests written by hand


def watchers(url: str, kind: str) -> float:
    return scraped(url, "configsvc_open_watchers", kind=kind)


def read_stream(url: str) -> str:
    """'ended' when the stream ends as HTTP says a response ends, else what went wrong."""
    try:
        with httpx.stream("GET", url, headers=AUTHORIZED, timeout=DEADLINE_S) as response:
            for _ in response.iter_bytes():
                pass
        return "ended"
    except httpx.HTTPError as error:
        return repr(error)


def exit_code(pid: int) -> int:
    def exited() -> tuple[int] | None:
        done, status = os.waitpid(pid, os.WNOHANG)
        return (os.waitstatus_to_exitcode(status),) if done else None

    return wait_until(exited, what="the service exits")[0]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_answers_long_polls_ends_streams_and_exits_at_once(database_url, tmp_path, signum):
    log = tmp_path / "service.log"
    with (
        service_process({"DATABASE_URL": database_url}, log=log) as service,
        service.client(timeout=DEADLINE_S) as client,
        ThreadPoolExecutor(2) as pool,
    ):
        url = service.url
        app = client.post("/api/v1/applications", json={"name": "payments"}).json()
        created = client.post(
            "/api/v1/configurations", json={"application_id": app["id"], "name": "db", "config": {}}
        ).json()
        poll = pool.submit(client.get, f"/api/v1/configurations/{created['id']}?wait=60")
        stream = pool.submit(read_stream, f"{url}/api/v1/events")
        wait_until(lambda: watchers(url, "long_poll") == watchers(url, "stream") == 1, what="both wait")

        started = time.monotonic()
        os.kill(service.pid, signum)
        code = exit_code(service.pid)
        took = time.monotonic() - started
        polled, streamed = poll.result(DEADLINE_S), stream.result(DEADLINE_S)
    output = log.read_text()

    assert (polled.status_code, polled.headers["etag"], streamed, code) == (304, '"1"', "ended", 0)
    assert took < SHUTDOWN_GRACE_S  # not cut when the grace ran out: there was nothing to wait for
    assert "Application shutdown complete" in output
    assert "ERROR" not in output and "Traceback" not in output, output


@pytest.fixture(scope="module")
def impatient_service(postgres):
    name = postgres.new_database()
    try:
        env = {"DATABASE_URL": postgres.url(name), "REQUEST_READ_TIMEOUT_S": str(READ_TIMEOUT_S)}
        with running_service(env) as url:
            yield url
    finally:
        postgres.drop(name)


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=DEADLINE_S)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """All the server sends until it closes the connection; a timeout if it never does."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_a_head_that_stalls_is_answered_408_and_the_connection_closed(impatient_service):
    with connect(impatient_service) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n")
        answer = read_until_closed(sock)
    took = time.monotonic() - started

    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"connection: close" in answer and b"application/problem+json" in answer
    assert b'"detail": "The request did not arrive within 1 s"' in answer
    assert took >= READ_TIMEOUT_S - 0.1


def test_a_body_that_stalls_is_answered_408_and_the_connection_closed(impatient_service):
    with connect(impatient_service) as sock:
        sock.sendall(
            b"POST /api/v1/applications HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + KEY_HEADER
            + b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":'
        )
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")
    # Nothing was created from the part that came.
    with api_client(impatient_service) as client:
        assert client.get("/api/v1/applications").json() == []


def test_a_body_nobody_reads_holds_the_connection_no_longer_than_the_deadline(impatient_service):
    """/health reads no body: it answers at once, and the rest of the request still trickles in."""
    received = b""
    with connect(impatient_service) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n")
        sock.settimeout(0.2)  # between one byte and the next, as a slow client sends them
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            try:
                sock.sendall(b"x")
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:  # reset: closed while a byte was on its way
                break
            if not chunk:
                break
            received += chunk
        else:
            pytest.fail(f"the connection was still open after {DEADLINE_S} s")
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"408" not in received  # the request was answered: a second answer would confuse


def test_a_connection_that_sends_nothing_is_closed(impatient_service):
    with connect(impatient_service) as sock:
        assert read_until_closed(sock) == b""


def test_a_request_in_pieces_within_the_deadline_is_served_and_waits_are_not_cut(impatient_service):
    url = impatient_service
    with api_client(url) as client:
        app = client.post("/api/v1/applications", json={"name": "slow-but-sure"}).json()
        created = client.post(
            "/api/v1/configurations", json={"application_id": app["id"], "name": "db", "config": {}}
        ).json()
    with connect(url) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        sock.sendall(b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert read_until_closed(sock).startswith(b"HTTP/1.1 200 ")
    with connect(url) as sock:  # a long poll outlasting the read deadline: its request is in
        sock.sendall(f"GET /api/v1/configurations/{created['id']}".encode())
        sock.sendall(b"?wait=2 HTTP/1.1\r\nHost: 127.0.0.1\r\n" + KEY_HEADER + b"Connection: close\r\n\r\n")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 304 Not Modified\r\n")


def test_beyond_max_connections_requests_are_refused_with_503(database_url):
    with running_service({"DATABASE_URL": database_url, "MAX_CONNECTIONS": "2"}) as url:
        streams = [api_client(timeout=DEADLINE_S) for _ in range(2)]
        try:
            opened = [c.send(c.build_request("GET", f"{url}/api/v1/events"), stream=True) for c in streams]
            assert [response.status_code for response in opened] == [200, 200]

            assert httpx.get(f"{url}/health").status_code == 503

            opened[0].close()
            streams[0].close()
            wait_until(lambda: httpx.get(f"{url}/health").status_code == 200, what="a connection is free")
        finally:
            for client in streams:
                client.close()
