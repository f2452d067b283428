"""Logging set-up: plain text for people, one JSON object per line for machines.

Every record carries the id of the request being served (or "-"), so a line written
deep in a service can be joined to the request's access line.

Each formatter makes a line from its parts (`line`), for a record and for a caller that
writes one straight to the handler (`sole_handler`): the fast read path's access lines,
which the logging module's machinery would otherwise cost more than the read itself.
"""

import atexit
import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

# Attributes every LogRecord has; anything else was passed with `extra=` and belongs in the JSON.
_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}
# Uvicorn passes each message again with ANSI colour codes, for its own coloured formatter.
_LEFT_OUT = _STANDARD_ATTRIBUTES | {"color_message"}


# An encoder made once: json.dumps(default=...) makes one per call.
_JSON = json.JSONEncoder(default=str)


class RequestIdFilter(logging.Filter):
    """The id of the request being served, unless the record names one of its own (the fast
    read path's, which sets no context variable)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "request_id" not in record.__dict__:
            record.request_id = request_id_var.get()
        return True


class TextFormatter(logging.Formatter):
    """The stdlib's text format, with the time of day rendered once a second, not per line."""

    SHOWS_EXTRAS = False  # what `extra=` gave a record is not in its line

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._second = -1
        self._second_text = ""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text or record.stack_info:
            return super().format(record)  # the traceback's lines follow, as the stdlib writes them
        record.message = message = record.getMessage()
        request_id = getattr(record, "request_id", "-")
        return self.line(record.created, record.msecs, record.levelname, record.name, request_id, message)

    def line(
        self,
        created: float,
        msecs: float,
        level: str,
        name: str,
        request_id: str,
        message: str,
        extras: dict | None = None,
    ) -> str:
        """TEXT_FORMAT's line; extras are not shown."""
        return f"{self._time_text(created, msecs)} {level} {name} [{request_id}] {message}"

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return self._time_text(record.created, record.msecs)

    def _time_text(self, created: float, msecs: float) -> str:
        second = int(created)
        if second != self._second:
            self._second, self._second_text = (
                second,
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second)),
            )
        return f"{self._second_text},{int(msecs):03d}"


class JsonFormatter(logging.Formatter):
    SHOWS_EXTRAS = True

    def format(self, record: logging.LogRecord) -> str:
        extras = {key: value for key, value in vars(record).items() if key not in _LEFT_OUT}
        if record.exc_info:
            extras["exception"] = self.formatException(record.exc_info)
        request_id, message = getattr(record, "request_id", "-"), record.getMessage()
        return self.line(
            record.created, record.msecs, record.levelname, record.name, request_id, message, extras
        )

    def line(
        self,
        created: float,
        msecs: float,
        level: str,
        name: str,
        request_id: str,
        message: str,
        extras: dict | None = None,
    ) -> str:
        entry = {
            "time": datetime.fromtimestamp(created, UTC).isoformat(),
            "level": level,
            "logger": name,
            "message": message,
            "request_id": request_id,
        }
        if extras:
            entry.update(extras)
        return _JSON.encode(entry)


class BufferedStreamHandler(logging.StreamHandler):
    """A handler whose lines are written in blocks, not one system call each.

    Standard error is line-buffered: one write() per access line, which cost ~80 us of a
    request here (bench/README.md). Lines are flushed every FLUSH_EVERY_S by a thread, at
    once for warnings and worse, and at exit.
    """

    FLUSH_EVERY_S = 0.25
    # Lines put off (write_later) are made this many at a time: one after another, the same
    # code runs warm, at a fraction of what each costs made between two requests.
    LATER_BATCH = 64

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._later: list[tuple[Callable[[logging.Formatter, tuple], str], tuple]] = []
        threading.Thread(target=self._flush_periodically, name="log-flush", daemon=True).start()
        atexit.register(self.flush_now)

    def flush(self) -> None:
        """Called by StreamHandler after every line; the flushing is done elsewhere."""

    def emit(self, record: logging.LogRecord) -> None:
        if self._later:  # they came first
            self._write_later_lines()
        super().emit(record)
        if record.levelno >= logging.WARNING:
            self.flush_now()

    def write_later(self, make_line: Callable[[logging.Formatter, tuple], str], parts: tuple) -> None:
        """The line make_line(formatter, parts) will make: made later, in a batch, and written
        before any line that comes after it (see sole_handler)."""
        with self.lock:
            self._later.append((make_line, parts))
            if len(self._later) >= self.LATER_BATCH:
                self._write_later_lines()

    def flush_now(self) -> None:
        with self.lock:
            if self._later:
                self._write_later_lines()
            if not self.stream.closed:
                self.stream.flush()

    def _write_later_lines(self) -> None:
        """Under the lock."""
        later, self._later = self._later, []
        formatter, terminator = self.formatter, self.terminator
        try:
            self.stream.write(
                "".join([make_line(formatter, parts) + terminator for make_line, parts in later])
            )
        except RecursionError:
            raise
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": f"{len(later)} lines"}))

    def _flush_periodically(self) -> None:
        while True:
            time.sleep(self.FLUSH_EVERY_S)
            self.flush_now()


def sole_handler(logger: logging.Logger, level: int) -> BufferedStreamHandler | None:
    """The handler a record of `logger` at `level` would reach, when it is the only one, made
    by configure_logging, and nothing on the way filters but RequestIdFilter: a caller may
    then have it write the line its formatter makes (`line`, `write_later`), exactly as the
    record would have been written, for a fraction of the cost. Anything else (a test's
    capturing handler, a filter, a handler of another kind, a level that drops the record):
    None, log as usual."""
    if logger.disabled or logger.filters or not logger.isEnabledFor(level):
        return None
    found = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.handlers:
            if found is not None or len(current.handlers) > 1:
                return None
            found = current.handlers[0]
        current = current.parent if current.propagate else None
    if type(found) is not BufferedStreamHandler or level < found.level:
        return None
    if type(found.formatter) not in _LINE_FORMATTERS:
        return None
    for each in found.filters:
        if type(each) is not RequestIdFilter:
            return None
    return found


_LINE_FORMATTERS = (TextFormatter, JsonFormatter)


def line_time(time_ns: int) -> tuple[float, float]:
    """A moment (time.time_ns()) as a LogRecord has it: `created` and `msecs`."""
    return time_ns / 1e9, (time_ns % 1_000_000_000) // 1_000_000 + 0.0


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
