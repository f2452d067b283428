"""The fallback load generator against tiny local servers: it counts what goes wrong, keeps
its connections, and always ends on time. Runs are half a second: this is about behaviour,
not speed."""

import multiprocessing
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bench import loadgen
from tests.server import free_port

SECONDS = 0.5
# Starting the worker processes, and reporting: generous, for a busy machine.
OVERHEAD_S = 5


class Handler(socketserver.StreamRequestHandler):
    """Answers each request with 200 and a small body; subclasses misbehave."""

    def handle(self) -> None:
        answered = 0
        try:
            while self.read_request():
                answered += 1
                if not self.answer(answered):
                    return
        except ConnectionError:  # a client cut off at the end of its run
            pass

    def read_request(self) -> bool:
        length = 0
        while (line := self.rfile.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        self.rfile.read(length)
        return line == b"\r\n"

    def answer(self, answered: int) -> bool:
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}")
        return True


class Flaky(Handler):
    """Every third answer on a connection is a status line cut short, then the connection closes."""

    def answer(self, answered: int) -> bool:
        if answered % 3:
            return super().answer(answered)
        self.wfile.write(b"HTTP/1.1\r\n")
        return False


class Silent(Handler):
    """Reads the request, answers nothing."""

    def answer(self, answered: int) -> bool:
        return True


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def serving(handler: type[Handler]) -> Iterator[str]:
    with Server(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            thread.join()


def timed_run(url: str, mode: str = "get", connections: int = 1, **options) -> tuple[dict, float]:
    started = time.monotonic()
    figures = loadgen.run(url, ["/x"], mode, connections, SECONDS, **options)
    return figures, time.monotonic() - started


def test_a_healthy_server_gives_figures_and_no_errors():
    with serving(Handler) as url:
        figures, _ = timed_run(url, "put", connections=2)  # two worker processes on two cores
    assert figures["req_s"] > 0
    assert figures["p50_ms"] <= figures["p99_ms"]
    assert (figures["unexpected"], figures["socket_errors"]) == (0, 0)


def test_broken_connections_are_counted_and_opened_again_and_statuses_checked():
    with serving(Flaky) as url:
        figures, _ = timed_run(url, "not-modified", expect=304)
    completed = round(figures["req_s"] * SECONDS)
    assert figures["socket_errors"] >= 2
    assert completed > 2  # more than the first connection answered before it broke
    assert figures["unexpected"] == completed  # 200 where 304 was expected


def test_a_closed_port_ends_on_time_with_errors():
    figures, took = timed_run(f"http://127.0.0.1:{free_port()}")
    assert (figures["req_s"], figures["p50_ms"], figures["p99_ms"]) == (0, None, None)
    assert figures["socket_errors"] > 0
    assert took < SECONDS + OVERHEAD_S


def test_a_server_that_never_answers_times_out():
    with serving(Silent) as url:
        figures, took = timed_run(url, timeout_s=0.2)
    assert figures["req_s"] == 0
    assert figures["socket_errors"] >= 1  # at 0.2 s and 0.4 s; the run's end at 0.5 s is no error
    assert took < SECONDS + OVERHEAD_S


def test_workers_that_never_report_are_errors_not_a_hang():
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    quitter = context.Process(target=time.sleep, args=(0,))  # exits without a word
    sleeper = context.Process(target=time.sleep, args=(60,), daemon=True)  # still at it when time is up
    for worker in (quitter, sleeper):
        worker.start()
    started = time.monotonic()
    total = loadgen._collect([quitter, sleeper], [3, 2], results, deadline=started + SECONDS)
    assert total.socket_errors == 5
    assert time.monotonic() - started < SECONDS + OVERHEAD_S
    assert not sleeper.is_alive()


def test_each_get_mode_sends_its_header():
    def request(mode: str) -> bytes:
        return loadgen.Plan("h", 1, ["/x"], mode, None, 1, 1).request()

    assert b"Accept-Encoding: gzip\r\n" in request("gzip")
    assert b'If-None-Match: "1"\r\n' in request("not-modified")
    assert request("get") == b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n"


def test_a_key_goes_with_every_request_of_every_mode():
    for mode in ("get", "gzip", "not-modified", "put", "post"):
        request = loadgen.Plan("h", 1, ["/x"], mode, None, 1, 1, key="cs_k").request()
        head = request.split(b"\r\n\r\n", 1)[0]
        assert b"\r\nAuthorization: Bearer cs_k\r\n" in head + b"\r\n", mode


def test_a_post_sends_its_body_every_time():
    plan = loadgen.Plan("h", 1, ["/x"], "post", None, 1, 1, key="cs_k", body=b'{"context": {}}')

    request = plan.request()
    assert request.startswith(b"POST /x HTTP/1.1\r\n")
    assert b"Content-Length: 15\r\n" in request
    assert request.endswith(b'\r\n\r\n{"context": {}}')
    assert plan.request() == request
