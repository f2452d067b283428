"""Settings that follow their configurations: `client.live(Settings, application, names)`.

The holder builds `Settings` as the class says (its `settings_customise_sources`, so init
arguments and environment variables still win), with every `ConfigServiceSettingsSource` of
the class reading through the holder's client. A watch on the application keeps that client's
copies fresh; on each change of one of `names` the holder builds the settings again. A build
that fails (a value the model refuses, a masked required secret, a configuration deleted)
leaves `.current` as it was and is logged with the fields and error types, never the values.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Generic, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsError

from .errors import ConfigServiceError
from .settings import reading_through

if TYPE_CHECKING:
    from .client import ConfigClient
    from .watch import Change

S = TypeVar("S", bound=BaseSettings)
OnChange = Callable[[S, S], None]

logger = logging.getLogger(__name__)

# How long the holder waits for its watch before the first build: changes after the watch
# connects reach it, so a first build after that misses none. A service that is down costs
# this much at start-up, then the holder starts from the last-known-good copy.
CONNECT_TIMEOUT_S = 5.0
# A holder that started without its watch looks this often whether the watch has connected,
# to catch up with what changed meanwhile.
CATCH_UP_EVERY_S = 0.5


def describe(error: ValidationError) -> str:
    """Which fields failed and how: a validation error's own text quotes the input."""
    return "; ".join(
        f"{'.'.join(str(step) for step in detail['loc']) or '(settings)'}: {detail['type']}"
        for detail in error.errors(include_url=False, include_input=False, include_context=False)
    )


def _why(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return f"{error.error_count()} invalid field(s): {describe(error)}"
    if isinstance(error, (ConfigServiceError, SettingsError)):
        return f"{type(error).__name__}: {error}"  # these name fields and problems, never values
    return type(error).__name__  # anything else might quote a value


class LiveSettings(Generic[S]):
    """`.current` is always a valid `settings_cls`: the latest that validated."""

    def __init__(
        self,
        client: ConfigClient,
        settings_cls: type[S],
        application: str,
        names: Sequence[str],
        *,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self._client = client
        self._settings_cls = settings_cls
        self._application = application
        self._names = [names] if isinstance(names, str) else list(names)
        if not self._names:
            raise ValueError("names: at least one configuration to follow")
        self._callbacks: list[OnChange[S]] = []
        # One build at a time, and callbacks in the order of the builds; reentrant for a
        # callback that stops the holder.
        self._lock = threading.RLock()
        self._stopped = threading.Event()
        self._catch_up: threading.Thread | None = None
        self._calling_back_in: int | None = None  # the thread running the callbacks
        watched = self._names[0] if len(self._names) == 1 else None
        failure: BaseException | None = None
        with self._lock:  # a change that comes during the first build waits for it
            self._watch = client.watch(application, watched, self._changed)
            watching = self._watch.wait_connected(connect_timeout_s)
            try:
                self._current: S = self._build(first=True)
            except BaseException as error:
                failure = error
        if failure is not None:
            # Stopped outside the lock: the watch's thread may be waiting for it.
            self._stopped.set()
            self._watch.stop()
            raise failure
        if not watching:
            self._catch_up = threading.Thread(
                target=self._catch_up_when_connected, name=f"config-service-live:{application}", daemon=True
            )
            self._catch_up.start()

    @property
    def current(self) -> S:
        return self._current

    def on_change(self, callback: OnChange[S]) -> OnChange[S]:
        """Call `callback(old, new)` after each change of the settings (also usable as a
        decorator). A callback that raises is logged; the others are still called."""
        # A new list, not an append: a rebuild under way goes on with the one it took.
        self._callbacks = [*self._callbacks, callback]
        return callback

    def stop(self) -> None:
        """Stop following: `.current` stays as it is. No callback starts after it returns,
        except the rest of those of the change under way when a callback calls it."""
        self._stopped.set()
        # A callback that stops the holder runs with the lock that the watch's thread or the
        # catch-up thread may be waiting for: they are told to end, not waited for (each ends
        # once it has the lock and sees `_stopped`). Nothing else can rebuild meanwhile.
        in_callback = self._calling_back_in == threading.get_ident()
        self._watch.stop(timeout=0 if in_callback else None)
        catch_up = self._catch_up
        if catch_up is not None and not in_callback and catch_up is not threading.current_thread():
            catch_up.join()

    def __enter__(self) -> LiveSettings[S]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LiveSettings({self._settings_cls.__name__}, {self._application!r}, {self._names!r})"

    def _build(self, *, first: bool = False) -> S:
        with reading_through(self._client) as reading:
            settings = self._settings_cls()
        if not reading.read:
            raise TypeError(
                f"{self._settings_cls.__name__} reads nothing from Config Service: return a"
                " ConfigServiceSettingsSource from its settings_customise_sources"
            )
        unwatched = sorted(
            f"{application}/{name}"
            for application, name in reading.read
            if application != self._application or name not in self._names
        )
        if first and unwatched:
            logger.warning(
                "live %s: it reads %s, which this holder does not follow: their changes rebuild nothing",
                self._settings_cls.__name__,
                ", ".join(unwatched),
            )
        return settings

    def _changed(self, change: Change) -> None:
        if change.event.name in self._names:
            self._rebuild(f"{change.event.action} of {change.event.name!r} (version {change.event.version})")

    def _catch_up_when_connected(self) -> None:
        while not self._stopped.is_set():
            if self._watch.wait_connected(CATCH_UP_EVERY_S):
                self._rebuild("the watch connected")
                return

    def _rebuild(self, why: str) -> None:
        with self._lock:
            if self._stopped.is_set():
                return
            old = self._current
            try:
                new = self._build()
            except Exception as error:
                logger.error(
                    "live %s of %s: kept the previous settings; after %s they fail: %s",
                    self._settings_cls.__name__,
                    self._application,
                    why,
                    _why(error),
                )
                return
            if new == old:
                return  # a change of keys these settings do not read
            self._current = new
            self._calling_back_in = threading.get_ident()
            try:
                for callback in self._callbacks:
                    self._call_back(callback, old, new)
            finally:
                self._calling_back_in = None

    def _call_back(self, callback: OnChange[S], old: S, new: S) -> None:
        try:
            callback(old, new)
        except Exception as error:
            # Where it failed, not what it said: its text may quote a setting.
            logger.error(
                "live %s: an on_change callback raised %s\n%s",
                self._settings_cls.__name__,
                type(error).__name__,
                "".join(traceback.format_tb(error.__traceback__)),
            )
