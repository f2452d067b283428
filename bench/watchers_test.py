"""The watchers benchmark: its pure helpers, and its machinery end to end against the real
service with a handful of streams. Nothing here measures speed."""

import asyncio
import json
import re
import resource
from pathlib import Path
from typing import ClassVar

import pytest

from bench import watchers
from tests.apps import ADMIN_KEY
from tests.server import service_process


def test_p99_is_the_nearest_rank():
    assert watchers.p99([7.0]) == 7.0
    assert watchers.p99([float(n) for n in range(1, 101)]) == 99.0
    assert watchers.p99([float(n) for n in range(1, 1001)]) == 990.0
    # At least 99% of the samples are at or below it: of 10 or 150, all but none or one.
    assert watchers.p99([float(n) for n in range(1, 11)]) == 10.0
    assert watchers.p99([float(n) for n in range(1, 151)]) == 149.0


def test_a_request_without_a_body_is_a_bare_head():
    assert watchers.http_request("GET", "h:1", "/api/v1/events") == (
        b"GET /api/v1/events HTTP/1.1\r\nHost: h:1\r\n\r\n"
    )


def test_a_request_with_a_body_says_its_type_and_length_in_bytes():
    request = watchers.http_request("PUT", "h:1", "/x", {"comments": "réveil ☀"})
    head, body = request.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    assert lines[0] == b"PUT /x HTTP/1.1"
    assert set(lines[1:]) == {
        b"Host: h:1",
        b"Content-Type: application/json",
        f"Content-Length: {len(body)}".encode(),
    }
    assert json.loads(body) == {"comments": "réveil ☀"}


def test_a_request_with_a_key_carries_it_as_a_bearer_token():
    request = watchers.http_request("PUT", "h:1", "/x", {"n": 1}, key="cs_k")
    head, body = request.split(b"\r\n\r\n", 1)
    assert b"\r\nAuthorization: Bearer cs_k\r\n" in head + b"\r\n"
    assert json.loads(body) == {"n": 1}
    assert watchers.http_request("GET", "h:1", "/x", key="cs_k") == (
        b"GET /x HTTP/1.1\r\nHost: h:1\r\nAuthorization: Bearer cs_k\r\n\r\n"
    )


def test_arguments():
    assert watchers.parse_args([]).watchers == [1000, 5000]
    assert watchers.parse_args([]).json is None
    assert watchers.parse_args(["--watchers", "5", "20"]).watchers == [5, 20]
    assert watchers.parse_args(["--json", "out/w.json"]).json == Path("out/w.json")


def test_as_many_watchers_are_measured_as_the_open_files_limit_lets_each_process_hold():
    spare = watchers.SPARE_FILES
    assert watchers.fitting(20_000, resource.RLIM_INFINITY) == 20_000
    assert watchers.fitting(20_000, 20_000 + spare) == 20_000
    assert watchers.fitting(20_000, 20_000) == 20_000 - spare
    assert watchers.fitting(5, spare) == 1  # something is always measured


def test_the_service_admits_every_watcher_and_the_benchmarks_own_requests(tmp_path):
    env = watchers.service_settings(tmp_path, "cs_k", 20_000)
    assert int(env["MAX_CONNECTIONS"]) == 20_000 + watchers.SPARE_CONNECTIONS
    assert env["ADMIN_API_KEY"] == "cs_k"
    assert env["LOG_LEVEL"] == "warning"


def test_the_rows_are_written_as_json_for_the_suite(tmp_path):
    path = tmp_path / "watchers.json"
    rows = [{"watchers": 5, "requested": 5, "p99_ms": 1.5, "kib_per_watcher": 26.0}]
    watchers.write_json(path, rows)
    assert json.loads(path.read_text()) == {"rows": rows}


@pytest.fixture
def hard_open_files_limit():
    """The hard limit; the soft one as it was is put back afterwards."""
    limits = resource.getrlimit(resource.RLIMIT_NOFILE)
    yield limits[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, limits)


def test_the_soft_open_files_limit_is_raised_to_the_hard_one_and_never_lowered(hard_open_files_limit):
    hard = hard_open_files_limit
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    raised = 256 if hard == resource.RLIM_INFINITY else hard
    assert watchers.raise_open_files_limit() == raised
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (raised, hard)

    assert watchers.raise_open_files_limit() == raised  # already as high as it goes
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (raised, hard)


def test_beyond_the_hard_limit_the_open_files_limit_is_raised_only_where_that_is_allowed(
    hard_open_files_limit,
):
    hard = hard_open_files_limit
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard limit on open files here")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    limit = watchers.raise_open_files_limit(hard + 1)
    # Raised as asked (root may), or to the hard limit as it was: never left lower, never an error.
    assert limit in (hard, hard + 1)
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == limit


class RecordedStream(watchers.Stream):
    """The benchmark's own stream, keeping the bytes on which it took its event's time."""

    opened_streams: ClassVar[list["RecordedStream"]] = []

    def connection_made(self, transport) -> None:
        self.opened_streams.append(self)
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        timed_before = self.first_event_at.done()
        super().data_received(data)
        if self.first_event_at.done() and not timed_before:
            self.timed_on = data


def test_every_watcher_hears_the_write_and_the_figures_add_up(database_url, monkeypatch):
    monkeypatch.setattr(watchers, "Stream", RecordedStream)
    monkeypatch.setattr(RecordedStream, "opened_streams", [])
    env = {"DATABASE_URL": database_url, "LOG_LEVEL": "warning"}
    with service_process(env) as service:
        # measure() waits for every stream's event without a limit: a lost one fails here.
        row = asyncio.run(
            asyncio.wait_for(watchers.measure(service.url, service.pid, watchers=5, key=ADMIN_KEY), 30)
        )

    streams = RecordedStream.opened_streams
    assert len(streams) == row["watchers"] == 5
    for stream in streams:
        events = dict(re.findall(rb"\nevent: (.*)\ndata: (.*)\n", stream.timed_on))
        # The write's event, not the application's creation, which a stream may hear first.
        assert json.loads(events[b"application.updated"])["name"].startswith("bench-5-")
    assert row["write_ms"] > 0
    assert row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]
    # Counted from the sending, no event can come before its write; counted from the
    # response, one can, when the response arrives after the events.
    assert row["p99_from_sending_ms"] > 0
    assert row["p99_from_sending_ms"] == pytest.approx(row["p99_ms"] + row["write_ms"])
    assert row["rss_before_mib"] > 0 and row["rss_after_mib"] > 0
