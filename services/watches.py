"""Long polling: hold a read until the configuration changes, without a connection or a
thread per waiting client."""

import asyncio

from config import metrics
from models.api_keys import Reach
from models.changes import ChangeEvent
from services.cache import Representation
from services.change_feed import ChangeFeed
from services.configurations import ConfigurationService
from services.followers import of_entity


class ConfigurationWatcher:
    def __init__(self, configurations: ConfigurationService, feed: ChangeFeed) -> None:
        self._configurations = configurations
        self._feed = feed

    async def wait_for_change(
        self, configuration_id: str, known_version: int | None, timeout_s: float, reach: Reach = None
    ) -> tuple[Representation, bool]:
        """The configuration once it is newer than `known_version` (default: the current
        one), and True; or, after `timeout_s` without a change, as it is and False.
        Raises ConfigurationNotFound if it does not exist or is deleted meanwhile."""
        since = self._feed.tail  # before the read, so no change can slip between the two
        current = await self._configurations.representation(configuration_id, reach)
        if known_version is not None and current.version > known_version:
            return current, True
        until = asyncio.get_running_loop().time() + timeout_s

        def concerns(change: ChangeEvent) -> bool:
            return change.entity_id == configuration_id or (
                change.action == "application.deleted" and change.application_id == current.application_id
            )

        # Only the changes of these two things wake this wait, not every other change.
        topics = (of_entity(configuration_id), of_entity(current.application_id))
        with metrics.WATCHERS.labels("long_poll").track_inprogress():
            async for _ in self._feed.follow(since, topics=topics, wanted=concerns, until=until):
                # The feed has dropped the cached copy already: this reads the new one.
                latest = await self._configurations.representation(configuration_id)
                if latest.version != current.version:
                    return latest, True
        return current, False
