"""The client's two figures: how long a `Settings` load takes from a warm service, and how
long after a write a live holder has the new settings (p50/p99).

    pipenv run python -m bench.settings_load [--loads 300] [--writes 100]

Starts the service (on a fresh embedded database, or DATABASE_URL) and loads a `Settings`
class of two merged configurations through `ConfigServiceSettingsSource`, as a service would
at start-up: warm (names resolved, the client's copies held, so each read is a conditional
GET answered 304), with a `SecretStr` field (read with ?reveal=true), and cold (a new client
each time). Then a live holder follows `--writes` writes, each timed from the write's
response, and from its sending, to the holder's on_change.
"""

import argparse
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from config_service_client import ConfigClient, ConfigServiceSettingsSource, Conflict, reading_through
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bench.suite import api_key, service_env
from tests.server import service_process

APP = "settings-bench"
NAMES = ["defaults", "production"]
# However busy the machine, a live holder that has not seen a write in this long never will.
SEEN_WITHIN_S = 30.0


class Database(BaseModel):
    host: str
    port: int
    pool_size: int = 5


class Plain(BaseSettings):
    database: Database
    features: list[str] = []
    rate: int = 0

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        source = ConfigServiceSettingsSource(settings_cls, application=APP, names=NAMES)
        return init_settings, env_settings, source, dotenv_settings, file_secret_settings


class WithSecret(Plain):
    token: SecretStr = SecretStr("none")


def percentile(values: list[float], percent: int) -> float:
    """The nearest rank: at least `percent` % of the values are at or below it."""
    ordered = sorted(values)
    rank = -(-percent * len(ordered) // 100)  # ceil, in integers: no float rounding up a rank
    return ordered[max(rank, 1) - 1]


def row(label: str, seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {
        "what": label,
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "mean_ms": statistics.fmean(ms),
    }


def timed_loads(client: ConfigClient, settings_cls: type[BaseSettings], loads: int) -> list[float]:
    times = []
    with reading_through(client):
        settings_cls()  # warm: names resolved, copies held, a connection open
        for _ in range(loads):
            started = time.perf_counter()
            settings_cls()
            times.append(time.perf_counter() - started)
    return times


def cold_loads(url: str, key: str, loads: int) -> list[float]:
    times = []
    for _ in range(loads):
        started = time.perf_counter()
        with ConfigClient(url, key) as fresh, reading_through(fresh):
            Plain()
        times.append(time.perf_counter() - started)
    return times


def live_delays(url: str, key: str, writer: ConfigClient, writes: int) -> tuple[list[float], list[float]]:
    """For each write, from its response and from its sending to the holder's on_change."""
    seen: dict[int, float] = {}
    arrived = threading.Condition()

    def on_change(old: Plain, new: Plain) -> None:
        with arrived:
            seen[new.rate] = time.perf_counter()
            arrived.notify_all()

    after_response, after_sending = [], []
    with ConfigClient(url, key) as follower:
        live = follower.live(Plain, APP, NAMES)
        live.on_change(on_change)
        try:
            for rate in range(1, writes + 1):
                sent = time.perf_counter()
                writer.set(APP, "production", {"database": {"port": 6432}, "rate": rate, "token": "t"})
                answered = time.perf_counter()
                with arrived:
                    if not arrived.wait_for(lambda rate=rate: rate in seen, timeout=SEEN_WITHIN_S):
                        raise RuntimeError(
                            f"the live holder did not see write {rate} within {SEEN_WITHIN_S} s"
                        )
                after_response.append(seen[rate] - answered)
                after_sending.append(seen[rate] - sent)
        finally:
            live.stop()
    return after_response, after_sending


def measure(url: str, key: str, loads: int, writes: int) -> list[dict]:
    with ConfigClient(url, key) as writer:
        with contextlib.suppress(Conflict):  # a run before this one, on DATABASE_URL's database
            writer.create_application(APP)
        writer.set(APP, "defaults", {"database": {"host": "db", "port": 5432}, "features": ["a", "b"]})
        writer.set(APP, "production", {"database": {"port": 6432, "pool_size": 20}, "token": "t"})
        rows = [
            row("Settings load, warm (2 conditional GETs, 304)", timed_loads(writer, Plain, loads)),
            row("Settings load with a SecretStr, warm (reveal=true)", timed_loads(writer, WithSecret, loads)),
            row("Settings load, a new client each time", cold_loads(url, key, max(1, loads // 6))),
        ]
        after_response, after_sending = live_delays(url, key, writer, writes)
    rows.append(row("live holder: write answered -> on_change", after_response))
    rows.append(row("live holder: write sent -> on_change", after_sending))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=300)
    parser.add_argument("--writes", type=int, default=100)
    args = parser.parse_args(argv)
    key = api_key()
    with (
        tempfile.TemporaryDirectory() as scratch,
        service_process(service_env(Path(scratch), key)) as service,
    ):
        rows = measure(service.url, key, args.loads, args.writes)
    print(f"{'':<52} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for r in rows:
        print(f"{r['what']:<52} {r['n']:>5} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['mean_ms']:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
