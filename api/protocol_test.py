"""End to end, against `python main.py`: stopping with long polls and streams open, clients
too slow to send a request or to read a stream, pipelined requests, and the cap on
connections; and the parts of the protocol that stand in for uvicorn's."""

import asyncio
import os
import re
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import psycopg2
import pytest

from api.protocol import DIRECT_BODY, DirectBody, LightEvent, _Pipeline, chunked
from main import SHUTDOWN_GRACE_S
from tests.apps import ADMIN_KEY, AUTHORIZED
from tests.changes import record_changes
from tests.server import api_client, running_service, scraped, service_process
from tests.waiting import DEADLINE_S, wait_until, wait_until_async

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


def test_pipelined_requests_are_answered_in_order(database_url):
    with running_service({"DATABASE_URL": database_url, "LOG_LEVEL": "warning"}) as url, connect(url) as sock:
        sock.sendall(
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        answer = read_until_closed(sock)
    assert re.findall(rb"HTTP/1.1 (\d+) ", answer) == [b"200", b"404", b"200"]


def write_changes(database_url: str, count: int) -> list[int]:
    """`count` changes, written in one transaction; their seqs."""
    with psycopg2.connect(database_url) as conn:
        record_changes(conn, *["01ARZ3NDEKTSV4RRFFQ69G5FAV"] * count)
        with conn.cursor() as cursor:
            cursor.execute("SELECT seq FROM audit_events ORDER BY seq DESC LIMIT %s", (count,))
            return sorted(seq for (seq,) in cursor.fetchall())


def test_a_burst_of_changes_reaches_a_stream_whole_and_in_order_however_late_it_reads(database_url):
    """Written beneath ASGI, straight to the connection. (A client far enough behind for
    uvicorn to pause writing, which api/sse_test.py plays, takes megabytes of frames here:
    the kernel buffers that much for a connection on loopback.)"""
    env = {"DATABASE_URL": database_url, "LOG_LEVEL": "warning", "SSE_HEARTBEAT_SECONDS": "3600"}
    with running_service(env) as url, connect(url) as sock:
        # Accepting gzip, as most clients do: a stream is never compressed, or the frames
        # written beneath the middleware would not be in the coding its head announced.
        sock.sendall(
            b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n"
            + KEY_HEADER
            + b"\r\n"
        )
        wait_until(lambda: watchers(url, "stream") == 1, what="the stream is open")
        seqs = write_changes(database_url, 500)
        received = b""
        while f"id: {seqs[-1]}\n".encode() not in received:
            chunk = sock.recv(65536)
            assert chunk, "the stream ended"
            received += chunk
    head = received.split(b"\r\n\r\n", 1)[0].lower()
    assert b"transfer-encoding: chunked" in head and b"content-encoding" not in head
    # The changes' frames: an id, then its event (the opening's id has none).
    assert [int(seq) for seq in re.findall(rb"\nid: (\d+)\nevent:", b"\n" + received)] == seqs


def test_a_light_event_is_an_event():
    async def scenario():
        event = LightEvent()
        waiters = [asyncio.ensure_future(event.wait()) for _ in range(3)]
        await wait_until_async(lambda: len(event._waiters or ()) == 3, what="the three wait")
        assert not event.is_set() and not any(waiter.done() for waiter in waiters)
        event.set()
        assert await asyncio.gather(*waiters) == [True, True, True]
        assert await event.wait() is True  # set: at once
        event.clear()
        cancelled = asyncio.ensure_future(event.wait())
        await wait_until_async(lambda: len(event._waiters or ()) == 1, what="it waits")
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        assert event._waiters == []  # a cancelled waiter is not kept
        assert LightEvent(is_set=True).is_set()

    asyncio.run(scenario())


def test_the_pipeline_is_first_in_first_out_as_uvicorn_uses_it():
    pipeline = _Pipeline()
    assert not pipeline
    pipeline.appendleft("first")
    pipeline.appendleft("second")
    assert [pipeline.pop(), pipeline.pop()] == ["first", "second"]


class Cycle:
    def __init__(self, scope: dict) -> None:
        self.scope = scope


class Protocol:
    def __init__(self) -> None:
        self.cycle = None


def test_a_direct_body_is_offered_only_for_the_request_its_connection_answers():
    assert DirectBody.of({"type": "http"}) is None  # another server's scope
    protocol = Protocol()
    scope = {"type": "http", "extensions": {DIRECT_BODY: {"protocol": protocol}}}
    assert DirectBody.of(scope) is None  # no request under way
    protocol.cycle = Cycle({"type": "http"})
    assert DirectBody.of(scope) is None  # another request's (one pipelined after it, say)
    protocol.cycle = Cycle(scope)
    assert DirectBody.of(scope) is not None


def test_a_chunk_is_as_uvicorn_writes_one():
    assert chunked(b"hello, world") == b"c\r\nhello, world\r\n"
