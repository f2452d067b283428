"""`ConfigClient` and `AsyncConfigClient`: Config Service by application and configuration
names, with conditional reads, retries and last-known-good copies.

The two share one core that does no I/O. Each operation is a generator: it yields the HTTP
calls it needs (a `Call`) and is sent back their responses, or has the error of a failed one
thrown in where it waited, so that it can handle it (a 404 for an id that went stale, a
service out of reach). The clients only drive it: a loop of a few lines that sends calls,
retries them as `RetryPolicy` says, and sleeps, blocking or not.
"""

import asyncio
import copy
import logging
import os
import threading
import time
import unicodedata
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, cast

import httpx

from .errors import (
    APPLICATION_NOT_FOUND,
    CONFIGURATION_NAME_TAKEN,
    CONFIGURATION_NOT_FOUND,
    ConfigServiceError,
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnreachable,
    not_found,
)
from .models import Application, ChangeEvent, Configuration, Diff, Revision
from .retry import Attempts, Reachability, RetryPolicy
from .sse import EventStreamParser
from .store import LastKnownGood

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

    from .flags import Flags
    from .live import LiveSettings
    from .watch import AsyncWatch, Change, Watch

    S = TypeVar("S", bound=BaseSettings)

logger = logging.getLogger(__name__)

URL_VARIABLE = "CONFIG_SERVICE_URL"
API_KEY_VARIABLE = "CONFIG_SERVICE_API_KEY"
API = "/api/v1"
# The change feed (Server-Sent Events).
EVENTS_PATH = f"{API}/events"
# The service's largest page: lists take as few round trips as they can.
PAGE_LIMIT = 1000
USER_AGENT = "config-service-client"
# The change feed beats every 15 s by default: a minute of silence is a dead connection.
STREAM_READ_TIMEOUT_S = 60.0

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One HTTP request an operation needs; the client adds the base URL and the API key.
    `fallback`: a last-known-good copy stands in if it fails (see retry.Reachability)."""

    method: str
    path: str
    params: dict[str, str] | None = None
    headers: dict[str, str] | None = None
    json: Any = None
    fallback: bool = False


# An operation: yields Calls, is sent their (successful) responses, returns its result.
Operation: TypeAlias = Generator[Call, httpx.Response, T]


@dataclass(frozen=True)
class _Copy:
    """A configuration as last read: the id it was read from (a name may come back as another
    configuration, whose versions start again at 1), its ETag and its body."""

    configuration_id: str
    etag: str
    body: dict[str, Any]


@dataclass(frozen=True)
class _Known:
    """A configuration name resolved: its id, and when the configuration was created (what a
    past version, which has its own date, is shown with)."""

    id: str
    created_at: str


def _quoted(version: int) -> str:
    return f'"{version}"'


def _same_name(held: Any, wanted: str) -> bool:
    # The service keeps names in NFC: "café" typed decomposed is the same name.
    return isinstance(held, str) and _nfc(held) == _nfc(wanted)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _falling_back(operation: Operation[T]) -> Operation[T]:
    """`operation`, its calls marked as having a last-known-good copy to fall back to."""
    try:
        call = next(operation)
        while True:
            try:
                response = yield replace(call, fallback=True)
            except ConfigServiceError as error:  # what the driver throws in: the operation's to handle
                call = operation.throw(error)
            else:
                call = operation.send(response)
    except StopIteration as finished:
        return cast(T, finished.value)


def _version_of(body: dict[str, Any]) -> int:
    version = body.get("version")
    return version if isinstance(version, int) else 0


def _body_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    if not isinstance(body, dict):
        raise ConfigServiceError(f"expected a JSON object from {response.request.url.path}")
    return body


def _items_of(response: httpx.Response) -> list[dict[str, Any]]:
    items = response.json()
    if not isinstance(items, list):
        raise ConfigServiceError(f"expected a JSON array from {response.request.url.path}")
    return [item for item in items if isinstance(item, dict)]


class ClientCore:
    """Everything the clients know and decide, without network I/O: names resolved to ids,
    the in-memory copies, the last-known-good store, and the operations. Its state is shared
    by the threads of one sync client (a watch refreshes on its own): each change to it is one
    dictionary operation, and the rest holds a lock.

    The operations do not touch the disk: what they keep or forget waits in `_unsaved` until
    the driver calls `save_copies`, after each call (the async client in a worker thread, so
    that an fsync does not stall its event loop)."""

    def __init__(self, base_url: str, cache_dir: str | os.PathLike[str] | None) -> None:
        self.base_url = base_url
        self.store = None if cache_dir is None else LastKnownGood(cache_dir, base_url)
        self.page_size = PAGE_LIMIT
        self.stale = False
        self.reachability = Reachability()
        self._application_ids: dict[str, str] = {}
        self._configurations: dict[tuple[str, str], _Known] = {}
        self._copies: dict[tuple[str, str, bool], _Copy] = {}
        self._warned: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        # Copies to write (a body) or remove (None) on disk, newest only: see save_copies.
        self._unsaved: dict[tuple[str, str, bool], dict[str, Any] | None] = {}
        # One writer at a time, so that a copy taken later is never overwritten by one taken before.
        self._disk_lock = threading.Lock()

    # --- names -----------------------------------------------------------------------------

    def application_id(self, application: str) -> Operation[str]:
        known = self._application_ids.get(application)
        if known is not None:
            return known
        response = yield Call("GET", f"{API}/applications", params={"name": application})
        found = next(
            (item for item in _items_of(response) if _same_name(item.get("name"), application)), None
        )
        if found is None:
            raise not_found("application", f"No application is named {application!r}")
        self._application_ids[application] = found["id"]
        return str(found["id"])

    def configuration_id(self, application: str, name: str) -> Operation[str]:
        known = self._configurations.get((application, name))
        if known is not None:
            return known.id
        found = yield from self._on_application(application, lambda app_id: self._find(app_id, name))
        if found is None:
            raise not_found(
                "configuration", f"Application {application!r} has no configuration named {name!r}"
            )
        self._know(application, found, as_named=name)
        return str(found["id"])

    def _find(self, application_id: str, name: str) -> Operation[dict[str, Any] | None]:
        params = {"application_id": application_id, "name": name}
        response = yield Call("GET", f"{API}/configurations", params=params)
        return next((item for item in _items_of(response) if _same_name(item.get("name"), name)), None)

    def _on_application(self, application: str, act: Callable[[str], Operation[T]]) -> Operation[T]:
        """`act` on the application's id; once more with the name resolved again when the id
        it knew is gone (the application deleted, and perhaps made again)."""
        cached = application in self._application_ids
        application_id = yield from self.application_id(application)
        try:
            return (yield from act(application_id))
        except NotFound as error:
            if not cached or error.problem_type != APPLICATION_NOT_FOUND:
                raise
        self._application_ids.pop(application, None)
        application_id = yield from self.application_id(application)
        return (yield from act(application_id))

    def _on_configuration(
        self, application: str, name: str, act: Callable[[str], Operation[T]]
    ) -> Operation[T]:
        """As _on_application, for a configuration's id."""
        cached = (application, name) in self._configurations
        configuration_id = yield from self.configuration_id(application, name)
        try:
            return (yield from act(configuration_id))
        except NotFound as error:
            if not cached or error.problem_type not in (CONFIGURATION_NOT_FOUND, APPLICATION_NOT_FOUND):
                raise
        self._configurations.pop((application, name), None)
        configuration_id = yield from self.configuration_id(application, name)
        return (yield from act(configuration_id))

    def _know(self, application: str, body: dict[str, Any], *, as_named: str | None = None) -> None:
        known = _Known(str(body["id"]), str(body.get("created_at")))
        self._configurations[(application, as_named or body["name"])] = known

    def _forget(self, application: str, name: str) -> None:
        """The configuration is gone (or no longer under this name): its copies too, in memory
        and on disk, or it would be served after a restart while the service is down."""
        self._configurations.pop((application, name), None)
        for revealed in (False, True):
            self._drop_copy((application, name, revealed))

    def _drop_copy(self, key: tuple[str, str, bool]) -> None:
        with self._lock:
            self._copies.pop(key, None)
            if self.store is not None:
                self._unsaved[key] = None

    # --- the disk --------------------------------------------------------------------------

    def has_unsaved(self) -> bool:
        """Whether a call that ends now has files to wait for: its own copies, or copies another
        call is writing (it takes them from _unsaved only once it holds the disk lock), which
        may be this one's too. A call returns only once what it read is on disk."""
        return bool(self._unsaved) or self._disk_lock.locked()

    def save_copies(self) -> None:
        """Write the copies kept since the last time to the last-known-good store, and remove
        those forgotten. Blocking (fsync): the async client calls it in a worker thread."""
        if self.store is None:
            return
        with self._disk_lock:
            with self._lock:
                work, self._unsaved = self._unsaved, {}
            for (application, name, revealed), body in work.items():
                try:
                    if body is None:
                        self.store.delete(application, name, revealed=revealed)
                    else:
                        self.store.save(application, name, body, revealed=revealed)
                except OSError as error:  # a full disk must not fail a read that succeeded
                    logger.warning(
                        "Could not update the last-known-good copy of %s/%s: %s", application, name, error
                    )

    def _saved_copy(self, key: tuple[str, str, bool]) -> dict[str, Any] | None:
        """The copy on disk, as it will be once what is unsaved is written."""
        if self.store is None:
            return None
        with self._lock:
            if key in self._unsaved:
                unsaved = self._unsaved[key]
                return None if unsaved is None else copy.deepcopy(unsaved)
        application, name, revealed = key
        return self.store.load(application, name, revealed=revealed)

    def _has_copy(self, application: str, name: str, reveal: bool) -> bool:
        key = (application, name, reveal)
        return key in self._copies or self._saved_copy(key) is not None

    # --- applications ----------------------------------------------------------------------

    def list_applications(self) -> Operation[list[Application]]:
        items = yield from self._paged(f"{API}/applications", {})
        for item in items:
            self._application_ids[item["name"]] = item["id"]
        return [Application.model_validate(item) for item in items]

    def create_application(self, name: str, comments: str | None) -> Operation[Application]:
        body: dict[str, Any] = {"name": name} if comments is None else {"name": name, "comments": comments}
        response = yield Call("POST", f"{API}/applications", json=body)
        created = Application.model_validate(_body_of(response))
        self._application_ids[name] = created.id
        return created

    def delete_application(self, application: str, if_match: int | None) -> Operation[None]:
        def delete(application_id: str) -> Operation[None]:
            headers = None if if_match is None else {"If-Match": _quoted(if_match)}
            yield Call("DELETE", f"{API}/applications/{application_id}", headers=headers)

        yield from self._on_application(application, delete)
        self._application_ids.pop(application, None)
        for app, name in list(self._configurations):
            if app == application:
                self._forget(app, name)

    def list_configurations(self, application: str) -> Operation[list[Configuration]]:
        def listed(application_id: str) -> Operation[list[dict[str, Any]]]:
            return (yield from self._paged(f"{API}/configurations", {"application_id": application_id}))

        items = yield from self._on_application(application, listed)
        for item in items:
            self._know(application, item)
        return [Configuration.model_validate(item) for item in items]

    # --- reads -----------------------------------------------------------------------------

    def get_configuration(
        self, application: str, name: str, version: int | None, reveal: bool
    ) -> Operation[Configuration]:
        if version is not None:
            return (yield from self._past_version(application, name, version, reveal))
        reading = self._on_configuration(
            application,
            name,
            lambda configuration_id: self._read(application, name, configuration_id, reveal),
        )
        # Checked only while down: it may read a file.
        if self.reachability.down and self._has_copy(application, name, reveal):
            reading = _falling_back(reading)
        try:
            body = yield from reading
        except ServiceUnreachable as unreachable:
            return self._last_known_good(application, name, reveal, unreachable)
        except NotFound as error:
            if error.problem_type in (CONFIGURATION_NOT_FOUND, APPLICATION_NOT_FOUND):
                self._forget(application, name)
            raise
        except Forbidden:
            if reveal:  # a key that may not see the secrets keeps no plaintext copy of them
                self._drop_copy((application, name, True))
            raise
        self._fresh(application, name)
        return Configuration.model_validate(body)

    def refresh(self, application: str, name: str) -> Operation[Configuration | None]:
        """Read the configuration again (conditionally), and its revealed copy if one is held."""
        try:
            body = yield from self._on_configuration(
                application,
                name,
                lambda configuration_id: self._read(application, name, configuration_id, False),
            )
            if (application, name, True) in self._copies:
                try:
                    yield from self._on_configuration(
                        application,
                        name,
                        lambda configuration_id: self._read(application, name, configuration_id, True),
                    )
                except Forbidden:  # the key lost the secrets scope: what it held is no longer its
                    self._drop_copy((application, name, True))
        except NotFound as error:
            if error.problem_type not in (CONFIGURATION_NOT_FOUND, APPLICATION_NOT_FOUND):
                raise
            self._forget(application, name)
            return None
        self._fresh(application, name)
        return Configuration.model_validate(body)

    def _read(
        self, application: str, name: str, configuration_id: str, reveal: bool
    ) -> Operation[dict[str, Any]]:
        key = (application, name, reveal)
        held = self._copies.get(key)
        headers = {"If-None-Match": held.etag} if held and held.configuration_id == configuration_id else None
        params = {"reveal": "true"} if reveal else None
        response = yield Call(
            "GET", f"{API}/configurations/{configuration_id}", params=params, headers=headers
        )
        if response.status_code == 304 and held is not None:
            return copy.deepcopy(held.body)
        body = _body_of(response)
        self._keep(application, name, body, response.headers.get("ETag"), revealed=reveal)
        return copy.deepcopy(body)

    def _keep(
        self, application: str, name: str, body: dict[str, Any], etag: str | None, *, revealed: bool
    ) -> None:
        """Hold `body` as the current copy, in memory and (at the next save_copies) on disk;
        unless a newer version of the same configuration is held already: answers of two
        threads may come back in any order, and the older must not win."""
        key = (application, name, revealed)
        configuration_id = str(body["id"])
        tag = etag or _quoted(int(body["version"]))
        with self._lock:
            held = self._copies.get(key)
            if (
                held is not None
                and held.configuration_id == configuration_id
                and _version_of(held.body) > _version_of(body)
            ):
                return
            self._copies[key] = _Copy(configuration_id, tag, body)
            if self.store is not None:
                self._unsaved[key] = body
        self._know(application, body)

    def _fresh(self, application: str, name: str) -> None:
        self.stale = False
        with self._lock:
            self._warned.discard((application, name))  # the next outage is worth a warning again

    def _last_known_good(
        self, application: str, name: str, reveal: bool, unreachable: ServiceUnreachable
    ) -> Configuration:
        """The copy held in memory, or else on disk; without one, `unreachable` stands."""
        held = self._copies.get((application, name, reveal))
        body = copy.deepcopy(held.body) if held else None
        if body is None:
            body = self._saved_copy((application, name, reveal))
        if body is None:
            raise unreachable
        with self._lock:
            first = (application, name) not in self._warned
            self._warned.add((application, name))
        if first:
            logger.warning(
                "Config Service is unreachable (%s); serving the last-known-good copy of %s/%s (version %s)",
                unreachable,
                application,
                name,
                body.get("version"),
            )
        self.stale = True
        return Configuration.model_validate(body)

    def _past_version(
        self, application: str, name: str, version: int, reveal: bool
    ) -> Operation[Configuration]:
        def read(configuration_id: str) -> Operation[dict[str, Any]]:
            params = {"reveal": "true"} if reveal else None
            path = f"{API}/configurations/{configuration_id}/versions/{version}"
            return _body_of((yield Call("GET", path, params=params)))

        revision = yield from self._on_configuration(application, name, read)
        known = self._configurations.get((application, name))
        application_id = yield from self.application_id(application)
        shaped = {key: value for key, value in revision.items() if key != "configuration_id"}
        shaped |= {
            "id": revision["configuration_id"],
            "application_id": application_id,
            "created_at": known.created_at if known else revision["created_at"],
            "updated_at": revision["created_at"],
        }
        self.stale = False
        return Configuration.model_validate(shaped)

    # --- writes ----------------------------------------------------------------------------

    def set(
        self,
        application: str,
        name: str,
        config: dict[str, Any],
        if_match: int | None,
        comments: str | None,
        create: bool,
    ) -> Operation[Configuration]:
        body: dict[str, Any] = {"name": name, "config": config}
        if comments is not None:
            body["comments"] = comments

        def put(configuration_id: str) -> Operation[Configuration]:
            headers = None if if_match is None else {"If-Match": _quoted(if_match)}
            path = f"{API}/configurations/{configuration_id}"
            return self._written(application, name, (yield Call("PUT", path, headers=headers, json=body)))

        try:
            return (yield from self._on_configuration(application, name, put))
        except NotFound as error:
            # With If-Match the caller expects a version of it to exist: no creating then.
            if not create or if_match is not None or error.problem_type != CONFIGURATION_NOT_FOUND:
                raise

        def post(application_id: str) -> Operation[Configuration]:
            created = {"application_id": application_id, **body}
            return self._written(
                application, name, (yield Call("POST", f"{API}/configurations", json=created))
            )

        try:
            return (yield from self._on_application(application, post))
        except Conflict as error:
            if error.problem_type != CONFIGURATION_NAME_TAKEN:
                raise
            # Made by someone else since it was looked for: update it, as asked.
            self._forget(application, name)
            return (yield from self._on_configuration(application, name, put))

    def delete_configuration(self, application: str, name: str, if_match: int | None) -> Operation[None]:
        def delete(configuration_id: str) -> Operation[None]:
            headers = None if if_match is None else {"If-Match": _quoted(if_match)}
            yield Call("DELETE", f"{API}/configurations/{configuration_id}", headers=headers)

        yield from self._on_configuration(application, name, delete)
        self._forget(application, name)

    def rollback(
        self, application: str, name: str, version: int, comment: str | None, if_match: int | None
    ) -> Operation[Configuration]:
        body: dict[str, Any] = {"version": version}
        if comment is not None:
            body["comment"] = comment
        headers = None if if_match is None else {"If-Match": _quoted(if_match)}

        def rollback(configuration_id: str) -> Operation[Configuration]:
            path = f"{API}/configurations/{configuration_id}/rollback"
            return self._written(application, name, (yield Call("POST", path, headers=headers, json=body)))

        return (yield from self._on_configuration(application, name, rollback))

    def _written(self, application: str, name: str, response: httpx.Response) -> Configuration:
        """A write's answer is the configuration as now stored: the copy a read would get."""
        body = _body_of(response)
        with self._lock:
            self._copies.pop((application, name, True), None)  # its secrets may have changed
        if body.get("name") != name:  # renamed by a rollback to a version with another name
            self._forget(application, name)
        else:
            self._keep(application, name, body, response.headers.get("ETag"), revealed=False)
        return Configuration.model_validate(copy.deepcopy(body))

    # --- history ---------------------------------------------------------------------------

    def history(self, application: str, name: str, limit: int | None) -> Operation[list[Revision]]:
        def versions(configuration_id: str) -> Operation[list[dict[str, Any]]]:
            path = f"{API}/configurations/{configuration_id}/versions"
            return (yield from self._paged(path, {}, limit))

        items = yield from self._on_configuration(application, name, versions)
        return [Revision.model_validate(item) for item in items]

    def diff(self, application: str, name: str, from_version: int, to_version: int | None) -> Operation[Diff]:
        params = {"from": str(from_version)}
        if to_version is not None:
            params["to"] = str(to_version)

        def diff(configuration_id: str) -> Operation[dict[str, Any]]:
            path = f"{API}/configurations/{configuration_id}/diff"
            return _body_of((yield Call("GET", path, params=params)))

        return Diff.model_validate((yield from self._on_configuration(application, name, diff)))

    def _paged(
        self, path: str, params: dict[str, str], limit: int | None = None
    ) -> Operation[list[dict[str, Any]]]:
        """Every item of a list, following its `Link: rel="next"` pages (or the first `limit`)."""
        items: list[dict[str, Any]] = []
        page_size = self.page_size if limit is None else max(1, min(limit, self.page_size))
        call = Call("GET", path, params={**params, "limit": str(page_size)})
        while True:
            response = yield call
            items.extend(_items_of(response))
            following = response.links.get("next", {}).get("url")
            if not following or (limit is not None and len(items) >= limit):
                return items if limit is None else items[:limit]
            # Only the path and query: the link names the host as the service saw it, which
            # behind a proxy is not the one to call.
            call = Call("GET", httpx.URL(following).raw_path.decode("ascii"))

    # --- events ----------------------------------------------------------------------------

    def events_call(self, application: str | None, after: int | None) -> Operation[Call]:
        """The call that opens the change feed."""
        params = None
        if application is not None:
            params = {"application_id": (yield from self.application_id(application))}
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if after is not None:
            headers["Last-Event-ID"] = str(after)
        return Call("GET", EVENTS_PATH, params=params, headers=headers)


def _client_settings(base_url: str | None, api_key: str | None) -> tuple[str, dict[str, str]]:
    """The base URL and the headers every request sends, from the arguments or else the
    environment."""
    url = base_url or os.environ.get(URL_VARIABLE)
    if not url:
        raise ValueError(f"No Config Service URL: pass base_url or set {URL_VARIABLE}")
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(
            f"The Config Service URL must be http:// or https:// with a host (from {URL_VARIABLE}?)"
        )
    key = api_key if api_key is not None else os.environ.get(API_KEY_VARIABLE)
    headers = {"User-Agent": USER_AGENT}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return url.rstrip("/"), headers


def _shown(url: str) -> str:
    """The URL without any credentials in it, for messages."""
    parsed = httpx.URL(url)
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{host}{port}{parsed.path.rstrip('/')}"


def _timeout(attempts: Attempts, timeout_s: float, stream: bool) -> httpx.Timeout:
    """A try's timeout: the client's, cut short by the deadline, but for a stream's reads,
    which wait for events that come when they come."""
    timeout = attempts.timeout_s(timeout_s)
    return httpx.Timeout(timeout, read=STREAM_READ_TIMEOUT_S) if stream else httpx.Timeout(timeout)


class _Base:
    """What the sync and async clients share beyond the core: settings, names and repr."""

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        timeout: float,
        cache_dir: str | os.PathLike[str] | None,
        retry: RetryPolicy | None,
    ) -> None:
        url, self._headers = _client_settings(base_url, api_key)
        self.base_url = url
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._core = ClientCore(url, cache_dir)
        self._target = f"Config Service at {_shown(url)}"

    @property
    def is_stale(self) -> bool:
        """True while the last read was answered from a last-known-good copy."""
        return self._core.stale

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={_shown(self.base_url)!r})"

    def _attempts(self, call: Call, deadline_at: float) -> Attempts:
        return Attempts(
            self._retry,
            call.method,
            deadline_at,
            target=self._target,
            path=call.path,
            reachability=self._core.reachability,
            fallback=call.fallback,
        )


class ConfigClient(_Base):
    """A blocking client. Thread-safe: a watch refreshes from its own thread."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 10.0,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout, cache_dir, retry)
        self._http = httpx.Client(
            base_url=self.base_url, headers=self._headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "ConfigClient":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- the driver ------------------------------------------------------------------------

    def _run(self, operation: Operation[T]) -> T:
        deadline_at = time.monotonic() + self._retry.deadline_s
        try:
            call = next(operation)
            while True:
                try:
                    response = self._exchange(call, deadline_at)
                except ConfigServiceError as error:
                    call = operation.throw(error)
                else:
                    call = operation.send(response)
        except StopIteration as finished:
            return cast(T, finished.value)
        finally:
            self._core.save_copies()

    def _exchange(self, call: Call, deadline_at: float, *, stream: bool = False) -> httpx.Response:
        attempts = self._attempts(call, deadline_at)
        while True:
            request = self._http.build_request(
                call.method,
                call.path,
                params=call.params,
                headers=call.headers,
                json=call.json,
                timeout=_timeout(attempts, self._timeout, stream),
            )
            try:
                response = self._http.send(request, stream=stream)
                if stream and response.status_code >= 400:
                    response.read()
            except httpx.TransportError as error:
                wait = attempts.after_error(error)
            else:
                try:
                    wait_or_done = attempts.after_response(response)
                except BaseException:
                    response.close()
                    raise
                if wait_or_done is None:
                    return response
                wait = wait_or_done
                response.close()
            time.sleep(wait)

    # --- the API ---------------------------------------------------------------------------

    def application_id(self, application: str) -> str:
        """The id of the application named `application` (NotFound if none)."""
        return self._run(self._core.application_id(application))

    def list_applications(self) -> list[Application]:
        return self._run(self._core.list_applications())

    def create_application(self, name: str, comments: str | None = None) -> Application:
        return self._run(self._core.create_application(name, comments))

    def delete_application(self, application: str, *, if_match: int | None = None) -> None:
        """Delete the application and its configurations (If-Match: `if_match`, the
        application's version, when given)."""
        self._run(self._core.delete_application(application, if_match))

    def list_configurations(self, application: str) -> list[Configuration]:
        return self._run(self._core.list_configurations(application))

    def get(self, application: str, name: str) -> dict[str, Any]:
        """The configuration's config: the settings themselves."""
        return self.get_configuration(application, name).config

    def get_configuration(
        self, application: str, name: str, *, version: int | None = None, reveal: bool = False
    ) -> Configuration:
        """The configuration, current or at `version`. A current read is conditional on the
        copy held in memory, and saved as the last-known-good copy; when the service cannot be
        reached, that copy is served (`is_stale` becomes True) if there is one."""
        return self._run(self._core.get_configuration(application, name, version, reveal))

    def refresh(self, application: str, name: str) -> Configuration | None:
        """Read the current version again (conditionally), updating the in-memory and
        last-known-good copies; None if the configuration no longer exists."""
        return self._run(self._core.refresh(application, name))

    def set(
        self,
        application: str,
        name: str,
        config: dict[str, Any],
        *,
        if_match: int | None = None,
        comments: str | None = None,
        create: bool = True,
    ) -> Configuration:
        """Replace the configuration's config (If-Match: `if_match`, when given); create it
        when there is none, `create` is True and no `if_match` says one was expected."""
        return self._run(self._core.set(application, name, config, if_match, comments, create))

    def delete_configuration(self, application: str, name: str, *, if_match: int | None = None) -> None:
        self._run(self._core.delete_configuration(application, name, if_match))

    def history(self, application: str, name: str, *, limit: int | None = None) -> list[Revision]:
        """Its versions, newest first (every one, or the newest `limit`)."""
        return self._run(self._core.history(application, name, limit))

    def diff(self, application: str, name: str, from_version: int, to_version: int | None = None) -> Diff:
        """An RFC 6902 patch from one version to another (by default, the current one)."""
        return self._run(self._core.diff(application, name, from_version, to_version))

    def rollback(
        self,
        application: str,
        name: str,
        version: int,
        *,
        comment: str | None = None,
        if_match: int | None = None,
    ) -> Configuration:
        """Make a new version equal to `version` (If-Match: `if_match`, the current version,
        when given)."""
        return self._run(self._core.rollback(application, name, version, comment, if_match))

    def events(
        self, application: str | None = None, *, after: int | None = None
    ) -> Generator[ChangeEvent, None, None]:
        """The change feed, as one connection: from the next change on, or replayed from after
        seq `after`. Opening it is retried within the deadline (ServiceUnreachable); a
        connection lost later ends the iteration with httpx's error: resume with the last
        seq seen (or use `watch`, which does)."""
        call = self._run(self._core.events_call(application, after))
        response = self._exchange(call, time.monotonic() + self._retry.deadline_s, stream=True)
        try:
            parser = EventStreamParser()
            for chunk in response.iter_bytes():
                for event in parser.feed(chunk):
                    yield ChangeEvent.model_validate_json(event.data)
        finally:
            response.close()

    def watch(self, application: str, name: str | None, callback: "Callable[[Change], None]") -> "Watch":
        """Follow the application's changes (of configuration `name`, or all) on a daemon
        thread, refreshing the copies before calling `callback`; `stop()` ends it."""
        from .watch import Watch

        return Watch(self, application, name, callback)

    def live(self, settings_cls: "type[S]", application: str, names: Sequence[str]) -> "LiveSettings[S]":
        """Settings rebuilt on every change of the named configurations."""
        from .live import LiveSettings

        return LiveSettings(self, settings_cls, application, names)

    def flags(self, application: str) -> "Flags":
        """The application's feature flags, evaluated in this process and kept current by a
        watch of its changes (see flags.py); `close()` it, or use it as a context manager."""
        from .flags import Flags

        return Flags(self, application)


class AsyncConfigClient(_Base):
    """The same as ConfigClient, for asyncio: every method is a coroutine."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 10.0,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout, cache_dir, retry)
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=self._headers, timeout=timeout, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncConfigClient":
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # --- the driver ------------------------------------------------------------------------

    async def _run(self, operation: Operation[T]) -> T:
        deadline_at = time.monotonic() + self._retry.deadline_s
        try:
            call = next(operation)
            while True:
                try:
                    response = await self._exchange(call, deadline_at)
                except ConfigServiceError as error:
                    call = operation.throw(error)
                else:
                    call = operation.send(response)
        except StopIteration as finished:
            return cast(T, finished.value)
        finally:
            if self._core.has_unsaved():  # files, with fsync: not on the event loop
                await asyncio.to_thread(self._core.save_copies)

    async def _exchange(self, call: Call, deadline_at: float, *, stream: bool = False) -> httpx.Response:
        attempts = self._attempts(call, deadline_at)
        while True:
            request = self._http.build_request(
                call.method,
                call.path,
                params=call.params,
                headers=call.headers,
                json=call.json,
                timeout=_timeout(attempts, self._timeout, stream),
            )
            try:
                response = await self._http.send(request, stream=stream)
                if stream and response.status_code >= 400:
                    await response.aread()
            except httpx.TransportError as error:
                wait = attempts.after_error(error)
            else:
                try:
                    wait_or_done = attempts.after_response(response)
                except BaseException:
                    await response.aclose()
                    raise
                if wait_or_done is None:
                    return response
                wait = wait_or_done
                await response.aclose()
            await asyncio.sleep(wait)

    # --- the API ---------------------------------------------------------------------------

    async def application_id(self, application: str) -> str:
        return await self._run(self._core.application_id(application))

    async def list_applications(self) -> list[Application]:
        return await self._run(self._core.list_applications())

    async def create_application(self, name: str, comments: str | None = None) -> Application:
        return await self._run(self._core.create_application(name, comments))

    async def delete_application(self, application: str, *, if_match: int | None = None) -> None:
        await self._run(self._core.delete_application(application, if_match))

    async def list_configurations(self, application: str) -> list[Configuration]:
        return await self._run(self._core.list_configurations(application))

    async def get(self, application: str, name: str) -> dict[str, Any]:
        return (await self.get_configuration(application, name)).config

    async def get_configuration(
        self, application: str, name: str, *, version: int | None = None, reveal: bool = False
    ) -> Configuration:
        return await self._run(self._core.get_configuration(application, name, version, reveal))

    async def refresh(self, application: str, name: str) -> Configuration | None:
        return await self._run(self._core.refresh(application, name))

    async def set(
        self,
        application: str,
        name: str,
        config: dict[str, Any],
        *,
        if_match: int | None = None,
        comments: str | None = None,
        create: bool = True,
    ) -> Configuration:
        return await self._run(self._core.set(application, name, config, if_match, comments, create))

    async def delete_configuration(self, application: str, name: str, *, if_match: int | None = None) -> None:
        await self._run(self._core.delete_configuration(application, name, if_match))

    async def history(self, application: str, name: str, *, limit: int | None = None) -> list[Revision]:
        return await self._run(self._core.history(application, name, limit))

    async def diff(
        self, application: str, name: str, from_version: int, to_version: int | None = None
    ) -> Diff:
        return await self._run(self._core.diff(application, name, from_version, to_version))

    async def rollback(
        self,
        application: str,
        name: str,
        version: int,
        *,
        comment: str | None = None,
        if_match: int | None = None,
    ) -> Configuration:
        return await self._run(self._core.rollback(application, name, version, comment, if_match))

    async def events(
        self, application: str | None = None, *, after: int | None = None
    ) -> AsyncGenerator[ChangeEvent, None]:
        """As ConfigClient.events."""
        call = await self._run(self._core.events_call(application, after))
        response = await self._exchange(call, time.monotonic() + self._retry.deadline_s, stream=True)
        try:
            parser = EventStreamParser()
            async for chunk in response.aiter_bytes():
                for event in parser.feed(chunk):
                    yield ChangeEvent.model_validate_json(event.data)
        finally:
            await response.aclose()

    def watch(
        self, application: str, name: str | None, callback: "Callable[[Change], Awaitable[None] | None]"
    ) -> "AsyncWatch":
        """As ConfigClient.watch, as a task of the running event loop; `await stop()` ends it."""
        from .watch import AsyncWatch

        return AsyncWatch(self, application, name, callback)
