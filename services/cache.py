"""Rendered JSON of single configurations and applications, and each application's flags,
kept in process memory so that most reads never reach the database.

What a reader may see: a change made by this process is visible to the next read at once
(writers drop what they changed after committing, before answering). A change made by
another process is visible once the change feed has heard of it: within the notification
latency, about a millisecond here. A read that started before a change can never put the
old state back, because each key remembers when it was last dropped and a fill from an
earlier read is refused; likewise a deleted application remembers when it was deleted, so
no earlier read can put back one of its configurations, cached then or not. While the
LISTEN connection is down, changes made elsewhere would go unnoticed, so the cache is
emptied and bypassed until it is back.
"""

import gzip
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from config import metrics
from models.changes import ChangeEvent

# How many dropped keys and deleted applications to remember before forgetting them all at
# once (and refusing every fill from a read that began before that moment).
DROPPED_KEYS_REMEMBERED = 100_000
# Bodies from this size on go gzip-compressed to a client that accepts it (api/compression.py
# for every other response). Below it, the bytes saved do not pay for the work.
COMPRESS_FROM_BYTES = 1024
# zlib's default: level 9 costs about twice the time for a body one or two per cent smaller.
GZIP_LEVEL = 6


# Keys name the kind too: an application's id in a configuration's URL must not find it.
Kind = Literal["configuration", "application", "flags"]
Key = tuple[Kind, str]


@dataclass(frozen=True)
class Representation:
    body: bytes  # the JSON document, as sent
    version: int
    etag: str
    application_id: str  # a configuration's application; an application's own id
    # What the body was made from, where a reader needs more than the bytes: an application's
    # flags, compiled to evaluate (services/flags.py).
    content: object = field(default=None, repr=False, compare=False)
    # Response heads, ready to send: computed once per version, not per read.
    headers: list[tuple[bytes, bytes]] = field(init=False, repr=False, compare=False)
    not_modified_headers: list[tuple[bytes, bytes]] = field(init=False, repr=False, compare=False)

    # The head when the body could have been compressed but is not: what the route's head
    # becomes on its way out through the compression middleware.
    uncompressed_headers: list[tuple[bytes, bytes]] = field(init=False, repr=False, compare=False)
    compressible: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        etag = (b"etag", self.etag.encode())
        head = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.body)).encode()),
            etag,
        ]
        object.__setattr__(self, "headers", head)
        object.__setattr__(self, "not_modified_headers", [etag])
        object.__setattr__(self, "compressible", len(self.body) >= COMPRESS_FROM_BYTES)
        varying = [*head, VARY_ACCEPT_ENCODING] if self.compressible else head
        object.__setattr__(self, "uncompressed_headers", varying)

    @cached_property
    def gzipped(self) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """The head and body sent gzip-compressed: compressed on first use, once per version
        (each version is a new Representation). The ETag stays the version's: it names the
        version, not the bytes, and If-None-Match is compared weakly."""
        body = gzip.compress(self.body, GZIP_LEVEL, mtime=0)
        head = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"etag", self.etag.encode()),
            VARY_ACCEPT_ENCODING,
            (b"content-encoding", b"gzip"),
        ]
        return head, body


VARY_ACCEPT_ENCODING = (b"vary", b"Accept-Encoding")


class RepresentationCache:
    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[Key, Representation] = OrderedDict()
        self._epoch = 0  # advanced by every drop
        self._dropped_at: dict[Key, int] = {}
        # A deletion names no configurations, and a read may be fetching one that was never
        # cached; ids are never reused, so the application's id marks them all.
        self._deleted_at: dict[str, int] = {}
        self._forgotten_before = 0
        self._suspended = capacity == 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key, *, count_miss: bool = True) -> Representation | None:
        """The representation, if held. A miss is counted unless the caller will read the
        database next and count it there (the fast read path, which hands a miss on)."""
        entry = None if self._suspended else self._entries.get(key)
        if entry is None:
            if count_miss:
                metrics.CACHE_MISSES.inc()
            return None
        self._entries.move_to_end(key)
        metrics.CACHE_HITS.inc()
        return entry

    async def read_through(
        self, key: Key, load: Callable[[], Awaitable[Representation | None]]
    ) -> Representation | None:
        """The cached representation, or else what `load` reads (None: no such resource)."""
        cached = self.get(key)
        if cached is not None:
            return cached
        read_started = self.read_started()
        fresh = await load()
        if fresh is not None:
            self.put(key, fresh, read_started)
        return fresh

    def read_started(self) -> int:
        """Call before reading what you will `put`: the moment the read began."""
        return self._epoch

    def put(self, key: Key, representation: Representation, read_started: int) -> None:
        if self._suspended or self._changed_since(key, representation.application_id, read_started):
            return  # the read may have seen a state that was changed meanwhile
        self._entries[key] = representation
        self._entries.move_to_end(key)
        if len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
            metrics.CACHE_EVICTIONS.labels("capacity").inc()

    def drop(self, *keys: Key) -> None:
        self._epoch += 1
        for key in keys:
            self._dropped_at[key] = self._epoch
            if self._entries.pop(key, None) is not None:
                metrics.CACHE_EVICTIONS.labels("changed").inc()
        self._bound_memory()

    def drop_application(self, application_id: str) -> None:
        """The application and every configuration of it, also those being read now."""
        children = [key for key, entry in self._entries.items() if entry.application_id == application_id]
        self.drop(("application", application_id), *children)
        self._deleted_at[application_id] = self._epoch
        self._bound_memory()

    def apply(self, change: ChangeEvent) -> None:
        """What the change feed reports changed is dropped."""
        if change.action == "configuration.revealed":
            return  # a reveal reads; it changes nothing kept here
        if change.action == "schema.versioned":
            # A new version may mark values secret, and seal them in place in the configurations
            # that follow it (services/schemas.py): which ones, only the schema knows. Rare:
            # everything goes, and is read again as asked.
            self.drop_all()
        elif change.action == "application.deleted":
            self.drop_application(change.application_id)
        elif change.entity_type == "configuration":  # its application's configuration_ids change too
            self.drop(("configuration", change.entity_id), ("application", change.application_id))
        elif change.entity_type == "application":
            self.drop(("application", change.entity_id))
        elif change.entity_type == "flag":
            self.drop(("flags", change.application_id))

    def drop_all(self) -> None:
        """Everything, also what is being read now."""
        metrics.CACHE_EVICTIONS.labels("changed").inc(len(self._entries))
        self._entries.clear()
        self._epoch += 1
        self._forget_drops()

    def suspend(self) -> None:
        """Empty the cache and bypass it: changes may be happening unheard."""
        self._suspended = True
        metrics.CACHE_EVICTIONS.labels("suspended").inc(len(self._entries))
        self._entries.clear()
        self._epoch += 1
        self._forget_drops()

    def resume(self) -> None:
        self._suspended = self._capacity == 0

    def _changed_since(self, key: Key, application_id: str, read_started: int) -> bool:
        forgotten = self._forgotten_before
        return (
            self._dropped_at.get(key, forgotten) > read_started
            or self._deleted_at.get(application_id, forgotten) > read_started
        )

    def _bound_memory(self) -> None:
        if len(self._dropped_at) + len(self._deleted_at) > DROPPED_KEYS_REMEMBERED:
            self._forget_drops()

    def _forget_drops(self) -> None:
        self._dropped_at.clear()
        self._deleted_at.clear()
        self._forgotten_before = self._epoch
