"""Optimistic concurrency (If-Match → 412) and conditional reads (If-None-Match → 304)."""

import asyncio
from collections import Counter

import pytest

from main import create_app
from tests.apps import async_client, settings_for
from tests.fixtures import CONFIGURATIONS, create_application, create_configuration


@pytest.fixture
def configuration(client):
    application = create_application(client)
    return create_configuration(client, application["id"], config={"n": 1})


def url(configuration) -> str:
    return f"{CONFIGURATIONS}/{configuration['id']}"


def test_every_representation_carries_its_version_as_etag(client):
    application = create_application(client)
    created = client.post(
        CONFIGURATIONS, json={"application_id": application["id"], "name": "db", "config": {"n": 1}}
    )
    assert created.json()["version"] == 1
    assert created.headers["etag"] == '"1"'

    fetched = client.get(created.headers["location"])
    updated = client.put(created.headers["location"], json={"config": {"n": 2}})
    patched = client.patch(
        created.headers["location"],
        content=b'{"config": {"m": 3}}',
        headers={"content-type": "application/merge-patch+json"},
    )

    assert fetched.headers["etag"] == '"1"'
    assert (updated.json()["version"], updated.headers["etag"]) == (2, '"2"')
    assert (patched.json()["version"], patched.headers["etag"]) == (3, '"3"')


@pytest.mark.parametrize("if_match", ['"1"', "*", '"7", "1"', ' "1" '])
def test_a_write_naming_the_current_version_proceeds(client, configuration, if_match):
    response = client.put(url(configuration), json={"config": {"n": 2}}, headers={"If-Match": if_match})
    assert response.status_code == 200
    assert response.json()["version"] == 2


# Tags compare as strings ("01" is not "1"); a tag in obs-text or of 5000 digits is simply not ours.
@pytest.mark.parametrize("if_match", ['"2"', 'W/"1"', '"x"', '"1x"', '"01"', b'"\xb9"', f'"{"1" * 5000}"'])
def test_a_write_naming_another_version_is_412_stating_the_current_one(client, configuration, if_match):
    response = client.put(url(configuration), json={"config": {"n": 2}}, headers={"If-Match": if_match})

    assert response.status_code == 412
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["etag"] == '"1"'
    problem = response.json()
    assert problem["current_version"] == 1
    assert "version 1" in problem["detail"]
    assert client.get(url(configuration)).json() == configuration


@pytest.mark.parametrize("if_match", ["1", '"1', '*, "1"'])
def test_a_malformed_if_match_is_400_naming_the_header(client, configuration, if_match):
    response = client.put(url(configuration), json={"config": {"n": 2}}, headers={"If-Match": if_match})
    assert response.status_code == 400
    assert response.json()["errors"][0]["in"] == "header"
    assert response.json()["errors"][0]["field"] == "If-Match"


def test_an_empty_if_match_names_no_version_and_so_fails(client, configuration):
    response = client.put(url(configuration), json={"config": {"n": 2}}, headers={"If-Match": ""})
    assert response.status_code == 412
    assert client.get(url(configuration)).json() == configuration


def test_an_empty_if_none_match_names_no_version_and_so_holds(client, configuration):
    assert client.get(url(configuration), headers={"If-None-Match": ""}).status_code == 200


def test_if_match_guards_patch_delete_and_rollback(client, configuration):
    client.put(url(configuration), json={"config": {"n": 2}})
    stale = {"If-Match": '"1"'}

    patch = client.patch(
        url(configuration), content=b"{}", headers=stale | {"content-type": "application/merge-patch+json"}
    )
    rollback = client.post(f"{url(configuration)}/rollback", json={"version": 1}, headers=stale)
    delete = client.delete(url(configuration), headers=stale)

    assert [r.status_code for r in (patch, rollback, delete)] == [412, 412, 412]
    assert client.delete(url(configuration), headers={"If-Match": '"2"'}).status_code == 204


def test_if_match_on_an_unknown_configuration_is_404(client):
    response = client.put(
        f"{CONFIGURATIONS}/01ARZ3NDEKTSV4RRFFQ69G5FAV", json={"name": "x"}, headers={"If-Match": "*"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize("if_none_match", ['"1"', 'W/"1"', "*", '"3", "1"'])
def test_get_with_a_matching_if_none_match_is_304_without_a_body(client, configuration, if_none_match):
    response = client.get(url(configuration), headers={"If-None-Match": if_none_match})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == '"1"'


def test_get_with_a_stale_if_none_match_is_the_full_body(client, configuration):
    client.put(url(configuration), json={"config": {"n": 2}})

    response = client.get(url(configuration), headers={"If-None-Match": '"1"'})

    assert response.status_code == 200
    assert response.json()["config"] == {"n": 2}
    assert response.headers["etag"] == '"2"'


def test_a_write_that_changes_nothing_keeps_the_version(client, configuration):
    response = client.put(url(configuration), json={"name": configuration["name"], "config": {"n": 1}})

    assert response.status_code == 200
    assert response.json() == configuration
    assert response.headers["etag"] == '"1"'


@pytest.mark.anyio
async def test_twenty_racing_writers_with_one_if_match_yield_one_success(database_url):
    app = create_app(settings_for(database_url, db_max_connections=5))
    async with async_client(app) as client:
        app_id = (await client.post("/api/v1/applications", json={"name": "payments"})).json()["id"]
        config_id = (
            await client.post(
                CONFIGURATIONS, json={"application_id": app_id, "name": "db", "config": {"writer": None}}
            )
        ).json()["id"]

        responses = await asyncio.gather(
            *(
                client.put(
                    f"{CONFIGURATIONS}/{config_id}",
                    json={"config": {"writer": i}},
                    headers={"If-Match": '"1"'},
                )
                for i in range(20)
            )
        )
        history = (await client.get(f"{CONFIGURATIONS}/{config_id}/versions")).json()

    assert Counter(r.status_code for r in responses) == {200: 1, 412: 19}
    (winner,) = [r.json() for r in responses if r.status_code == 200]
    assert [v["version"] for v in history] == [2, 1]
    assert history[0]["config"] == winner["config"]
