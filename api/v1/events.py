from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.exceptions import RequestValidationError

from api.deps import Applications, AppSettings, Caller, Feed
from api.errors import problem_responses
from api.query import at_most_pattern
from api.sse import EventStreamResponse
from api.strict import StrictRoute
from models.api_keys import Principal
from models.changes import MAX_SEQ, ChangeEvent
from models.ids import Ulid
from services.change_feed import ChangeFeed
from services.followers import EVERYTHING, Topic, of_application, of_entity

router = APIRouter(prefix="/events", tags=["events"], route_class=StrictRoute)

EVENT_STREAM = {
    200: {
        "description": "A stream of changes: `id: <seq>`, `event: <action>`, `data: <JSON>`",
        # The schema of one event, as fuzzers and OpenAPI 3.2 read a stream's.
        "content": {
            "text/event-stream": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "description": "The change's seq"},
                        "event": {"type": "string", "description": "The action"},
                        "data": {"type": "string", "description": "The change, as JSON"},
                    },
                }
            }
        },
    }
}


@router.get(
    "",
    status_code=200,
    response_class=EventStreamResponse,
    response_model=None,
    responses=EVENT_STREAM | problem_responses(400, 404, 503),
)
async def stream_events(
    feed: Feed,
    caller: Caller,
    applications: Applications,
    settings: AppSettings,
    application_id: Annotated[Ulid | None, Query(description="Only this application's changes")] = None,
    since: Annotated[
        int | None, Query(ge=0, le=MAX_SEQ, description="Replay the changes after this seq")
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="Resume after this seq (as EventSource does)",
            json_schema_extra={"pattern": at_most_pattern(MAX_SEQ)},
        ),
    ] = None,
) -> EventStreamResponse:
    """Every committed change, in commit order, as Server-Sent Events. Resuming from a seq
    replays what was missed from the database, then continues live, with no gap or repeat."""
    after = _resume_point(last_event_id, since, feed)
    if application_id is not None:
        await applications.require_known(application_id, caller.reach)  # 404 for one never seen
    # Read before the response begins: while the database is down, a resume is refused
    # with 503 and Retry-After, rather than answered 200 and cut.
    missed = await feed.changes_after(after)
    return EventStreamResponse(
        feed, after, missed, StreamAudience(application_id, caller), settings.sse_heartbeat_seconds
    )


def _resume_point(last_event_id: str | None, since: int | None, feed: ChangeFeed) -> int:
    if last_event_id is not None:  # a reconnecting client's own account wins over its URL
        return _seq_named(last_event_id)
    return feed.tail if since is None else since


def _seq_named(last_event_id: str) -> int:
    if not (last_event_id.isascii() and last_event_id.isdigit()):
        raise _invalid_last_event_id("Input should be a change seq", "int_parsing")
    # Measured before int() reads it: beyond 4300 digits int() raises, and a seq has 19 at most.
    if len(last_event_id.lstrip("0")) > len(str(MAX_SEQ)) or int(last_event_id) > MAX_SEQ:
        raise _invalid_last_event_id(f"Input should be less than or equal to {MAX_SEQ}", "less_than_equal")
    return int(last_event_id)


def _invalid_last_event_id(message: str, kind: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("header", "Last-Event-ID"), "msg": message, "type": kind}])


class StreamAudience:
    """The caller, and the application it asked for (None: all it may see), as an event
    stream's audience (api/sse.py). A stream is authorised once, when it opens; it ends when
    its key is revoked or expires, as every later request of that key would be refused."""

    __slots__ = ("application_id", "caller", "topics")

    def __init__(self, application_id: str | None, caller: Principal) -> None:
        self.application_id = application_id
        self.caller = caller
        self.topics = _topics(application_id, caller)

    def wants(self, change: ChangeEvent) -> bool:
        if self._revokes_caller(change):
            return True  # not sent: it ends the stream
        if self.application_id is not None:
            return change.application_id == self.application_id
        if change.entity_type == "schema":  # shared by all applications: for keys that reach them all
            return self.caller.reach is None
        return self.caller.sees(change.application_id)

    def refuses(self, change: ChangeEvent | None, now: float) -> bool:
        return (change is not None and self._revokes_caller(change)) or self.caller.expired(now)

    def _revokes_caller(self, change: ChangeEvent) -> bool:
        return change.action == "api_key.revoked" and change.entity_id == self.caller.key_id


def _topics(application_id: str | None, caller: Principal) -> tuple[Topic, ...]:
    """Where the changes such a stream wants are found: so that the rest (other
    applications' changes) cost it nothing, and do not put its heartbeat off."""
    own_key = () if caller.key_id is None else (of_entity(caller.key_id),)  # its revocation
    if application_id is not None:
        return (of_application(application_id), *own_key)
    if caller.reach is not None:
        return (*map(of_application, sorted(caller.reach)), *own_key)
    return (EVERYTHING,)
