"""A configuration's numbers come back as they were given, through every route that shows them.

Responses are read with every number as a Decimal, so that a float on the way (a rounded
`1.2345678901234568e+24`, a `0.0` for `1e-400`) cannot go unnoticed. PostgreSQL writes
numbers in its own form (`1e-400` as `0.000…0001`): they are compared as numbers.
"""

import json
from decimal import Decimal

import pytest

from tests.fixtures import CONFIGURATIONS, create_application

LONG = "1234567890123456789012345.67890123456789"
TINY = "1e-400"
HUGE = "1e999"
LONG_INTEGER = "7" * 5000  # beyond Python's int conversion limit (4300 digits)


@pytest.fixture
def application(client):
    return create_application(client)


def exactly(text: str):
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def post_raw(client, application, config: str):
    body = f'{{"application_id": "{application["id"]}", "name": "exact", "config": {config}}}'
    return client.post(CONFIGURATIONS, content=body, headers={"content-type": "application/json"})


def create(client, application, config: str) -> dict:
    response = post_raw(client, application, config)
    assert response.status_code == 201, response.text
    return exactly(response.text)


def send(client, method: str, url: str, body: str, media_type: str = "application/json"):
    response = client.request(method, url, content=body, headers={"content-type": media_type})
    assert response.status_code == 200, response.text
    return exactly(response.text)


def test_numbers_come_back_exactly_from_the_write_and_every_read(client, application):
    created = create(client, application, f'{{"n": {LONG}, "m": {TINY}, "deep": [{{"x": {HUGE}}}]}}')
    url = f"{CONFIGURATIONS}/{created['id']}"

    wanted = {"n": Decimal(LONG), "m": Decimal(TINY), "deep": [{"x": Decimal(HUGE)}]}
    assert created["config"] == wanted
    from_the_route = client.get(url)  # a miss: the route renders it and fills the cache
    from_the_cache = client.get(url)
    assert from_the_cache.text == from_the_route.text
    assert exactly(from_the_route.text)["config"] == wanted
    long_poll = client.get(url, params={"wait": 1, "version": 0})  # answered at once: 1 is newer
    assert exactly(long_poll.text)["config"] == wanted
    listed = client.get(CONFIGURATIONS, params={"application_id": application["id"]})
    assert exactly(listed.text)[0]["config"] == wanted
    of_the_application = client.get(f"/api/v1/applications/{application['id']}/configurations")
    assert exactly(of_the_application.text)[0]["config"] == wanted


def test_numbers_stay_exact_through_changes_history_and_audit(client, application):
    created = create(client, application, f'{{"n": {LONG}}}')
    url = f"{CONFIGURATIONS}/{created['id']}"

    put = send(client, "PUT", url, f'{{"config": {{"n": {LONG}, "m": {TINY}}}}}')
    patched = send(client, "PATCH", url, f'{{"config": {{"m": {HUGE}}}}}', "application/merge-patch+json")
    rolled_back = send(client, "POST", f"{url}/rollback", '{"version": 2}')

    assert put["config"] == {"n": Decimal(LONG), "m": Decimal(TINY)}
    assert patched["config"] == {"n": Decimal(LONG), "m": Decimal(HUGE)}
    assert rolled_back["config"] == put["config"]
    versions = exactly(client.get(f"{url}/versions").text)
    newest_first = [put, patched, put, created]
    assert [v["config"] for v in versions] == [change["config"] for change in newest_first]
    assert exactly(client.get(f"{url}/versions/3").text)["config"] == patched["config"]
    diff = exactly(client.get(f"{url}/diff", params={"from": 1, "to": 3}).text)
    assert diff["patch"] == [{"op": "add", "path": "/m", "value": Decimal(HUGE)}]
    events = exactly(client.get("/api/v1/audit-events", params={"entity_id": created["id"]}).text)
    assert [e["after"]["config"] for e in events] == [v["config"] for v in versions]
    assert [e["before"]["config"] for e in events[:3]] == [v["config"] for v in versions[1:]]


def test_a_number_written_another_way_is_no_change(client, application):
    created = create(client, application, f'{{"m": {TINY}}}')
    url = f"{CONFIGURATIONS}/{created['id']}"

    # jsonb compares numbers as numbers: 0.1e-399 is 1e-400.
    assert send(client, "PUT", url, '{"config": {"m": 0.1e-399}}')["version"] == 1
    assert send(client, "PUT", url, '{"config": {"m": 1.00000000000000000001e-400}}')["version"] == 2


def test_an_integer_too_long_for_python_is_kept(client, application):
    created = create(client, application, f'{{"n": {LONG_INTEGER}}}')
    assert created["config"] == {"n": Decimal(LONG_INTEGER)}
    got = client.get(f"{CONFIGURATIONS}/{created['id']}")
    assert exactly(got.text)["config"] == {"n": Decimal(LONG_INTEGER)}


def test_ordinary_numbers_are_answered_as_before(client, application):
    config = {"a": 0.1, "b": 1e20, "c": -0.0}
    created = client.post(
        CONFIGURATIONS, json={"application_id": application["id"], "name": "p", "config": config}
    )
    got = client.get(f"{CONFIGURATIONS}/{created.json()['id']}")

    # PostgreSQL's forms, as ever: 1e20 without its exponent, and zero without a sign.
    for response in (created, got):
        assert '"config":{"a":0.1,"b":100000000000000000000,"c":0.0}' in response.text


@pytest.mark.parametrize(
    "number",
    [
        "1" + "0" * 131072,  # 131073 digits before the point
        "1e200000",
        "1e131072",
        "1e-16384",  # 16384 digits after it
        "1e-20000",
        "1.5e-16383",
    ],
)
def test_a_number_postgresql_cannot_hold_is_400_naming_it(client, application, number):
    created = create(client, application, "{}")
    url = f"{CONFIGURATIONS}/{created['id']}"
    config = f'{{"n": {number}}}'

    for response in (
        post_raw(client, application, config),
        client.put(url, content=f'{{"config": {config}}}', headers={"content-type": "application/json"}),
        client.patch(
            url, content=f'{{"config": {config}}}', headers={"content-type": "application/merge-patch+json"}
        ),
    ):
        assert response.status_code == 400, response.text
        (error,) = response.json()["errors"]
        assert error["field"] == "config.n"
        assert "decimal point" in error["message"]


@pytest.mark.parametrize("number", ["9" * 131072, "9.9e131071", "1e-16383", "123e-16383", "0e200000"])
def test_numbers_at_postgresql_s_limits_are_kept(client, application, number):
    created = create(client, application, f'{{"n": {number}}}')
    assert created["config"] == {"n": Decimal(number)}
