"""The server and the client's in-process evaluation give the same answers: 10,000 random
contexts over tests/flag_cases.py's flags, which between them use every operator, rollouts by
several attributes, a disabled flag and one without rules. One difference fails the test.

Against the real service (`python main.py`): the contexts go over HTTP as JSON, as a client's
do, and the client's flags are read from the service and kept by `client.flags()`.
"""

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from config_service_client import ConfigClient

from tests.apps import ADMIN_KEY
from tests.flag_cases import FLAGS, contexts
from tests.postgres import TestServer
from tests.server import Service, service_on_new_database

CONTEXTS = 10_000
# Requests in flight at once: enough to keep both of the machine's cores busy.
CONCURRENCY = 8


@pytest.fixture(scope="module")
def service(postgres: TestServer) -> Iterator[Service]:
    env = {"ADMIN_API_KEY": ADMIN_KEY, "RATE_LIMIT_PER_SECOND": "1000000"}
    with service_on_new_database(postgres, env) as running:
        yield running


def served(url: str, application_id: str, sample: list[dict]) -> list[dict]:
    """The evaluate endpoint's answer for each context, in order."""
    path = f"/api/v1/applications/{application_id}/flags/evaluate"

    async def all_of_them() -> list[dict]:
        limits = asyncio.Semaphore(CONCURRENCY)
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:

            async def one(context: dict) -> dict:
                async with limits:
                    response = await http.post(path, json={"context": context})
                    response.raise_for_status()
                    return response.json()["flags"]

            return await asyncio.gather(*(one(context) for context in sample))

    return asyncio.run(all_of_them())


def test_the_server_and_the_client_agree_on_10000_contexts(service):
    with ConfigClient(service.url, ADMIN_KEY) as client:
        application_id = client.create_application("parity").id
        for body in FLAGS:
            client_response = httpx.post(
                f"{service.url}/api/v1/applications/{application_id}/flags",
                json=body,
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
            assert client_response.status_code == 201, client_response.text
        sample = contexts(CONTEXTS, seed=16)
        answers = served(service.url, application_id, sample)
        reasons: Counter[str] = Counter()
        with client.flags("parity") as flags:
            assert sorted(flags.keys()) == sorted(body["key"] for body in FLAGS)
            for context, answer in zip(sample, answers, strict=True):
                for key, remote in answer.items():
                    local = flags.evaluate(key, context)
                    mine = {"value": local.value, "variant": local.variant, "reason": local.reason}
                    theirs = {name: remote[name] for name in ("value", "variant", "reason")}
                    assert mine == theirs, f"{key} differs for {context}"
                    # Equal as values, and of one JSON type: 1 == 1.0 == True in Python.
                    assert type(mine["value"]) is type(theirs["value"]), f"{key} for {context}"
                    reasons[remote["reason"]] += 1
    assert sum(reasons.values()) == CONTEXTS * len(FLAGS)
    # Not vacuous: every way to an answer was taken, many times.
    assert {"STATIC", "TARGETING_MATCH", "SPLIT", "DEFAULT", "DISABLED"} <= {
        r for r, n in reasons.items() if n > 50
    }
