"""The service as users run it: `python main.py` in its own process, over real HTTP."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.apps import ADMIN_KEY, AUTHORIZED, SECRETS_KEY

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api_client(base_url: str = "", **options: Any) -> httpx.Client:
    """An httpx client for a service started here: it sends the suite's admin key (which
    every such service has) with every request, as tests.apps' clients do in-process."""
    return httpx.Client(base_url=base_url, headers=AUTHORIZED, **options)


@dataclass(frozen=True)
class Service:
    url: str
    pid: int

    def client(self, **options: Any) -> httpx.Client:
        return api_client(self.url, **options)


@contextmanager
def running_service(env: dict[str, str], *, timeout_s: float = 60) -> Iterator[str]:
    """Start the service with `env` added to a clean environment; yield its base URL."""
    with service_process(env, timeout_s=timeout_s) as service:
        yield service.url


@contextmanager
def service_on_new_database(postgres: Any, env: dict[str, str] | None = None) -> Iterator["Service"]:
    """The service (service_process) on a database of its own on `postgres` (a
    tests.postgres.TestServer), dropped afterwards: one per test module that needs a real one."""
    name = postgres.new_database()
    try:
        with service_process({"DATABASE_URL": postgres.url(name), **(env or {})}) as running:
            yield running
    finally:
        postgres.drop(name)


@contextmanager
def service_process(
    env: dict[str, str],
    *,
    timeout_s: float = 60,
    command: list[str] | None = None,
    log: Path | None = None,
    port: int | None = None,
) -> Iterator[Service]:
    """Start the service (or `command`, which serves on $PORT) with `env` added to a clean
    environment, on `port` (a restart comes back where its clients look) or a free one. Its
    output goes to `log`, or a temporary file: never an unread pipe, which would stall a busy
    server once full."""
    port = port or free_port()
    ours = {"DATABASE_URL", "PORT", "HOST", "WEB_CONCURRENCY"}
    clean = {name: value for name, value in os.environ.items() if name not in ours}
    with ExitStack() as stack:
        output = stack.enter_context(open(log, "w+") if log else tempfile.TemporaryFile("w+"))  # noqa: SIM115
        process = subprocess.Popen(
            command or [sys.executable, "main.py"],
            cwd=ROOT,
            env=clean
            | {"PORT": str(port), "HOST": "127.0.0.1", "ADMIN_API_KEY": ADMIN_KEY, "SECRETS_KEY": SECRETS_KEY}
            | env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_ready(process, output, base_url, timeout_s)
            yield Service(base_url, process.pid)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def scraped(base_url: str, sample_name: str, **labels: str) -> float:
    """The sum of the service's `sample_name` samples that carry `labels`, from /metrics."""
    text = httpx.get(f"{base_url}/metrics").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == sample_name and labels.items() <= sample.labels.items()
    )


def _wait_until_ready(process: subprocess.Popen, output, base_url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output.seek(0)
            raise RuntimeError(f"the service exited with {process.returncode}:\n{output.read()}")
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"the service did not answer within {timeout_s}s")
