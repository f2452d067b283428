"""The suite's pure parts: reading wrk's report. No load is generated here."""

import pytest

from bench.suite import parse_wrk

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
