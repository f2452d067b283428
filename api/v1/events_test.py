import asyncio
import time

import pytest
from fastapi.exceptions import RequestValidationError

from api.sse import HEARTBEAT, EventStreamResponse, opening
from api.v1.events import StreamAudience, _resume_point
from database.errors import DatabaseUnavailable
from main import create_app
from models.api_keys import Principal
from models.audit import AuditContext
from models.changes import MAX_SEQ, ChangeEvent
from services.audit import record
from services.change_feed import ChangeFeed
from services.followers import EVERYTHING, of_application, of_entity
from tests.apps import async_client, settings_for
from tests.sse import ServedResponse
from tests.waiting import DEADLINE_S

ADMIN = Principal(key_id=None, name="admin", rank=3, reach=None, rate_limit_per_second=100)
APP = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
OTHER = "01ARZ3NDEKTSV4RRFFQ69G5FAW"


class Tail:
    tail = 7


def test_the_resume_point():
    assert _resume_point(None, None, Tail()) == 7  # live only
    assert _resume_point(None, 3, Tail()) == 3
    assert _resume_point("5", 3, Tail()) == 5  # the reconnecting client's header wins
    assert _resume_point(str(MAX_SEQ), None, Tail()) == MAX_SEQ
    assert _resume_point("0" * 30 + "5", None, Tail()) == 5
    for bad in ("x", "-1", "٣", "", str(MAX_SEQ + 1), "9" * 20, "9" * 5000):
        with pytest.raises(RequestValidationError):
            _resume_point(bad, None, Tail())


def served(
    feed: ChangeFeed,
    after: int,
    missed: list,
    application_id: str | None,
    caller: Principal,
    heartbeat_s: float,
) -> ServedResponse:
    """The stream the endpoint answers with, served in-process."""
    audience = StreamAudience(application_id, caller)
    return ServedResponse(EventStreamResponse(feed, after, missed, audience, heartbeat_s))


def write_created(conn, *application_ids: str) -> None:
    for application_id in application_ids:
        record(
            conn,
            AuditContext(),
            "application.created",
            entity_type="application",
            entity_id=application_id,
            application_id=application_id,
            version=1,
            before=None,
            after={"name": "x"},
        )


@pytest.mark.anyio
async def test_the_stream_opens_then_sends_changes_and_heartbeats(database):
    await database.write(lambda conn: write_created(conn, APP, OTHER, APP))
    feed = ChangeFeed(database, poll_interval_s=3600)
    await feed.start()
    try:
        stream = served(feed, 0, await feed.changes_after(0), APP, ADMIN, heartbeat_s=0.05)
        frames = [await stream.next() for _ in range(4)]
        await stream.close()
    finally:
        await feed.stop()

    assert frames[0] == opening(0)
    assert [f.split(b"\n")[0] for f in frames[1:3]] == [b"id: 1", b"id: 3"]  # 2 is another app's
    assert frames[3] == HEARTBEAT


KEY_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAX"


def write_key_created(conn, action: str = "api_key.created") -> None:
    record(
        conn,
        AuditContext(),
        action,
        entity_type="api_key",
        entity_id=KEY_ID,
        application_id=None,
        version=None,
        before=None,
        after={"name": "k"},
    )


@pytest.mark.anyio
@pytest.mark.parametrize("scope", [1, 3])  # filtered in the feed (a reader) or not (an admin)
async def test_a_stream_ends_when_its_key_is_revoked(database, scope):
    caller = Principal(KEY_ID, "k", scope, None, 100)
    feed = ChangeFeed(database, poll_interval_s=3600)
    await feed.start()
    try:
        stream = served(feed, feed.tail, [], None, caller, heartbeat_s=60)
        assert await stream.next() == opening(0)
        await database.write(lambda conn: write_created(conn, APP))
        feed.notify()
        assert (await stream.next()).startswith(b"id: 1")
        await database.write(
            lambda conn: (write_key_created(conn, "api_key.revoked"), write_created(conn, APP))
        )
        feed.notify()
        rest = await stream.rest()
    finally:
        await feed.stop()
    assert rest == []  # ended at the revocation: neither it nor what followed was sent


@pytest.mark.anyio
async def test_a_stream_ends_when_its_key_expires(database):
    caller = Principal(KEY_ID, "k", 1, None, 100, expires_at=time.time() + 0.2)
    feed = ChangeFeed(database, poll_interval_s=3600)
    await feed.start()
    try:
        frames = await served(feed, feed.tail, [], None, caller, heartbeat_s=0.05).rest()
    finally:
        await feed.stop()
    assert frames[0] == opening(0) and all(frame == HEARTBEAT for frame in frames[1:])


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("caller", "seen"),
    [
        (ADMIN, [b"id: 1", b"id: 2", b"id: 3"]),
        (Principal(None, "everywhere", 2, None, 100), [b"id: 1", b"id: 2"]),  # keys are for admins
        (Principal(None, "scoped", 1, frozenset({APP}), 100), [b"id: 1"]),
    ],
)
async def test_an_unfiltered_stream_carries_only_what_the_key_may_see(database, caller, seen):
    await database.write(lambda conn: (write_created(conn, APP, OTHER), write_key_created(conn)))
    await database.write(lambda conn: write_created(conn, APP))  # seq 4: ends the read below
    feed = ChangeFeed(database, poll_interval_s=3600)
    await feed.start()
    try:
        stream = served(feed, 0, await feed.changes_after(0), None, caller, heartbeat_s=60)
        frames = [await stream.next() for _ in range(len(seen) + 2)]
        await stream.close()
    finally:
        await feed.stop()
    assert [f.split(b"\n")[0] for f in frames[1:-1]] == seen
    assert frames[-1].startswith(b"id: 4")


@pytest.mark.anyio
async def test_a_filtered_stream_gets_heartbeats_while_other_applications_change(database):
    feed = ChangeFeed(database, poll_interval_s=3600)
    await feed.start()

    async def others_keep_changing():
        while True:
            await database.write(lambda conn: write_created(conn, OTHER))
            feed.notify()
            await asyncio.sleep(0.02)

    stream = served(feed, feed.tail, [], APP, ADMIN, heartbeat_s=0.3)
    writer = asyncio.ensure_future(others_keep_changing())
    try:
        assert await stream.next() == opening(0)
        started, tail_at_start = time.monotonic(), feed.tail
        # Were each change to put the beat off, none would come.
        beats = [await stream.next() for _ in range(3)]
        took = time.monotonic() - started
        changed_meanwhile = feed.tail - tail_at_start
    finally:
        writer.cancel()
        await stream.close()
        await feed.stop()

    assert beats == [HEARTBEAT] * 3
    assert 0.85 <= took < 5  # three beats 0.3 s apart, late only by what a busy CPU adds
    assert changed_meanwhile >= 3  # the others kept changing (dozens of times on an idle machine)


def test_subscription_errors_are_problems(client):
    assert client.get("/api/v1/events", params={"application_id": APP}).status_code == 404
    assert client.get("/api/v1/events", params={"application_id": "x"}).status_code == 400
    assert client.get("/api/v1/events", headers={"Last-Event-ID": "x"}).status_code == 400


@pytest.mark.anyio
@pytest.mark.parametrize("seq", [str(MAX_SEQ + 1), "9" * 5000])
async def test_a_seq_beyond_a_bigint_is_400_as_header_or_query(settings, seq):
    async with async_client(create_app(settings)) as client, asyncio.timeout(DEADLINE_S):  # not a stream
        by_header = await client.get("/api/v1/events", headers={"Last-Event-ID": seq})
        by_query = await client.get("/api/v1/events", params={"since": seq})
    assert (by_header.status_code, by_query.status_code) == (400, 400)
    assert by_header.json()["errors"][0]["field"] == "Last-Event-ID"


@pytest.mark.anyio
async def test_resuming_while_the_database_is_down_is_503_before_the_stream_begins(
    database_url, stoppable_postgres
):
    settings = settings_for(database_url)
    async with async_client(create_app(settings)) as client:
        assert (await client.post("/api/v1/applications", json={"name": "payments"})).status_code == 201
    # Started since, this one holds no change from before in memory: a resume reads the table.
    # Its requests carry no key, which anonymous reading admits: checking a key would itself
    # read the database and answer the 503 first (api/auth.py), and this is about the stream.
    reader = settings_for(database_url, anonymous_scopes="read")
    async with async_client(create_app(reader), key=None) as client:
        stoppable_postgres.stop()
        async with asyncio.timeout(DEADLINE_S):  # a stream begun by mistake would never end
            by_header = await client.get("/api/v1/events", headers={"Last-Event-ID": "0"})
            by_query = await client.get("/api/v1/events", params={"since": 0})

    assert (by_header.status_code, by_query.status_code) == (503, 503)
    assert by_header.headers["retry-after"] and by_query.headers["retry-after"]
    assert by_header.json()["type"].endswith(":database-unavailable")


@pytest.mark.anyio
async def test_a_database_failure_once_the_stream_is_open_ends_it_cleanly(database, monkeypatch, caplog):
    feed = ChangeFeed(database, poll_interval_s=3600)
    await feed.start()

    async def unavailable(seq: int) -> list:
        raise DatabaseUnavailable("The database is unreachable")

    monkeypatch.setattr(feed, "changes_after", unavailable)
    try:
        frames = await served(feed, 0, [], None, ADMIN, heartbeat_s=60).rest()
    finally:
        await feed.stop()

    assert frames == [opening(0)]
    assert "event stream ended: The database is unreachable" in caplog.text


@pytest.mark.parametrize(
    ("application_id", "caller", "topics"),
    [
        (None, ADMIN, {EVERYTHING}),
        (None, Principal(KEY_ID, "everywhere", 2, None, 100), {EVERYTHING}),
        (APP, Principal(KEY_ID, "k", 3, None, 100), {of_application(APP), of_entity(KEY_ID)}),
        (APP, ADMIN, {of_application(APP)}),  # a key of no id (the anonymous caller) is never revoked
        (
            None,
            Principal(KEY_ID, "scoped", 1, frozenset({APP, OTHER}), 100),
            {of_application(APP), of_application(OTHER), of_entity(KEY_ID)},
        ),
    ],
)
def test_a_stream_is_woken_only_by_the_topics_of_what_it_wants(application_id, caller, topics):
    """Besides what it is sent, its own key's revocation, which ends it."""
    assert set(StreamAudience(application_id, caller).topics) == topics


@pytest.mark.parametrize(
    ("caller", "application_id", "wanted"),
    [
        (ADMIN, None, True),
        (Principal(None, "everywhere", 1, None, 100), None, True),  # any key reads schemas
        (Principal(None, "scoped", 2, frozenset({APP}), 100), None, False),
        (ADMIN, APP, False),  # a stream of one application's changes
    ],
)
def test_schema_changes_go_to_the_streams_of_every_change(caller, application_id, wanted):
    change = ChangeEvent(
        seq=1,
        action="schema.versioned",
        entity_type="schema",
        entity_id=APP,
        application_id=None,
        name="database",
        version=2,
        occurred_at="2026-01-01T00:00:00Z",
        actor="admin",
    )
    assert StreamAudience(application_id, caller).wants(change) is wanted
