"""Server-Sent Events, read as the WHATWG HTML standard's "event stream interpretation" says
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).

Incremental: the network splits a stream anywhere (inside a line, between a CR and its LF,
inside a UTF-8 sequence), so the parser is fed chunks of bytes as they arrive and keeps
whatever is not complete yet. It does no I/O, so the rules can be tested alone.
"""

import codecs
import re
from dataclasses import dataclass

_END_OF_LINE = re.compile(r"[\r\n]")
_BOM = "\ufeff"


@dataclass(frozen=True)
class ServerSentEvent:
    data: str
    event: str = "message"
    # The stream's last event ID when this event was dispatched (MessageEvent.lastEventId):
    # an event without an `id:` field carries the previous one.
    id: str = ""


class EventStreamParser:
    """One connection's event stream. `last_event_id` and `retry_ms` outlive the events
    they came with: they are what a client resumes with, and how long it waits first."""

    def __init__(self, last_event_id: str = "") -> None:
        self.last_event_id = last_event_id
        self.retry_ms: int | None = None
        # The standard decodes with UTF-8 whatever the Content-Type says; broken sequences
        # become U+FFFD rather than end the stream.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._at_start = True
        self._after_cr = False  # the last line ended with a CR: an LF first in the next chunk is its pair
        self._partial = ""
        self._data: list[str] = []
        self._event_type = ""
        self._id_buffer = last_event_id

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """The events `chunk` completes, in order."""
        return self._feed_text(self._decoder.decode(chunk))

    def _feed_text(self, text: str) -> list[ServerSentEvent]:
        if self._at_start and text:
            self._at_start = False
            text = text.removeprefix(_BOM)  # one, at the very start only
        if self._after_cr and text:
            self._after_cr = False
            text = text.removeprefix("\n")
        buffer = self._partial + text
        events: list[ServerSentEvent] = []
        start = 0
        while (end := _END_OF_LINE.search(buffer, start)) is not None:
            line = buffer[start : end.start()]
            start = end.end()
            if end.group() == "\r":
                if start < len(buffer):
                    if buffer[start] == "\n":
                        start += 1
                else:
                    self._after_cr = True
            event = self._line(line)
            if event is not None:
                events.append(event)
        self._partial = buffer[start:]
        return events

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: the service's heartbeat
        field, colon, value = line.partition(":")
        if colon:
            value = value.removeprefix(" ")
        if field == "event":
            self._event_type = value
        elif field == "data":
            self._data.append(value)
        elif field == "id" and "\0" not in value:
            self._id_buffer = value
        elif field == "retry" and value.isascii() and value.isdigit():
            self.retry_ms = int(value)
        # Any other field is ignored, as the standard says: servers may add their own.
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        # The ID is taken even from a block without data: a server may move a client's
        # resume point forward that way without sending it an event.
        self.last_event_id = self._id_buffer
        data, event_type = self._data, self._event_type
        self._data, self._event_type = [], ""
        if not data:
            return None
        return ServerSentEvent(data="\n".join(data), event=event_type or "message", id=self.last_event_id)
