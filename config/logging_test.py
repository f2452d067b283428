import io
import json
import logging

import pytest

from config.logging import (
    TEXT_FORMAT,
    BufferedStreamHandler,
    JsonFormatter,
    RequestIdFilter,
    TextFormatter,
    configure_logging,
    flush_logs,
    line_time,
    request_id_var,
    sole_handler,
)
from tests.waiting import wait_until


def make_record(message: str = "hello %s", *args, **extra) -> logging.LogRecord:
    args = args or (("world",) if "%s" in message else ())
    record = logging.LogRecord("svc", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    RequestIdFilter().filter(record)
    return record


def test_records_carry_the_current_request_id():
    token = request_id_var.set("req-1")
    try:
        assert make_record().request_id == "req-1"
    finally:
        request_id_var.reset(token)
    assert make_record().request_id == "-"


def test_a_record_that_names_its_request_keeps_that_id():
    token = request_id_var.set("req-1")
    try:
        assert make_record(request_id="req-2").request_id == "req-2"
    finally:
        request_id_var.reset(token)


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_a_line_made_from_its_parts_is_the_line_its_record_makes(formatter):
    """What the fast read path writes without a record (api/middleware.py) is what the record
    would have been written as."""
    fields = {"method": "GET", "path": "/x", "route": "/x", "status": 200, "duration_ms": 0.05, "actor": "ci"}
    record = make_record("%s %s", "GET", "/x", request_id="req-3", **fields)
    record.name = "config_service.access"

    made = formatter.line(record.created, record.msecs, "INFO", record.name, "req-3", "GET /x", fields)

    assert made == formatter.format(record)


def test_the_time_of_a_line_is_taken_as_a_record_takes_it():
    record = logging.makeLogRecord({})
    created, msecs = line_time(int(record.created * 1e9))
    assert abs(created - record.created) < 1e-6 and abs(msecs - record.msecs) <= 1
    assert line_time(1_700_000_000_123_456_789) == (1_700_000_000.1234567, 123.0)


def test_json_lines_hold_the_message_the_request_id_and_extras():
    line = JsonFormatter().format(make_record(status=201, path="/x"))
    entry = json.loads(line)
    assert entry["message"] == "hello world"
    assert entry["level"] == "INFO"
    assert entry["request_id"] == "-"
    assert (entry["status"], entry["path"]) == (201, "/x")
    assert entry["time"].endswith("+00:00")


def test_json_lines_include_exceptions():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "svc", logging.ERROR, __file__, 1, "failed", (), __import__("sys").exc_info()
        )
    assert "ValueError: boom" in json.loads(JsonFormatter().format(record))["exception"]


@pytest.fixture
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    flags = (logging._srcfile, logging.logThreads, logging.logProcesses, logging.logMultiprocessing)
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = False
    logging._srcfile, logging.logThreads, logging.logProcesses, logging.logMultiprocessing = flags


@pytest.mark.parametrize(("log_format", "formatter"), [("json", JsonFormatter), ("text", TextFormatter)])
def test_configure_logging(restore_root_logger, log_format, formatter):
    configure_logging("WARNING", log_format)

    (handler,) = restore_root_logger.handlers
    assert type(handler.formatter) is formatter
    assert restore_root_logger.level == logging.WARNING
    assert logging.getLogger("uvicorn.access").disabled


def test_the_text_format_is_the_stdlibs_with_the_time_rendered_once_a_second():
    record = make_record()
    assert TextFormatter().format(record) == logging.Formatter(TEXT_FORMAT).format(record)
    formatter = TextFormatter()
    formatter.format(record)
    later = make_record()
    later.created, later.msecs = record.created, 999.0
    assert formatter.format(later).split(" ")[1].endswith(",999")


class Recording(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def test_lines_are_flushed_in_blocks_but_warnings_at_once(monkeypatch):
    monkeypatch.setattr(BufferedStreamHandler, "FLUSH_EVERY_S", 3600)
    stream = Recording()
    handler = BufferedStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))

    handler.handle(make_record("one"))
    handler.handle(make_record("two"))
    assert stream.flushes == 0
    warning = make_record("careful")
    warning.levelno = logging.WARNING
    handler.handle(warning)

    assert stream.flushes == 1
    assert stream.getvalue() == "one\ntwo\ncareful\n"


def test_a_quiet_buffer_is_flushed_within_moments(monkeypatch):
    monkeypatch.setattr(BufferedStreamHandler, "FLUSH_EVERY_S", 0.01)
    stream = Recording()
    handler = BufferedStreamHandler(stream)
    handler.handle(make_record("late"))
    wait_until(lambda: stream.flushes, what="the buffer is flushed")


def test_configure_logging_skips_what_no_format_shows(restore_root_logger):
    configure_logging("INFO", "text")
    assert (logging._srcfile, logging.logThreads, logging.logProcesses) == (None, False, False)


def test_flush_logs_writes_out_every_handler_at_once(monkeypatch, restore_root_logger):
    monkeypatch.setattr(BufferedStreamHandler, "FLUSH_EVERY_S", 3600)
    buffered, plain = Recording(), Recording()
    logging.getLogger().handlers[:] = [BufferedStreamHandler(buffered), logging.StreamHandler(plain)]
    flushes = plain.flushes

    flush_logs()

    assert (buffered.flushes, plain.flushes) == (1, flushes + 1)


def test_json_lines_carry_no_colour_codes_from_uvicorns_coloured_copy_of_a_message():
    record = make_record("Uvicorn running on %s", "http://x", color_message="\x1b[1m%s\x1b[0m")

    entry = json.loads(JsonFormatter().format(record))

    assert "color_message" not in entry
    assert "\x1b" not in JsonFormatter().format(record)


def test_a_served_request_and_uvicorns_start_up_log_plain_json(tmp_path, database_url):
    from tests.server import service_process

    log = tmp_path / "service.log"
    env = {"DATABASE_URL": database_url, "LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}
    with service_process(env, log=log) as service, service.client() as client:
        assert client.get("/api/v1/applications").status_code == 200
    # Stopped: every line is written out.
    lines = log.read_text().splitlines()

    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    messages = " ".join(entry["message"] for entry in entries)
    assert "Uvicorn running on" in messages
    assert any(entry.get("path") == "/api/v1/applications" for entry in entries)
    assert not [line for line in lines if "\x1b" in line or "\\u001b" in line]


def test_only_configure_loggings_own_handler_alone_is_written_to_directly(restore_root_logger):
    configure_logging("INFO", "text")
    (handler,) = restore_root_logger.handlers
    access = logging.getLogger("config_service.access")
    assert sole_handler(access, logging.INFO) is handler
    assert sole_handler(access, logging.DEBUG) is None  # the record would be dropped

    capturing = logging.Handler()
    restore_root_logger.addHandler(capturing)  # as pytest's caplog does
    assert sole_handler(access, logging.INFO) is None
    restore_root_logger.removeHandler(capturing)

    def another_filter(record: logging.LogRecord) -> bool:
        return True

    handler.addFilter(another_filter)
    assert sole_handler(access, logging.INFO) is None
    handler.removeFilter(another_filter)

    handler.setFormatter(logging.Formatter("%(message)s"))
    assert sole_handler(access, logging.INFO) is None
    handler.setFormatter(JsonFormatter())
    assert sole_handler(access, logging.INFO) is handler

    restore_root_logger.setLevel(logging.WARNING)
    assert sole_handler(access, logging.INFO) is None


def test_lines_put_off_are_written_in_order_before_any_later_line(monkeypatch):
    monkeypatch.setattr(BufferedStreamHandler, "FLUSH_EVERY_S", 3600)
    stream = Recording()
    handler = BufferedStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))

    def shout(formatter: logging.Formatter, parts: tuple) -> str:
        return parts[0].upper()

    handler.handle(make_record("one"))
    handler.write_later(shout, ("two",))
    assert stream.getvalue() == "one\n"  # not made yet
    handler.handle(make_record("three"))
    handler.write_later(shout, ("four",))
    handler.flush_now()

    assert stream.getvalue() == "one\nTWO\nthree\nFOUR\n"
    for n in range(handler.LATER_BATCH):
        handler.write_later(shout, (f"n{n}",))
    assert stream.getvalue().endswith(f"N{handler.LATER_BATCH - 1}\n")  # a full batch is written
    assert stream.flushes == 1
