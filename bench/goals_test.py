"""Issue 12's goals, judged from rows as the suite makes them: which rows each goal divides,
what a missing figure does, and how bench.watchers' results are read."""

from bench import goals
from bench.goals import Goal, judge, print_goals, watch_figures, write_workers


def row(
    target: str, workers: int | None, connections: int, req_s: float, anchor: float | None = None
) -> dict:
    return {
        "workers": workers,
        "connections": connections,
        "target": target,
        "req_s": req_s,
        "anchor": None if anchor is None else {"name": "anchor", "req_s": anchor},
    }


ROWS = [
    row(goals.FLOOR, 1, 32, 15000.0),
    row(goals.CACHED_GET, 1, 1, 900.0, anchor=1000.0),  # another connection count: not judged
    row(goals.CACHED_GET, 1, 32, 9000.0, anchor=15000.0),
    row(goals.CACHED_GET, 2, 32, 17000.0, anchor=20000.0),
    row(goals.PGBENCH, None, 1, 1000.0),
    row(goals.PUT_ONE, 1, 1, 600.0, anchor=1000.0),
    row(goals.PUT_SPREAD, 1, 16, 1500.0, anchor=3000.0),
    row(goals.PUT_ONE, 2, 1, 100.0, anchor=1000.0),  # 2 workers: the write goals take 1
    row(goals.PUT_SPREAD, 2, 16, 100.0, anchor=3000.0),
]
WATCH = {"watchers": 20000, "p99_ms": 900.0, "kib_per_stream": 30.0}


def test_each_goal_divides_the_figures_it_names():
    judged = {goal.name: goal for goal in judge(ROWS, WATCH)}
    assert list(judged) == [
        "PUT c=1 / pgbench -N c=1 (1 worker)",
        "PUT c=16, 16 configurations / pgbench -N c=16 (1 worker)",
        "PUT c=16 / PUT c=1 (1 worker)",
        "cached GET, 1 worker, c=32 / floor",
        "cached GET c=32: 2 workers / 1 worker",
        "watch: 20,000 streams, p99 ms from the write",
        "watch: 20,000 streams, KiB per stream",
    ]
    figures = [(goal.figure, goal.anchor, goal.ratio, goal.result) for goal in judged.values()]
    assert figures == [
        (600.0, 1000.0, 0.6, "PASS"),
        (1500.0, 3000.0, 0.5, "PASS"),  # a bar is reached when met exactly
        (1500.0, 600.0, 2.5, "FAIL"),
        (9000.0, 15000.0, 0.6, "PASS"),
        (17000.0, 9000.0, 17000.0 / 9000.0, "PASS"),
        (900.0, None, None, "PASS"),
        (30.0, None, None, "FAIL"),
    ]


def test_a_goal_not_measured_is_said_so_never_passed():
    judged = judge([row(goals.CACHED_GET, 1, 32, 8000.0, anchor=15000.0)], None)
    results = {goal.name: goal.result for goal in judged}
    assert results.pop("cached GET, 1 worker, c=32 / floor") == "FAIL"
    assert set(results.values()) == {"not measured"}
    # Writes measured without their pgbench anchor (pgbench missing): their ratio to it is not.
    judged = judge([row(goals.PUT_ONE, 1, 1, 100.0), row(goals.PUT_SPREAD, 1, 16, 400.0)], None)
    assert [goal.result for goal in judged[:3]] == ["not measured", "not measured", "PASS"]


def test_the_watch_bars_are_strict_below_a_second_and_at_most_28_kib():
    assert Goal.judged("p99", 1000.0, None, "< 1000", ratio=False).result == "FAIL"
    assert Goal.judged("kib", 28.0, None, "<= 28", ratio=False).result == "PASS"
    assert Goal.judged("zero anchor", 5.0, 0.0, ">= 1", ratio=True).result == "not measured"


def test_write_goals_are_judged_at_one_worker_else_the_fewest_measured():
    assert write_workers(ROWS) == 1
    assert write_workers([r for r in ROWS if r["workers"] != 1]) == 2
    assert write_workers([r for r in ROWS if r["target"] not in (goals.PUT_ONE, goals.PUT_SPREAD)]) is None
    only_two = judge([r for r in ROWS if r["workers"] != 1], None)
    assert only_two[0].name == "PUT c=1 / pgbench -N c=1 (2 workers)"
    assert (only_two[0].figure, only_two[0].anchor) == (100.0, 1000.0)


def test_the_watchers_row_is_found_wherever_it_is_and_its_figures_by_name():
    row_of_today = {"watchers": 20000, "p99_ms": 800.0, "p99_from_sending_ms": 900.0, "kib_per_watcher": 20.5}
    expected = {"p99_ms": 800.0, "kib_per_stream": 20.5}
    for report in ({"rows": [row_of_today]}, [row_of_today], row_of_today, {"results": [{}, row_of_today]}):
        found = watch_figures(report)
        assert {key: found[key] for key in expected} == expected
        assert found["p99_from_sending_ms"] == 900.0  # the rest of the row is kept
    renamed = {"watchers": 20000, "p99 sent ms": 5.0, "delivery_p99": 700, "KiB/stream": 27}
    assert {key: watch_figures([renamed])[key] for key in expected} == {
        "p99_ms": 700.0,
        "kib_per_stream": 27.0,
    }


def test_fewer_streams_than_asked_for_are_judged_under_their_own_count():
    fewer = {"watchers": 19936, "requested": 20000, "p99_ms": 500.0, "kib_per_watcher": 20.0}
    watch = watch_figures({"rows": [{"watchers": 1000, "requested": 1000}, fewer]})
    assert (watch["watchers"], watch["p99_ms"], watch["kib_per_stream"]) == (19936, 500.0, 20.0)
    assert [goal.name for goal in judge([], watch)[-2:]] == [
        "watch: 19,936 streams, p99 ms from the write",
        "watch: 19,936 streams, KiB per stream",
    ]


def test_no_row_for_the_count_or_no_rows_at_all_is_nothing():
    assert watch_figures({"rows": [{"watchers": 5000, "p99_ms": 1.0}]}) is None
    for report in (None, "text", {"error": "x"}, []):
        assert watch_figures(report) is None
    assert watch_figures([{"watchers": 20000}]) == {"watchers": 20000, "p99_ms": None, "kib_per_stream": None}


def test_the_table_prints_a_line_per_goal(capsys):
    print_goals(judge(ROWS, None))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["goal", "figure", "anchor", "ratio", "bar", "result"]
    assert lines[1].split()[-5:] == ["1000", "0.60", ">=", "0.5", "PASS"]
    assert lines[-1].split()[-7:] == ["-", "-", "-", "<=", "28", "not", "measured"]
    assert len(lines) == 8
