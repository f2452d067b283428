"""The evaluations' fast path answers exactly as the route would, and only when it can."""

import pytest

from main import create_app
from tests.apps import async_client, settings_for
from tests.flag_cases import FLAGS, contexts
from tests.waiting import wait_until_async

pytestmark = pytest.mark.anyio

# Headers that differ from one response to the next, however it is answered.
PER_REQUEST = {"x-request-id", "ratelimit-remaining", "ratelimit-reset"}


@pytest.fixture
async def api(database_url):
    app = create_app(settings_for(database_url))
    async with async_client(app) as client:
        application_id = (await client.post("/api/v1/applications", json={"name": "checkout"})).json()["id"]
        for body in FLAGS:
            assert (
                await client.post(f"/api/v1/applications/{application_id}/flags", json=body)
            ).status_code == 201
        # The bootstrap key's creation, the application's, the flags': once heard, none drops them.
        heard = 2 + len(FLAGS)
        await wait_until_async(lambda: app.state.feed.tail >= heard, what="the feed hears of the writes")
        yield app, client, f"/api/v1/applications/{application_id}/flags/evaluate"


def fast_answers(app, monkeypatch) -> list[bool]:
    """Whether each request from now on was answered by the fast path, in order."""
    answers = []
    answered = app.fast_evaluations.answered

    async def recorded(scope, receive, send):
        handed_on = await answered(scope, receive, send)
        if scope["path"].endswith("/evaluate"):
            answers.append(handed_on is None)
        return handed_on

    monkeypatch.setattr(app.fast_evaluations, "answered", recorded)
    return answers


def head(response) -> list:
    return sorted((k, v) for k, v in response.headers.multi_items() if k not in PER_REQUEST)


@pytest.mark.parametrize("encoding", [None, "gzip"])
async def test_an_evaluation_of_cached_flags_is_answered_as_the_route_answers(api, monkeypatch, encoding):
    app, client, url = api
    answers = fast_answers(app, monkeypatch)
    headers = {} if encoding is None else {"accept-encoding": encoding}

    for context in contexts(20, seed=3):
        body = {"context": context}
        app.state.cache.drop(("flags", url.split("/")[4]))
        by_route = await client.post(url, json=body, headers=headers)  # not cached: the route fills it
        fast = await client.post(url, json=body, headers=headers)
        assert (fast.status_code, fast.content, head(fast)) == (
            by_route.status_code,
            by_route.content,
            head(by_route),
        )
    assert answers == [False, True] * 20
    if encoding == "gzip":  # all twelve flags' answers are over 1 KB: compressed, as the route's
        assert fast.headers["content-encoding"] == "gzip"


async def test_what_the_route_would_refuse_is_handed_on_with_its_body(api, monkeypatch):
    app, client, url = api
    await client.post(url, json={"context": {}})  # cached now
    answers = fast_answers(app, monkeypatch)

    unknown = await client.post(url, json={"context": {}, "colour": "red"})
    not_an_object = await client.post(url, json={"context": []})
    malformed = await client.post(url, content=b'{"context": ', headers={"content-type": "application/json"})
    not_json = await client.post(url, content=b"context", headers={"content-type": "text/plain"})
    with_query = await client.post(url, json={"context": {}}, params={"x": "1"})

    assert [r.status_code for r in (unknown, not_an_object, malformed, not_json, with_query)] == [
        400,
        400,
        400,
        415,
        400,
    ]
    assert unknown.json()["errors"][0]["field"] == "colour"
    assert answers == [False] * 5


async def test_a_key_that_cannot_read_it_is_handed_on(api, monkeypatch):
    app, client, url = api
    await client.post(url, json={"context": {}})
    answers = fast_answers(app, monkeypatch)

    unknown_key = await client.post(url, json={"context": {}}, headers={"authorization": "Bearer cs_nope"})
    other = await client.post(
        "/api/v1/api-keys",
        json={"name": "elsewhere", "scopes": ["read"], "application_ids": ["01J00000000000000000000000"]},
    )
    assert other.status_code == 201, other.text
    out_of_reach = await client.post(
        url, json={"context": {}}, headers={"authorization": f"Bearer {other.json()['key']}"}
    )

    assert (unknown_key.status_code, out_of_reach.status_code) == (401, 404)
    assert answers == [False, False]


async def test_a_flag_changed_is_evaluated_anew(api, monkeypatch):
    app, client, url = api
    application_id = url.split("/")[4]
    before = (await client.post(url, json={"context": {}, "flags": ["checkout"]})).json()
    heard = app.state.feed.tail
    await client.patch(
        f"/api/v1/applications/{application_id}/flags/checkout",
        content=b'{"enabled": false}',
        headers={"content-type": "application/merge-patch+json"},
    )
    # Once heard, the feed's drop of what the write changed cannot come after the next fill.
    await wait_until_async(lambda: app.state.feed.tail > heard, what="the feed hears of the change")
    answers = fast_answers(app, monkeypatch)

    await client.post(url, json={"context": {}, "flags": ["checkout"]})  # the write dropped it: the route
    after = (await client.post(url, json={"context": {}, "flags": ["checkout"]})).json()

    assert before["flags"]["checkout"]["reason"] != "DISABLED"
    assert after["flags"]["checkout"]["reason"] == "DISABLED"
    assert answers == [False, True]
