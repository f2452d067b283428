"""Issue 12's goals, judged from one suite run: each a figure, the anchor it is divided by
(measured moments before it, in the same run), the ratio, the bar, PASS or FAIL.

A goal whose figures the run did not measure (a part was skipped, a worker count or a
connection count left out) is listed as not measured, never as passed.
"""

import operator
from dataclasses import asdict, dataclass

# The names the suite gives its rows; the goals find their figures by them.
FLOOR = "bare ASGI floor"
CEILING = "FastAPI ceiling"
CACHED_GET = "GET /configurations/{id}"
PGBENCH = "pgbench -N"
PUT_ONE = "PUT /configurations/{id}"
PUT_SPREAD = "PUT over 16 configurations"

READ_CONNECTIONS = 32
SPREAD_CONNECTIONS = 16
WATCHERS = 20_000

_OPERATORS = {">=": operator.ge, "<": operator.lt, "<=": operator.le}


@dataclass(frozen=True)
class Goal:
    name: str
    figure: float | None
    anchor: float | None  # what the figure is divided by; None: the figure itself is judged
    bar: str  # an operator and a number: ">= 0.5", "< 1000"
    ratio: float | None = None
    result: str = "not measured"  # PASS | FAIL | not measured

    @classmethod
    def judged(
        cls, name: str, figure: float | None, anchor: float | None, bar: str, *, ratio: bool
    ) -> "Goal":
        """`ratio`: the figure over the anchor is judged, else the figure itself."""
        if ratio:
            value = figure / anchor if figure is not None and anchor else None
        else:
            value, anchor = figure, None
        if value is None:
            return cls(name, figure, anchor, bar)
        symbol, threshold = bar.split()
        passed = _OPERATORS[symbol](value, float(threshold))
        return cls(name, figure, anchor, bar, value if ratio else None, "PASS" if passed else "FAIL")


def _find(rows: list[dict], target: str, connections: int, workers: int | None = None) -> dict | None:
    return next(
        (
            row
            for row in rows
            if row["target"] == target
            and row["connections"] == connections
            and (workers is None or row["workers"] == workers)
        ),
        None,
    )


def _req_s(row: dict | None) -> float | None:
    return None if row is None else row["req_s"]


def _anchor_req_s(row: dict | None) -> float | None:
    return None if row is None or row.get("anchor") is None else row["anchor"]["req_s"]


def write_workers(rows: list[dict]) -> int | None:
    """The worker count the write goals are judged at: 1 (the service's default) when
    measured, else the fewest measured."""
    counts = {row["workers"] for row in rows if row["target"] in (PUT_ONE, PUT_SPREAD)}
    return 1 if 1 in counts else min(counts, default=None)


def judge(rows: list[dict], watch: dict | None) -> list[Goal]:
    """The goals from the suite's rows and bench.watchers' row for WATCHERS streams (None:
    not measured)."""
    workers = write_workers(rows)
    on = "" if workers is None else f" ({workers} worker{'s' if workers > 1 else ''})"
    put_one = _find(rows, PUT_ONE, 1, workers)
    put_spread = _find(rows, PUT_SPREAD, SPREAD_CONNECTIONS, workers)
    get_one = _find(rows, CACHED_GET, READ_CONNECTIONS, 1)
    get_two = _find(rows, CACHED_GET, READ_CONNECTIONS, 2)
    watch = watch or {}
    streams = f"{watch.get('watchers', WATCHERS):,} streams"  # fewer where open files ran short
    return [
        Goal.judged(
            f"PUT c=1 / {PGBENCH} c=1{on}", _req_s(put_one), _anchor_req_s(put_one), ">= 0.5", ratio=True
        ),
        Goal.judged(
            f"PUT c=16, 16 configurations / {PGBENCH} c=16{on}",
            _req_s(put_spread),
            _anchor_req_s(put_spread),
            ">= 0.5",
            ratio=True,
        ),
        Goal.judged(f"PUT c=16 / PUT c=1{on}", _req_s(put_spread), _req_s(put_one), ">= 3", ratio=True),
        Goal.judged(
            f"cached GET, 1 worker, c={READ_CONNECTIONS} / floor",
            _req_s(get_one),
            _anchor_req_s(get_one),
            ">= 0.6",
            ratio=True,
        ),
        Goal.judged(
            f"cached GET c={READ_CONNECTIONS}: 2 workers / 1 worker",
            _req_s(get_two),
            _req_s(get_one),
            ">= 1.8",
            ratio=True,
        ),
        # Timed from when the write was sent: an event may beat the write's own response.
        Goal.judged(
            f"watch: {streams}, p99 ms from the write",
            watch.get("p99_from_sending_ms", watch.get("p99_ms")),
            None,
            "< 1000",
            ratio=False,
        ),
        Goal.judged(
            f"watch: {streams}, KiB per stream",
            watch.get("kib_per_stream"),
            None,
            "<= 28",
            ratio=False,
        ),
    ]


def watch_figures(report: object, watchers: int = WATCHERS) -> dict | None:
    """From what `bench.watchers --json` wrote: its row for `watchers` streams (or for fewer,
    when that many were asked for and the limit on open files allowed only those), with the
    two figures the goals judge as p99_ms and kib_per_stream (None where missing). Read
    warily, since that script's format is its own: the rows may be the document, or under a
    key; a figure's key is found by what it names."""
    rows = _rows(report)
    row = next((row for row in rows if row.get("watchers") == watchers), None)
    row = row or next((row for row in rows if row.get("requested") == watchers), None)
    if row is None:
        return None
    return row | {
        "p99_ms": _figure(row, "p99_ms", _names_p99_delay),
        "kib_per_stream": _figure(row, "kib_per_watcher", _names_kib_per_stream),
    }


def _names_p99_delay(key: str) -> bool:
    return "p99" in key and "sen" not in key  # not the p99 counted from sending the write


def _names_kib_per_stream(key: str) -> bool:
    return "kib" in key and ("per" in key or "/" in key)


def _rows(report: object) -> list[dict]:
    if isinstance(report, list):
        return [row for row in report if isinstance(row, dict)]
    if not isinstance(report, dict):
        return []
    if "watchers" in report:
        return [report]
    for value in report.values():
        if isinstance(value, list) and any(isinstance(row, dict) for row in value):
            return _rows(value)
    return []


def _figure(row: dict, key: str, names_it) -> float | None:
    if isinstance(row.get(key), int | float):
        return float(row[key])
    numbers = [name for name, value in row.items() if isinstance(value, int | float)]
    found = next((name for name in numbers if names_it(name.lower())), None)
    return None if found is None else float(row[found])


HEADER = f"{'goal':<58} {'figure':>9} {'anchor':>9} {'ratio':>6}  {'bar':<8} result"


def print_goals(goals: list[Goal]) -> None:
    print(HEADER)
    for goal in goals:
        print(
            f"{goal.name:<58} {_shown(goal.figure, 9, '.0f' if goal.anchor else '.1f')}"
            f" {_shown(goal.anchor, 9, '.0f')} {_shown(goal.ratio, 6, '.2f')}  {goal.bar:<8} {goal.result}",
            flush=True,
        )


def _shown(value: float | None, width: int, spec: str) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}{spec}}"


def as_json(goals: list[Goal]) -> list[dict]:
    return [asdict(goal) for goal in goals]
