"""Feature flags' three figures (issue 16): one flag evaluated in process, the evaluate endpoint
for 10 flags beside the FastAPI ceiling, and how soon a watching client sees a kill switch.

    pipenv run python -m bench.flags [--seconds 6] [--connections 32] [--toggles 50]

Starts the service (on a fresh embedded database, or DATABASE_URL) when run alone; the suite
calls `measure` with its own. The endpoint and the ceiling are loaded by the same Python load
generator (bench/loadgen.py), one right after the other, so that their ratio compares like
with like; the ceiling returns a constant of the evaluate response's size. Local evaluation is
timed over tests/flag_cases.py's flags (every operator, rollouts) and contexts. The kill
switch: a client's `flags()` follows the change feed while a writer toggles `enabled`; each
delay runs from the PATCH's sending to the moment the client's evaluation changes.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from config_service_client import ConfigClient
from config_service_client.flag_rules import CompiledFlag

from bench import loadgen
from bench.suite import api_key, authorized, ceiling_seconds, service_env
from tests.flag_cases import FLAGS, contexts
from tests.server import service_process

LOCAL_GOAL_US = 20.0
ENDPOINT_GOAL = 0.5  # of the ceiling's requests per second
KILL_SWITCH_GOAL_S = 1.0  # p99
ENDPOINT_FLAGS = 10
# However busy the machine, a client that has not seen a toggle in this long never will.
SEEN_WITHIN_S = 30.0


def local_evaluation_us(evaluations: int = 20_000) -> dict:
    """Microseconds per evaluation of one compiled flag: the mean over every case flag."""
    compiled = [CompiledFlag(body["key"], body) for body in FLAGS]
    sample = contexts(1000, seed=16)
    per_flag = []
    for flag in compiled:
        rounds = max(1, evaluations // len(sample))
        started = time.perf_counter()
        for _ in range(rounds):
            for context in sample:
                flag.evaluate(context)
        per_flag.append((time.perf_counter() - started) / (rounds * len(sample)) * 1e6)
    return {"mean_us": statistics.fmean(per_flag), "slowest_us": max(per_flag), "flags": len(compiled)}


def seeded(url: str, key: str, name: str) -> str:
    """A new application of that name holding the case flags; its id."""
    with httpx.Client(base_url=f"{url}/api/v1", headers=authorized(key), timeout=30) as http:
        created = http.post("/applications", json={"name": name})
        created.raise_for_status()
        application_id = created.json()["id"]
        for body in FLAGS:
            http.post(f"/applications/{application_id}/flags", json=body).raise_for_status()
    return application_id


def endpoint_vs_ceiling(url: str, key: str, application_id: str, connections: int, seconds: int) -> dict:
    path = f"/api/v1/applications/{application_id}/flags/evaluate"
    keys = [body["key"] for body in FLAGS[:ENDPOINT_FLAGS]]
    body = json.dumps({"context": contexts(1, seed=7)[0], "flags": keys}).encode()
    answer = httpx.post(f"{url}{path}", content=body, headers=authorized(key)).json()
    with tempfile.NamedTemporaryFile("w", suffix=".json") as constant:
        constant.write(json.dumps(answer))
        constant.flush()
        env = {"WEB_CONCURRENCY": "1", "CEILING_BODY": constant.name}
        with service_process(env, command=[sys.executable, "-m", "bench.ceiling"]) as ceiling:
            loadgen.run(url, [path], "post", connections, 1, key=key, body=body)  # warm up
            ceiling_figures = loadgen.run(
                ceiling.url, ["/ceiling"], "get", connections, ceiling_seconds(seconds)
            )
            figures = loadgen.run(url, [path], "post", connections, seconds, key=key, body=body)
    return {
        "connections": connections,
        "evaluate_req_s": figures["req_s"],
        "evaluate_p99_ms": figures["p99_ms"],
        "ceiling_req_s": ceiling_figures["req_s"],
        "ratio": figures["req_s"] / ceiling_figures["req_s"] if ceiling_figures["req_s"] else None,
        "unexpected": figures["unexpected"] + figures["socket_errors"],
    }


def kill_switch_delays(url: str, key: str, application: tuple[str, str], toggles: int) -> list[float]:
    """Seconds from each toggle's sending to the watching client's evaluation changing."""
    application_id, name = application
    flag = FLAGS[0]["key"]
    patch_headers = authorized(key) | {"Content-Type": "application/merge-patch+json"}
    delays = []
    with (
        ConfigClient(url, key) as reader,
        reader.flags(name) as flags,
        httpx.Client(base_url=f"{url}/api/v1/applications/{application_id}/flags", timeout=30) as http,
    ):
        for n in range(toggles):
            enabled = n % 2 == 1
            wanted = "DISABLED" if not enabled else None
            sent = time.perf_counter()
            http.patch(
                f"/{flag}", content=json.dumps({"enabled": enabled}), headers=patch_headers
            ).raise_for_status()
            while (flags.evaluate(flag, {}).reason == "DISABLED") != (wanted == "DISABLED"):
                if time.perf_counter() - sent > SEEN_WITHIN_S:
                    raise TimeoutError(f"toggle {n} unseen after {SEEN_WITHIN_S} s")
                time.sleep(0.0005)  # a benchmark's poll, timed: not a test's wait
            delays.append(time.perf_counter() - sent)
    return delays


def measure(url: str, key: str, *, seconds: int, connections: int, toggles: int) -> dict:
    name = f"flags-bench-{time.time_ns()}"
    application_id = seeded(url, key, name)
    delays = sorted(kill_switch_delays(url, key, (application_id, name), toggles))
    return {
        "local": local_evaluation_us(),
        "endpoint": endpoint_vs_ceiling(url, key, application_id, connections, seconds),
        "kill_switch": {
            "toggles": len(delays),
            "p50_ms": delays[len(delays) // 2] * 1000,
            "p99_ms": delays[min(len(delays) - 1, int(len(delays) * 0.99))] * 1000,
        },
    }


def goals_of(figures: dict) -> list[tuple[str, bool]]:
    local, endpoint, kill = figures["local"], figures["endpoint"], figures["kill_switch"]
    return [
        (
            f"local evaluation {local['slowest_us']:.1f} µs per flag (slowest) <= {LOCAL_GOAL_US:g} µs",
            local["slowest_us"] <= LOCAL_GOAL_US,
        ),
        (
            f"evaluate, 10 flags, {endpoint['ratio']:.2f}x the ceiling >= {ENDPOINT_GOAL}x",
            (endpoint["ratio"] or 0) >= ENDPOINT_GOAL,
        ),
        (
            f"kill switch seen p99 {kill['p99_ms']:.0f} ms < {KILL_SWITCH_GOAL_S * 1000:.0f} ms",
            kill["p99_ms"] < KILL_SWITCH_GOAL_S * 1000,
        ),
    ]


def print_figures(figures: dict) -> None:
    local, endpoint, kill = figures["local"], figures["endpoint"], figures["kill_switch"]
    print(
        f"flags: local evaluation {local['mean_us']:.1f} µs mean, {local['slowest_us']:.1f} µs slowest flag"
    )
    print(
        f"flags: evaluate (10 flags) {endpoint['evaluate_req_s']:.0f} req/s at c={endpoint['connections']}, "
        f"ceiling {endpoint['ceiling_req_s']:.0f} req/s: {endpoint['ratio']:.2f}x "
        f"(p99 {endpoint['evaluate_p99_ms']:.1f} ms, {endpoint['unexpected']} unexpected)"
    )
    print(f"flags: kill switch seen after p50 {kill['p50_ms']:.1f} ms, p99 {kill['p99_ms']:.1f} ms")
    for text, met in goals_of(figures):
        print(f"  {'met' if met else 'NOT MET'}: {text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--toggles", type=int, default=50)
    args = parser.parse_args(argv)
    key = api_key()
    with (
        tempfile.TemporaryDirectory() as scratch,
        service_process(service_env(Path(scratch), key)) as service,
    ):
        figures = measure(
            service.url, key, seconds=args.seconds, connections=args.connections, toggles=args.toggles
        )
    print_figures(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
