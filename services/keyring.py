"""Who a bearer secret belongs to, answered from process memory after the key's first use.

Checking a key must cost a read request no query: the ring keeps each key it has seen by the
SHA-256 of its secret (a lookup by hash compares no secret byte by byte). It forgets a key as
soon as the change feed reports a change to it, within the notification latency on every
process. A lookup that began before such a change may not put what it read back. While the
LISTEN connection is down, revocations elsewhere would go unheard, so the ring is emptied and
every request reads the database until it is back (as the representation cache does).

It also keeps `last_used_at` to the minute: the first use of a key in each minute writes it,
in the background; the other uses in that minute write nothing.
"""

import asyncio
import logging
import time
from datetime import UTC, datetime

from database.errors import DatabaseUnavailable
from database.pool import Database
from models.api_keys import Principal, rank_of
from models.changes import ChangeEvent
from repositories import api_keys
from services.api_keys import digest

logger = logging.getLogger(__name__)

TOUCH_EVERY_S = 60.0


def principal_of(row: dict, default_rate_limit: int) -> Principal:
    reach = None if row["application_ids"] is None else frozenset(row["application_ids"])
    expires = row["expires_at"]
    return Principal(
        key_id=row["id"],
        name=row["name"],
        rank=rank_of(row["scopes"]),
        reach=reach,
        rate_limit_per_second=row["rate_limit_per_second"] or default_rate_limit,
        expires_at=None if expires is None else expires.timestamp(),
        reveals="secrets" in row["scopes"],
    )


class KeyRing:
    def __init__(self, db: Database, default_rate_limit: int) -> None:
        self._db = db
        self._default_rate_limit = default_rate_limit
        self._by_digest: dict[bytes, Principal] = {}
        self._epoch = 0  # advanced by every change to any key
        self._suspended = False
        self._touched_at: dict[str, float] = {}
        self._touching: set[asyncio.Task] = set()

    @property
    def generation(self) -> int:
        """A number that every change to any key, and the ring's emptying, advances: what is
        derived from the ring holds while it stays the same."""
        return self._epoch

    def cached(self, secret: str) -> Principal | None:
        """The key's principal if this process knows it; None means: ask `lookup`."""
        return None if self._suspended else self._by_digest.get(digest(secret))

    async def lookup(self, secret: str) -> Principal | None:
        """The key's principal, or None for a secret no key has (revoked keys included)."""
        hashed = digest(secret)
        if not self._suspended and (known := self._by_digest.get(hashed)) is not None:
            return known
        started = self._epoch
        row = await self._db.read(lambda conn: api_keys.by_secret(conn, hashed))
        if row is None:
            return None
        principal = principal_of(row, self._default_rate_limit)
        if not self._suspended and self._epoch == started:
            self._by_digest[hashed] = principal
        return principal

    def apply(self, change: ChangeEvent) -> None:
        """Subscribed to the change feed: a key that changed is forgotten."""
        if change.entity_type == "api_key":
            self.forget(change.entity_id)

    def forget(self, key_id: str) -> None:
        """Called by this process's own revocation too, at once, before the feed tells it."""
        self._epoch += 1
        self._by_digest = {h: p for h, p in self._by_digest.items() if p.key_id != key_id}

    def suspend(self) -> None:
        self._suspended = True
        self._epoch += 1
        self._by_digest.clear()

    def resume(self) -> None:
        self._suspended = False

    def used(self, principal: Principal) -> None:
        """Note a use of the key; its first use in a minute is written, in the background."""
        if principal.key_id is None:
            return
        now = time.monotonic()
        if now - self._touched_at.get(principal.key_id, -TOUCH_EVERY_S) < TOUCH_EVERY_S:
            return
        self._touched_at[principal.key_id] = now
        task = asyncio.get_running_loop().create_task(self._touch(principal.key_id, datetime.now(UTC)))
        self._touching.add(task)
        task.add_done_callback(self._touching.discard)

    async def _touch(self, key_id: str, moment: datetime) -> None:
        try:
            await self._db.write(lambda conn: api_keys.touch(conn, {key_id: moment}))
        except DatabaseUnavailable as error:
            # Only a timestamp is lost; the next use after the minute tries again.
            logger.info("could not record the use of a key: %s", error.detail)
            self._touched_at.pop(key_id, None)

    async def drain(self) -> None:
        """Wait for background writes of last use (at shutdown)."""
        if self._touching:
            await asyncio.gather(*self._touching, return_exceptions=True)
