import json
import logging

import pytest

from config.logging import JsonFormatter, RequestIdFilter, configure_logging, request_id_var


def make_record(message: str = "hello %s", *args, **extra) -> logging.LogRecord:
    record = logging.LogRecord("svc", logging.INFO, __file__, 1, message, args or ("world",), None)
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
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = False


@pytest.mark.parametrize(("log_format", "formatter"), [("json", JsonFormatter), ("text", logging.Formatter)])
def test_configure_logging(restore_root_logger, log_format, formatter):
    configure_logging("WARNING", log_format)

    (handler,) = restore_root_logger.handlers
    assert type(handler.formatter) is formatter
    assert restore_root_logger.level == logging.WARNING
    assert logging.getLogger("uvicorn.access").disabled
