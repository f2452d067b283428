"""The suite's pure parts: reading wrk's report, comparing with an anchor, printing a row;
in a second's load on a tiny local server, who is sent the key, how put-spread shares the
configurations out, and the order of the write rows; and the database server of a run."""

import json
import os
import shutil
import threading
from collections import Counter
from typing import ClassVar

import psutil
import psycopg2
import pytest

from bench import goals, validators
from bench.loadgen_test import Handler, serving
from bench.suite import (
    CEILING,
    FLOOR,
    HEADER,
    LARGE_CONFIG,
    PUT_BODY,
    READ_TARGETS,
    TARGETS,
    VALIDATION_PAIRS,
    WRITE_TARGETS,
    Load,
    compared,
    database_server,
    measure_validation,
    measure_writes,
    parse_args,
    parse_wrk,
    print_row,
    warm_up,
)
from services.json_schemas import compile_schema, errors_of

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


def test_ratios_to_an_anchor_need_figures_on_both_sides():
    ceiling = {"req_s": 2000.0, "p99_ms": 4.0}
    assert compared({"req_s": 1000.0, "p99_ms": 8.0}, ("ceiling", ceiling)) == {
        "anchor": {"name": "ceiling", "req_s": 2000.0, "p99_ms": 4.0},
        "ratio": 0.5,
        "p99_ratio": 2.0,
    }
    nothing = {"req_s": 0.0, "p99_ms": None}
    assert compared(nothing, ("ceiling", ceiling)) | {"anchor": None} == {
        "anchor": None,
        "ratio": 0.0,
        "p99_ratio": None,
    }
    assert compared(ceiling, ("floor", nothing)) | {"anchor": None} == {
        "anchor": None,
        "ratio": None,
        "p99_ratio": None,
    }
    # An anchor has none of its own.
    assert compared(ceiling, None) == {"anchor": None, "ratio": None, "p99_ratio": None}


def test_a_row_without_latencies_prints(capsys):
    row = {"workers": 1, "connections": 256, "target": "GET /configurations/{id}"}
    row |= parse_wrk(NOTHING_ANSWERED) | {"socket_errors": 5}
    row |= compared(row, ("floor", parse_wrk(ANSWERED)))
    print_row(row)
    line = capsys.readouterr().out.rstrip("\n")
    assert line.split() == [
        "1", "256", "GET", "/configurations/{id}", "0", "-", "-", "5", "floor", "20970", "0.00"
    ]  # fmt: skip
    assert len(line) == len(HEADER)


def test_an_anchors_row_prints_without_workers_or_anchor(capsys):
    row = {"workers": None, "connections": 16, "target": goals.PGBENCH}
    row |= parse_wrk(ANSWERED) | compared(row, None)
    print_row(row)
    line = capsys.readouterr().out.rstrip("\n")
    assert line.split() == ["-", "16", "pgbench", "-N", "20970", "0.02", "1480.00", "23057", "-", "-", "-"]
    assert len(line) == len(HEADER)


def test_the_large_target_reads_about_4_kb_accepting_gzip_and_is_warmed_up():
    rendered = len(json.dumps({"config": LARGE_CONFIG}, separators=(",", ":")))
    assert 3500 < rendered + 250 < 5000  # with the other fields of a configuration
    large = [target for target in TARGETS if target.ids == "large_configurations"]
    assert [target.mode for target in large] == ["gzip"]
    assert large[0] in READ_TARGETS
    assert all(not target.mode.startswith("put") for target in READ_TARGETS)


def test_the_writes_are_one_client_and_16_over_16_configurations():
    assert TARGETS == READ_TARGETS + WRITE_TARGETS
    assert [(target.name, target.mode, target.connections) for target in WRITE_TARGETS] == [
        (goals.PUT_ONE, "put", 1),
        (goals.PUT_SPREAD, "put-spread", 16),
    ]
    assert READ_TARGETS[0].name == goals.CACHED_GET


def test_a_full_run_is_the_default_and_parts_can_be_skipped():
    args = parse_args([])
    assert (args.workers, args.connections, args.seconds) == ([1, 2], [1, 32, 256], 6)
    assert not (args.skip_reads or args.skip_writes or args.skip_validation or args.skip_watchers)
    args = parse_args(["--skip-reads", "--skip-writes", "--skip-watchers", "--seconds", "2"])
    assert (args.skip_reads, args.skip_writes, args.skip_watchers, args.seconds) == (True, True, True, 2)
    assert parse_args(["--skip-validation"]).skip_validation


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
def test_every_target_is_sent_the_key_and_the_anchors_none(tool, tmp_path, monkeypatch):
    if tool == "wrk" and shutil.which("wrk") is None:
        pytest.skip("wrk is not installed")
    monkeypatch.setenv("BENCH_API_KEY", "cs_from-the-callers-environment")  # not for the ceiling either
    put = next(target for target in TARGETS if target.mode == "put")
    (tmp_path / f"{put.ids}.txt").write_text("01ARZ3NDEKTSV4RRFFQ69G5FAV\n")
    load = Load(tmp_path, {put.ids: ["01ARZ3NDEKTSV4RRFFQ69G5FAV"]}, "cs_k")
    load.wrk = tool == "wrk"
    seen = {}
    with serving(KeyNoted) as url:
        for target in (put, CEILING, FLOOR):
            monkeypatch.setattr(KeyNoted, "seen", set())
            row = load.target(url, target, 1, 1)
            assert (row["unexpected"], row["socket_errors"]) == (0, 0)
            seen[target.name] = KeyNoted.seen
    assert seen == {put.name: {b"Bearer cs_k"}, CEILING.name: {None}, FLOOR.name: {None}}


class Configurations(Handler):
    """Answers a PUT /configurations/{id} as the service does, with the id in its body; notes
    each request's id and body, and the most requests it ever had out at once for one id.
    Each waits (briefly, at most) for another to be out, so that requests do overlap."""

    lock = threading.Condition()
    out: ClassVar[Counter] = Counter()
    most_at_once: ClassVar[Counter] = Counter()
    bodies: ClassVar[list[bytes]] = []

    def read_request(self) -> bool:
        request_line = self.rfile.readline()
        length = 0
        while (line := self.rfile.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if line != b"\r\n":
            return False
        self.id = request_line.split()[1].rsplit(b"/", 1)[1]
        self.bodies.append(self.rfile.read(length))
        with self.lock:
            self.out[self.id] += 1
            self.most_at_once[self.id] = max(self.most_at_once[self.id], self.out[self.id])
            self.lock.notify_all()
            self.lock.wait_for(lambda: self.out.total() > 1, timeout=0.2)
        return True

    def answer(self, answered: int) -> bool:
        body = b'{"id":"' + self.id + b'","application_id":"other","version":2}'
        with self.lock:
            self.out[self.id] -= 1
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        return True


def test_spread_writes_never_have_two_requests_out_for_one_configuration(tmp_path, monkeypatch):
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed")
    spread = WRITE_TARGETS[1]
    ids = [f"C{n:02d}" for n in range(8)]
    (tmp_path / f"{spread.ids}.txt").write_text("\n".join(ids) + "\n")
    load = Load(tmp_path, {spread.ids: ids}, "cs_k")
    for name, value in (("out", Counter()), ("most_at_once", Counter()), ("bodies", [])):
        monkeypatch.setattr(Configurations, name, value)
    with serving(Configurations) as url:
        row = load.target(url, spread, 8, 1)  # two wrk threads of four connections, four ids each

    assert (row["unexpected"], row["socket_errors"]) == (0, 0)
    assert set(Configurations.most_at_once) == {i.encode() for i in ids}
    assert set(Configurations.most_at_once.values()) == {1}
    assert len(set(Configurations.bodies)) == len(Configurations.bodies) > len(ids)  # each a new write


def test_each_write_follows_its_pgbench_anchor_and_is_divided_by_it(monkeypatch, capsys):
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed")
    rows, asked = [], []

    def pgbench(clients: int, seconds: int) -> dict:  # figures as pgbench_anchor.run gives them
        asked.append((clients, seconds))
        return {"req_s": 10.0 * clients, "p50_ms": 1.0, "p99_ms": 2.0, "unexpected": 0, "socket_errors": 0}

    load = Load(None, {}, "cs_k")
    monkeypatch.setattr(load, "target", lambda url, target, connections, seconds: pgbench(connections, 0))
    measure_writes(load, "http://service", 1, 1, pgbench, rows)

    assert asked == [(1, 1), (1, 0), (16, 1), (16, 0)]
    assert [(row["workers"], row["connections"], row["target"]) for row in rows] == [
        (None, 1, goals.PGBENCH),
        (1, 1, goals.PUT_ONE),
        (None, 16, goals.PGBENCH),
        (1, 16, goals.PUT_SPREAD),
    ]
    assert [row["anchor"] and row["anchor"]["name"] for row in rows] == [None, "pgbench", None, "pgbench"]
    assert [row["ratio"] for row in rows] == [None, 1.0, None, 1.0]
    assert len(capsys.readouterr().out.splitlines()) == 4  # each printed as it comes
    rows.clear()
    measure_writes(load, "http://service", 1, 1, None, rows)  # without pgbench: no anchors
    assert [(row["target"], row["anchor"]) for row in rows] == [
        (goals.PUT_ONE, None),
        (goals.PUT_SPREAD, None),
    ]


def test_the_validation_targets_are_unbound_then_bound_at_1_and_16_clients():
    assert [
        [(target.name, target.ids, target.mode, target.connections, target.body) for target in pair]
        for pair in VALIDATION_PAIRS
    ] == [
        [
            ("PUT 1 KB, unbound", "unbound_configurations", "put", 1, PUT_BODY),
            ("PUT 1 KB, bound", "bound_configurations", "put", 1, PUT_BODY),
        ],
        [
            ("PUT 1 KB over 16, unbound", "unbound_configurations", "put-spread", 16, PUT_BODY),
            ("PUT 1 KB over 16, bound", "bound_configurations", "put-spread", 16, PUT_BODY),
        ],
    ]
    # The table's column holds them.
    assert max(len(target.name) for pair in VALIDATION_PAIRS for target in pair) <= 28


def test_bound_writes_send_the_1_kb_config_new_each_time_and_passing_the_schema(tmp_path, monkeypatch):
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed")
    bound = VALIDATION_PAIRS[1][1]
    ids = [f"B{n:02d}" for n in range(8)]
    (tmp_path / f"{bound.ids}.txt").write_text("\n".join(ids) + "\n")
    (tmp_path / f"{PUT_BODY}.json").write_text(validators.body_template())
    load = Load(tmp_path, {bound.ids: ids}, "cs_k")
    for name, value in (("out", Counter()), ("most_at_once", Counter()), ("bodies", [])):
        monkeypatch.setattr(Configurations, name, value)
    with serving(Configurations) as url:
        row = load.target(url, bound, 8, 1)

    assert (row["unexpected"], row["socket_errors"]) == (0, 0)
    assert set(Configurations.most_at_once.values()) == {1}
    bodies = Configurations.bodies
    assert len(set(bodies)) == len(bodies) > len(ids)
    schema = compile_schema(validators.SCHEMA)
    configs = [json.loads(body)["config"] for body in bodies]
    assert all(errors_of(schema, config) == [] for config in configs)
    assert {config["release"]["writer"] for config in configs} == {0, 1}  # wrk's two threads
    assert all(len(body) > 1000 for body in bodies)


def test_the_load_generator_cannot_send_a_targets_body():
    load = Load(None, {"bound_configurations": ["x"]}, "cs_k")
    load.wrk = False
    with pytest.raises(ValueError, match="tiny bodies"):
        load.target("http://service", VALIDATION_PAIRS[0][1], 1, 1)


def test_each_bound_write_follows_its_unbound_one_and_is_divided_by_it(monkeypatch, capsys):
    rows, ran = [], []

    def run(url, target, connections, seconds):
        ran.append((target.name, connections, seconds))
        req_s = 100.0 * connections * (0.5 if "unbound" not in target.name else 1)
        return {"req_s": req_s, "p50_ms": 1.0, "p99_ms": 2.0, "unexpected": 0, "socket_errors": 0}

    load = Load(None, {}, "cs_k")
    load.wrk = True
    monkeypatch.setattr(load, "target", run)
    measure_validation(load, "http://service", 1, 3, rows)

    assert ran == [(target.name, target.connections, 3) for pair in VALIDATION_PAIRS for target in pair]
    assert [(row["workers"], row["connections"], row["target"]) for row in rows] == [
        (1, 1, "PUT 1 KB, unbound"),
        (1, 1, "PUT 1 KB, bound"),
        (1, 16, "PUT 1 KB over 16, unbound"),
        (1, 16, "PUT 1 KB over 16, bound"),
    ]
    assert [row["anchor"] and row["anchor"]["name"] for row in rows] == [None, "unbound", None, "unbound"]
    assert [row["ratio"] for row in rows] == [None, 0.5, None, 0.5]
    assert len(capsys.readouterr().out.splitlines()) == 4
    rows.clear()
    load.wrk = False
    measure_validation(load, "http://service", 1, 3, rows)
    assert rows == []
    assert "need wrk" in capsys.readouterr().out


def test_the_runs_server_is_database_urls(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql://somewhere/db")
    with database_server(tmp_path) as url:
        assert url == "postgresql://somewhere/db"
    assert not (tmp_path / "data").exists()


def _is_running(pid: int) -> bool:
    """A zombie has exited: where nothing reaps orphans (a container's first process may
    not), the stopped server stays one."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_else_an_embedded_one_stopped_on_leaving(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with database_server(tmp_path) as url:
        with psycopg2.connect(url) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT 1")
        conn.close()
        postmaster = int((tmp_path / "data" / "postgres" / "postmaster.pid").read_text().split()[0])
        assert _is_running(postmaster)
    assert not _is_running(postmaster)
    assert os.getpid() not in json.loads((tmp_path / "data" / "postgres" / ".handle_pids.json").read_text())


def test_the_warm_up_leaves_out_each_target_once_a_pass_of_it_adds_no_miss(monkeypatch, capsys):
    # The misses each target's runs add, run after run: the configurations take three runs.
    misses = {target.name: [0] for target in READ_TARGETS}
    misses[READ_TARGETS[0].name] = [50, 4, 1, 0]
    misses[READ_TARGETS[1].name] = [7, 0]
    counter, ran = [0.0], []

    def run(url, target, connections, seconds):
        ran.append(target.name)
        counter[0] += misses[target.name].pop(0)

    monkeypatch.setattr("bench.suite.scraped", lambda url, name: counter[0])
    load = Load(None, {}, "cs_k")
    monkeypatch.setattr(load, "target", run)
    warm_up(load, "http://service", 32, 3)

    first, second = READ_TARGETS[0].name, READ_TARGETS[1].name
    assert ran == [target.name for target in READ_TARGETS] + [first, second, first, first]
    assert capsys.readouterr().out == "warm after 4 passes\n"
