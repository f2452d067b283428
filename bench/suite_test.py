"""The suite's pure parts: reading wrk's report, comparing with the ceiling, printing a row;
and, in a second's load on a tiny local server, who is sent the key."""

import json
import shutil
from typing import ClassVar

import pytest

from bench.loadgen_test import Handler, serving
from bench.suite import (
    CEILING,
    HEADER,
    LARGE_CONFIG,
    READ_TARGETS,
    TARGETS,
    Load,
    compared,
    parse_wrk,
    print_row,
)

# Reports of wrk with targets.lua, as captured here; into the first, socket errors, wrk's
# own non-2xx count and a slow tail were written, in its format.
ANSWERED = """\
Running 1s test @ http://127.0.0.1:38215
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    67.02us  243.87us   4.58ms   98.88%
    Req/Sec    21.15k    15.41k   44.63k    72.73%
  Latency Distribution
     50%   22.00us
     75%   76.00us
     90%   96.00us
     99%    1.48s
  23051 requests in 1.10s, 1.58MB read
  Socket errors: connect 0, read 3, write 1, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:  20969.75
Transfer/sec:      1.44MB
Unexpected statuses: 23051
"""
NOTHING_ANSWERED = """\
Running 1s test @ http://127.0.0.1:43809
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.00us    0.00us   0.00us    -nan%
    Req/Sec     0.00      0.00     0.00      -nan%
  Latency Distribution
     50%    0.00us
     75%    0.00us
     90%    0.00us
     99%    0.00us
  0 requests in 1.00s, 0.00B read
Requests/sec:      0.00
Transfer/sec:       0.00B
Unexpected statuses: 0
"""


def test_wrks_report_becomes_figures():
    assert parse_wrk(ANSWERED) == {
        "req_s": 20969.75,
        "p50_ms": 0.022,
        "p99_ms": 1480.0,
        # The script's count, not wrk's "Non-2xx or 3xx", which misses a 200 where 304 was due.
        "unexpected": 23051,
        "socket_errors": 6,
    }


def test_a_run_that_completed_nothing_has_no_latencies():
    assert parse_wrk(NOTHING_ANSWERED) == {
        "req_s": 0.0,
        "p50_ms": None,
        "p99_ms": None,
        "unexpected": 0,
        "socket_errors": 0,
    }


def test_a_report_without_the_scripts_count_is_refused():
    with pytest.raises(ValueError, match=r"targets\.lua"):
        parse_wrk(ANSWERED.replace("Unexpected statuses: 23051\n", ""))


def test_ratios_to_the_ceiling_need_figures_on_both_sides():
    ceiling = {"req_s": 2000.0, "p99_ms": 4.0}
    assert compared({"req_s": 1000.0, "p99_ms": 8.0}, ceiling) == {
        "ceiling": ceiling,
        "ratio": 0.5,
        "p99_ratio": 2.0,
    }
    nothing = {"req_s": 0.0, "p99_ms": None}
    assert compared(nothing, ceiling) | {"ceiling": None} == {
        "ceiling": None,
        "ratio": 0.0,
        "p99_ratio": None,
    }
    assert compared(ceiling, nothing) | {"ceiling": None} == {
        "ceiling": None,
        "ratio": None,
        "p99_ratio": None,
    }


def test_a_row_without_latencies_prints(capsys):
    row = {"workers": 1, "connections": 256, "target": "GET /configurations/{id}"}
    row |= parse_wrk(NOTHING_ANSWERED) | {"socket_errors": 5}
    row |= compared(row, parse_wrk(ANSWERED))
    print_row(row)
    line = capsys.readouterr().out.rstrip("\n")
    assert line.split() == ["1", "256", "GET", "/configurations/{id}", "0", "-", "-", "5", "20970", "0.00"]
    assert len(line) == len(HEADER)


def test_the_large_target_reads_about_4_kb_accepting_gzip_and_is_warmed_up():
    rendered = len(json.dumps({"config": LARGE_CONFIG}, separators=(",", ":")))
    assert 3500 < rendered + 250 < 5000  # with the other fields of a configuration
    large = [target for target in TARGETS if target.ids == "large_configurations"]
    assert [target.mode for target in large] == ["gzip"]
    assert large[0] in READ_TARGETS
    assert all(target.mode != "put" for target in READ_TARGETS)


class KeyNoted(Handler):
    """Answers 200, noting each request's Authorization header (None: none)."""

    seen: ClassVar[set[bytes | None]] = set()

    def read_request(self) -> bool:
        authorization, length = None, 0
        while (line := self.rfile.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"authorization":
                authorization = value.strip()
            elif name.lower() == b"content-length":
                length = int(value)
        self.rfile.read(length)
        if line == b"\r\n":
            self.seen.add(authorization)
        return line == b"\r\n"


@pytest.mark.parametrize("tool", ["wrk", "loadgen"])
def test_every_target_is_sent_the_key_and_the_ceiling_none(tool, tmp_path, monkeypatch):
    if tool == "wrk" and shutil.which("wrk") is None:
        pytest.skip("wrk is not installed")
    monkeypatch.setenv("BENCH_API_KEY", "cs_from-the-callers-environment")  # not for the ceiling either
    put = next(target for target in TARGETS if target.mode == "put")
    (tmp_path / f"{put.ids}.txt").write_text("01ARZ3NDEKTSV4RRFFQ69G5FAV\n")
    load = Load(tmp_path, {put.ids: ["01ARZ3NDEKTSV4RRFFQ69G5FAV"]}, "cs_k")
    load.wrk = tool == "wrk"
    seen = {}
    with serving(KeyNoted) as url:
        for target in (put, CEILING):
            monkeypatch.setattr(KeyNoted, "seen", set())
            row = load.target(url, target, 1, 1)
            assert (row["unexpected"], row["socket_errors"]) == (0, 0)
            seen[target.name] = KeyNoted.seen
    assert seen == {put.name: {b"Bearer cs_k"}, CEILING.name: {None}}
