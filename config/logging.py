"""Logging set-up: plain text for people, one JSON object per line for machines.

Every record carries the id of the request being served (or "-"), so a line written
deep in a service can be joined to the request's access line.
"""

import atexit
import json
import logging
import sys
import threading
import time
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

# Attributes every LogRecord has; anything else was passed with `extra=` and belongs in the JSON.
_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}
# Uvicorn passes each message again with ANSI colour codes, for its own coloured formatter.
_LEFT_OUT = _STANDARD_ATTRIBUTES | {"color_message"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class TextFormatter(logging.Formatter):
    """The stdlib's text format, with the time of day rendered once a second, not per line."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._second = -1
        self._second_text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._second, self._second_text = (
                second,
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second)),
            )
        return f"{self._second_text},{int(record.msecs):03d}"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        entry.update((key, value) for key, value in vars(record).items() if key not in _LEFT_OUT)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class BufferedStreamHandler(logging.StreamHandler):
    """A handler whose lines are written in blocks, not one system call each.

    Standard error is line-buffered: one write() per access line, which cost ~80 us of a
    request here (bench/README.md). Lines are flushed every FLUSH_EVERY_S by a thread, at
    once for warnings and worse, and at exit.
    """

    FLUSH_EVERY_S = 0.25

    def __init__(self, stream) -> None:
        super().__init__(stream)
        threading.Thread(target=self._flush_periodically, name="log-flush", daemon=True).start()
        atexit.register(self.flush_now)

    def flush(self) -> None:
        """Called by StreamHandler after every line; the flushing is done elsewhere."""

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        if record.levelno >= logging.WARNING:
            self.flush_now()

    def flush_now(self) -> None:
        with self.lock:
            if not self.stream.closed:
                self.stream.flush()

    def _flush_periodically(self) -> None:
        while True:
            time.sleep(self.FLUSH_EVERY_S)
            self.flush_now()


def flush_logs() -> None:
    """Write out what the handlers hold: at shutdown, before the process may be killed."""
    for handler in logging.getLogger().handlers:
        getattr(handler, "flush_now", handler.flush)()


def block_buffered_stderr():
    return open(sys.stderr.fileno(), "w", buffering=1 << 16, errors="backslashreplace", closefd=False)


def configure_logging(level: str, log_format: str) -> None:
    # The Logging HOWTO's "Optimization": no format here shows the caller, thread or
    # process, and looking them up took about a third of each access line's cost.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = BufferedStreamHandler(block_buffered_stderr())
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pgserver narrates every command it runs at INFO.
    logging.getLogger("pgserver").setLevel(max(logging.WARNING, root.level))
    # uvicorn's own access log would duplicate ours, which carries the request id.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
