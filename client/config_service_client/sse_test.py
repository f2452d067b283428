"""The event stream parser alone: pure logic, fed the bytes a server might send, split anywhere."""

import pytest

from config_service_client.sse import EventStreamParser, ServerSentEvent


def parsed(*chunks: bytes) -> list[ServerSentEvent]:
    parser = EventStreamParser()
    return [event for chunk in chunks for event in parser.feed(chunk)]


def every_split(stream: bytes) -> list[list[ServerSentEvent]]:
    """What the parser makes of `stream` cut in two at every byte (in a CRLF, in a UTF-8
    sequence...) and fed one byte at a time: each must be what it makes of it whole."""
    return [parsed(stream[:cut], stream[cut:]) for cut in range(len(stream) + 1)] + [
        parsed(*(stream[i : i + 1] for i in range(len(stream))))
    ]


def test_a_change_as_the_service_frames_it():
    opening = b"retry: 3000\nid: 41\n: stream open\n\n"
    stream = b'id: 42\nevent: configuration.updated\ndata: {"seq": 42}\n\n'
    parser = EventStreamParser()

    # The opening dispatches nothing, but says where the stream begins and how long to wait.
    assert parser.feed(opening) == []
    assert (parser.last_event_id, parser.retry_ms) == ("41", 3000)
    assert parser.feed(stream) == [
        ServerSentEvent(data='{"seq": 42}', event="configuration.updated", id="42")
    ]
    assert parser.retry_ms == 3000
    assert parser.last_event_id == "42"


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_each_line_ending_and_any_split_give_the_same_events(newline):
    lines = [b"id: 7", b"event: e", "data: caf\u00e9 \u20ac".encode(), b"data:second", b"", b": beat", b""]
    lines += [b"data: third", b"", b""]
    stream = newline.join(lines)

    expected = [
        ServerSentEvent(data="caf\u00e9 \u20ac\nsecond", event="e", id="7"),
        ServerSentEvent(data="third", event="message", id="7"),
    ]
    assert all(events == expected for events in every_split(stream))


def test_line_endings_may_be_mixed_and_a_cr_then_lf_is_one_ending():
    # CR LF is one line end; LF CR is two, so the block after "b" ends at once.
    stream = b"data: a\r\ndata: b\n\rdata: c\r\r"

    assert all(
        events == [ServerSentEvent(data="a\nb"), ServerSentEvent(data="c")] for events in every_split(stream)
    )


def test_the_standards_own_examples():
    # From the WHATWG standard: "data" alone is an empty line of data; a block not ended by a
    # blank line is never dispatched.
    assert parsed(b"data\n\ndata\ndata\n\ndata:") == [ServerSentEvent(data=""), ServerSentEvent(data="\n")]
    # Only one space after the colon is dropped.
    assert parsed(b"data:test\n\ndata: test\n\ndata:  test\n\n") == [
        ServerSentEvent(data="test"),
        ServerSentEvent(data="test"),
        ServerSentEvent(data=" test"),
    ]


def test_comments_unknown_fields_and_blocks_without_data_dispatch_nothing():
    assert parsed(b": heartbeat\n\n:\n\nfoo: bar\n\nevent: lonely\n\n") == []


def test_the_event_type_is_reset_after_each_event_but_the_id_is_kept():
    events = parsed(b"id: 1\nevent: first\ndata: a\n\ndata: b\n\nid\ndata: c\n\n")

    assert events == [
        ServerSentEvent(data="a", event="first", id="1"),
        ServerSentEvent(data="b", event="message", id="1"),
        ServerSentEvent(data="c", event="message", id=""),  # an empty id field resets it
    ]


def test_an_id_without_data_moves_the_resume_point_without_an_event():
    parser = EventStreamParser(last_event_id="5")

    assert parser.feed(b"id: 9\n\n") == []
    assert parser.last_event_id == "9"


def test_an_id_is_only_taken_when_its_block_ends():
    parser = EventStreamParser()

    assert parser.feed(b"id: 3\ndata: x\n") == []
    assert parser.last_event_id == ""  # what a client would resume from if cut here
    parser.feed(b"\n")
    assert parser.last_event_id == "3"


def test_an_id_containing_nul_is_ignored():
    assert parsed(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n")[1].id == "1"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (b"retry: 1500\n", 1500),
        (b"retry:20\n", 20),
        (b"retry: 1500\nretry: 1.5\n", 1500),
        (b"retry: -1\n", None),
        (b"retry: 10s\n", None),
        (b"retry:\n", None),
        ("retry: \u0661\u0662\n".encode(), None),  # digits, but not ASCII ones
    ],
)
def test_retry_takes_ascii_digits_only(lines, expected):
    parser = EventStreamParser()
    parser.feed(lines)

    assert parser.retry_ms == expected


def test_a_byte_order_mark_is_dropped_at_the_start_only():
    bom = "\ufeff".encode()

    assert all(events == [ServerSentEvent(data="a")] for events in every_split(bom + b"data: a\n\n"))
    # Later, it is an ordinary character: part of the field name, so an unknown field.
    assert parsed(b"data: a\n\n" + bom + b"data: b\n\n") == [ServerSentEvent(data="a")]


def test_broken_utf8_becomes_replacement_characters_rather_than_an_error():
    assert parsed(b"data: \xff\xfe ok\n\n") == [ServerSentEvent(data="\ufffd\ufffd ok")]


def test_a_line_is_not_parsed_before_it_ends():
    parser = EventStreamParser()

    assert parser.feed(b"data: par") == []
    assert parser.feed(b"tial\n") == []
    assert parser.feed(b"\n") == [ServerSentEvent(data="partial")]
