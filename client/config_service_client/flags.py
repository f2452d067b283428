"""An application's feature flags, evaluated in this process: `client.flags(application)`.

The holder reads every flag of the application once (GET /applications/{id}/flags), compiles
them (flag_rules, the evaluator the service uses too) and evaluates locally: no request per
evaluation. A change feed on the application keeps it current: on each change of a flag it
reads the whole list again and swaps in a new snapshot. A snapshot is immutable and swapped by
one assignment, so an evaluation on any thread sees one whole list, old or new, never a mix.

With a `cache_dir` on the client, each list read is saved as a last-known-good copy: a process
that starts while the service is down evaluates the flags it had (`is_stale` True) until the
feed connects and the list can be read again.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from .client import API, Call, Operation, _falling_back, _items_of
from .errors import APPLICATION_NOT_FOUND, NotFound, ServiceUnreachable
from .flag_rules import CompiledFlag
from .models import ChangeEvent
from .watch import EventFeed, transient

if TYPE_CHECKING:
    from .client import ConfigClient

T = TypeVar("T")
OnFlagsChange = Callable[[frozenset[str]], None]

logger = logging.getLogger(__name__)

FLAG_NOT_FOUND: Final = "FLAG_NOT_FOUND"
# A definition this client cannot evaluate (written by a newer service, say).
PARSE_ERROR: Final = "PARSE_ERROR"
# The name the list's last-known-good copy is kept under: a NUL, which no configuration name
# may hold, so that it can never be taken for (or overwrite) a configuration's copy.
FLAGS_COPY_NAME: Final = "\x00flags"
# As live.py: how long the first read waits for the feed, so that no change made after the
# read is missed; a service that is down costs this much at start-up.
CONNECT_TIMEOUT_S = 5.0
# A holder that started without its feed looks this often whether it has connected, to read
# again what changed meanwhile.
CATCH_UP_EVERY_S = 0.5
# A list read after a change that does not show it yet (a process of the service whose cache
# has not heard of it, a moment behind the one that told us) is read again, for so long at most:
# after that, the change must have been undone or superseded (a flag created, then deleted).
BEHIND_FOR_AT_MOST_S = 2.0
READ_BEHIND_AGAIN_AFTER_S = 0.01

_NO_CONTEXT: Final[Mapping[str, Any]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class FlagEvaluation:
    """One flag's answer for one context. `reason` is one of flag_rules.REASONS; with "ERROR",
    `error_code` says why (FLAG_NOT_FOUND, PARSE_ERROR) and `value` and `variant` are None."""

    value: Any
    variant: str | None
    reason: str
    error_code: str | None = None


_NOT_FOUND: Final = FlagEvaluation(None, None, "ERROR", FLAG_NOT_FOUND)
_UNREADABLE: Final = FlagEvaluation(None, None, "ERROR", PARSE_ERROR)


@dataclass(frozen=True)
class _Snapshot:
    """The flags as read at one moment: never changed, only replaced."""

    compiled: Mapping[str, CompiledFlag]
    unreadable: frozenset[str]
    versions: Mapping[str, tuple[str, int]]  # key -> (id, version): what a change changed
    stale: bool

    @classmethod
    def of(cls, definitions: list[dict[str, Any]], *, stale: bool) -> _Snapshot:
        compiled: dict[str, CompiledFlag] = {}
        unreadable: set[str] = set()
        versions: dict[str, tuple[str, int]] = {}
        for definition in definitions:
            key = definition.get("key")
            if not isinstance(key, str):
                continue
            versions[key] = (str(definition.get("id")), _version_of(definition))
            try:
                compiled[key] = CompiledFlag(key, definition)
            except (KeyError, TypeError, ValueError) as error:
                # Its key and the error's type only: a message may quote a variant's value.
                logger.error(
                    "flag %r cannot be evaluated here (%s); it answers PARSE_ERROR", key, type(error).__name__
                )
                unreadable.add(key)
        return cls(MappingProxyType(compiled), frozenset(unreadable), MappingProxyType(versions), stale)

    def changed_since(self, old: _Snapshot) -> frozenset[str]:
        keys = self.versions.keys() | old.versions.keys()
        return frozenset(key for key in keys if self.versions.get(key) != old.versions.get(key))

    def behind(self, old: _Snapshot, event: ChangeEvent | None) -> bool:
        """Whether this list is older than what was held (a flag at a lower version), or does
        not show `event` yet: a list from a process of the service that has not heard of it."""
        for key, (flag_id, version) in old.versions.items():
            now = self.versions.get(key)
            if now is not None and now[0] == flag_id and now[1] < version:
                return True
        if event is None or event.name is None:
            return False
        now = self.versions.get(event.name)
        if event.action.endswith(".deleted"):
            return now is not None and now[0] == event.entity_id
        return now is None or now[0] != event.entity_id or now[1] < (event.version or 0)


def _version_of(definition: Mapping[str, Any]) -> int:
    version = definition.get("version")
    return version if isinstance(version, int) else 0


def _listing(client: ConfigClient, application: str) -> Operation[list[dict[str, Any]]]:
    """Every flag of the application (the service does not page this list)."""

    def listed(application_id: str) -> Operation[list[dict[str, Any]]]:
        return _items_of((yield Call("GET", f"{API}/applications/{application_id}/flags")))

    return client._core._on_application(application, listed)


def _of_kind(value: Any, default: Any) -> bool:
    """Whether `value` can stand where `default` does (a bool is no number, as in JSON)."""
    if default is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float)
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, Mapping):
        return isinstance(value, Mapping)
    if isinstance(default, list):
        return isinstance(value, list)
    return isinstance(value, type(default))


class Flags:
    """The flags of `application`, evaluated here and kept current; `close()` stops following
    (what it holds stays evaluable)."""

    def __init__(
        self, client: ConfigClient, application: str, *, connect_timeout_s: float = CONNECT_TIMEOUT_S
    ) -> None:
        self._client = client
        self._application = application
        self._callbacks: list[OnFlagsChange] = []
        # One read-and-swap at a time: a list read earlier must not replace one read later.
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._catch_up: threading.Thread | None = None
        self._feed = EventFeed(client, application)
        self._thread = threading.Thread(
            target=self._follow, name=f"config-service-flags:{application}", daemon=True
        )
        # Before the first read: a change that comes meanwhile is read again after it (under the lock).
        with self._lock:
            self._thread.start()
            try:
                watching = self._feed.wait_connected(connect_timeout_s)
                self._snapshot = self._first_snapshot()
            except BaseException:
                self._stopped.set()
                self._feed.stop()
                raise
        if not watching or self._snapshot.stale:
            self._catch_up = threading.Thread(
                target=self._catch_up_when_connected,
                name=f"config-service-flags-catch-up:{application}",
                daemon=True,
            )
            self._catch_up.start()

    # --- evaluating ------------------------------------------------------------------------

    def evaluate(self, key: str, context: Mapping[str, Any] | None = None) -> FlagEvaluation:
        """The flag's value for `context`, from the flags held: no request. An unknown key
        answers reason "ERROR", error_code FLAG_NOT_FOUND."""
        snapshot = self._snapshot  # once: a swap meanwhile must not mix two lists
        compiled = snapshot.compiled.get(key)
        if compiled is None:
            return _UNREADABLE if key in snapshot.unreadable else _NOT_FOUND
        found = compiled.evaluate(_NO_CONTEXT if context is None else context)
        return FlagEvaluation(found.value, found.variant, found.reason)

    def value(self, key: str, default: T, context: Mapping[str, Any] | None = None) -> T:
        """The flag's value, or `default` when there is no such flag or its value is not of
        `default`'s type (an int stands for a float; None as default takes any value)."""
        result = self.evaluate(key, context)
        if result.error_code is not None or not _of_kind(result.value, default):
            return default
        if isinstance(default, float) and not isinstance(result.value, float):
            return cast(T, float(result.value))
        return cast(T, result.value)

    def keys(self) -> list[str]:
        """The keys of the flags held, in order."""
        snapshot = self._snapshot
        return sorted(snapshot.versions)

    @property
    def is_stale(self) -> bool:
        """True while the flags held are the last-known-good copy, not yet read again."""
        return self._snapshot.stale

    @property
    def application(self) -> str:
        return self._application

    def on_change(self, callback: OnFlagsChange) -> OnFlagsChange:
        """Call `callback(keys)` with the keys of the flags changed (created, changed or
        deleted) after each new list is swapped in; usable as a decorator. Called on the
        holder's thread; one that raises is logged."""
        self._callbacks = [*self._callbacks, callback]  # a new list: a swap under way keeps its own
        return callback

    # --- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        """Stop following the changes; a read under way is finished first."""
        self._stopped.set()
        self._feed.stop()
        for thread in (self._thread, self._catch_up):
            if thread is not None and thread is not threading.current_thread():
                thread.join()

    def __enter__(self) -> Flags:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Flags({self._application!r}, {len(self._snapshot.versions)} flags)"

    # --- reading ---------------------------------------------------------------------------

    def _first_snapshot(self) -> _Snapshot:
        operation = _listing(self._client, self._application)
        core = self._client._core
        if core.reachability.down and self._saved() is not None:
            operation = _falling_back(operation)  # tried once, not for a whole deadline
        try:
            definitions = self._client._run(operation)
        except ServiceUnreachable as unreachable:
            saved = self._saved()
            if saved is None:
                raise
            logger.warning(
                "Config Service is unreachable (%s); evaluating the last-known-good flags of %s (%d flags)",
                unreachable,
                self._application,
                len(saved),
            )
            return _Snapshot.of(saved, stale=True)
        self._save(definitions)
        return _Snapshot.of(definitions, stale=False)

    def _read_again(self, why: str, event: ChangeEvent | None = None) -> None:
        """Read the list and swap it in; raises what the read raised. A list that is behind
        what was held, or behind `event`, is read again for a moment (BEHIND_FOR_AT_MOST_S)."""
        with self._lock:
            if self._stopped.is_set():
                return
            old = self._snapshot
            deadline = time.monotonic() + BEHIND_FOR_AT_MOST_S
            while True:
                try:
                    definitions = self._client._run(_listing(self._client, self._application))
                except NotFound as error:
                    if error.problem_type != APPLICATION_NOT_FOUND:
                        raise
                    logger.warning(
                        "flags of %s: the application is gone; no flags from now on", self._application
                    )
                    definitions, fresh = [], _Snapshot.of([], stale=False)
                    self._forget_saved()
                    break
                fresh = _Snapshot.of(definitions, stale=False)
                if not fresh.behind(old, event) or time.monotonic() > deadline or self._stopped.is_set():
                    self._save(definitions)
                    break
                self._stopped.wait(READ_BEHIND_AGAIN_AFTER_S)
            self._snapshot = fresh
            changed = self._snapshot.changed_since(old)
            logger.debug(
                "flags of %s: read again after %s; changed: %s", self._application, why, sorted(changed)
            )
            if changed:
                for callback in self._callbacks:
                    self._call_back(callback, changed)

    def _call_back(self, callback: OnFlagsChange, changed: frozenset[str]) -> None:
        try:
            callback(changed)
        except Exception as error:
            # Where it failed, not what it said: its text may quote a flag's value.
            logger.error(
                "flags of %s: an on_change callback raised %s\n%s",
                self._application,
                type(error).__name__,
                "".join(traceback.format_tb(error.__traceback__)),
            )

    def _follow(self) -> None:
        with closing(self._feed.events()) as events:
            for event in events:
                if event.entity_type == "flag":
                    self._changed(event)

    def _changed(self, event: ChangeEvent) -> None:
        try:
            self._read_again(f"{event.action} of {event.name!r} (version {event.version})", event)
        except Exception as error:
            if transient(error):
                self._feed.again(error)  # the same change comes again, on a new connection
            else:
                logger.error(
                    "flags of %s: could not read them again after %s (seq %d): %s; kept the previous",
                    self._application,
                    event.action,
                    event.seq,
                    type(error).__name__,
                )

    def _catch_up_when_connected(self) -> None:
        while not self._stopped.is_set():
            if self._feed.wait_connected(CATCH_UP_EVERY_S):
                try:
                    self._read_again("the change feed connected")
                except Exception as error:
                    logger.debug(
                        "flags of %s: catching up failed (%s)", self._application, type(error).__name__
                    )
                    self._stopped.wait(CATCH_UP_EVERY_S)
                    continue
                return

    # --- the last-known-good copy ----------------------------------------------------------

    def _saved(self) -> list[dict[str, Any]] | None:
        store = self._client._core.store
        entry = None if store is None else store.load(self._application, FLAGS_COPY_NAME)
        flags = None if entry is None else entry.get("flags")
        return [item for item in flags if isinstance(item, dict)] if isinstance(flags, list) else None

    def _save(self, definitions: list[dict[str, Any]]) -> None:
        store = self._client._core.store
        if store is None:
            return
        try:
            store.save(self._application, FLAGS_COPY_NAME, {"flags": definitions})
        except OSError as error:  # a full disk must not lose flags that were read
            logger.warning("Could not update the last-known-good flags of %s: %s", self._application, error)

    def _forget_saved(self) -> None:
        store = self._client._core.store
        if store is not None:
            store.delete(self._application, FLAGS_COPY_NAME)
