"""Last-known-good copies: the configurations a client last read, on disk, so that a service
that starts while Config Service is down still starts, with the settings it last had.

Each copy is written whole or not at all (a temporary file in the same directory, then
os.replace), so a crash mid-write leaves the previous copy. Copies may hold secrets (a read
with reveal=true), so files are the owner's alone (0600) and a directory the store creates is
too (0700); a directory that already exists is left as its owner made it.
"""

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_FORMAT = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_READABLE_PART = 40  # of a name in a file name; the digest keeps them apart, not this


class LastKnownGood:
    """The copies of one service's configurations (one per base URL) in `cache_dir`: several
    services and clients may share a directory."""

    def __init__(self, cache_dir: str | os.PathLike[str], base_url: str = "") -> None:
        self.directory = Path(cache_dir)
        self.base_url = base_url.rstrip("/")

    def path(self, application: str, name: str, *, revealed: bool = False) -> Path:
        """The file of one configuration's copy: readable names, made unique by a digest of
        what they stand for (names may hold any character, and two may look alike once made
        safe)."""
        key = json.dumps([self.base_url, application, name, revealed])
        digest = hashlib.sha256(key.encode()).hexdigest()[:20]
        kind = ".revealed" if revealed else ""
        return self.directory / f"{_safe(application)}--{_safe(name)}{kind}.{digest}.json"

    def save(
        self, application: str, name: str, configuration_json: dict[str, Any], *, revealed: bool = False
    ) -> Path:
        """Keep `configuration_json` (the resource as the service sent it) as the copy."""
        self._make_directory()
        target = self.path(application, name, revealed=revealed)
        entry = {
            "format": _FORMAT,
            "base_url": self.base_url,
            "application": application,
            "name": name,
            "revealed": revealed,
            "saved_at": datetime.now(UTC).isoformat(),
            "configuration": configuration_json,
        }
        # mkstemp makes the file 0600 from the start: a secret is never readable by others,
        # not even for a moment.
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                json.dump(entry, file, ensure_ascii=False)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return target

    def load(self, application: str, name: str, *, revealed: bool = False) -> dict[str, Any] | None:
        """The copy saved last, or None if there is none (or none that can be read)."""
        target = self.path(application, name, revealed=revealed)
        try:
            entry = json.loads(target.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            logger.warning("The last-known-good copy %s cannot be read: %s", target, type(error).__name__)
            return None
        expected = {"format": _FORMAT, "base_url": self.base_url, "application": application, "name": name}
        if not isinstance(entry, dict) or any(entry.get(key) != value for key, value in expected.items()):
            logger.warning("The last-known-good copy %s is not one this client wrote; ignored", target)
            return None
        configuration = entry.get("configuration")
        return configuration if isinstance(configuration, dict) else None

    def delete(self, application: str, name: str, *, revealed: bool = False) -> bool:
        """Remove the copy (True if there was one): a configuration that is gone must not come
        back from disk at the next start-up, nor a secret stay there for a key no longer
        allowed to see it."""
        try:
            self.path(application, name, revealed=revealed).unlink()
        except FileNotFoundError:
            return False
        return True

    def _make_directory(self) -> None:
        if self.directory.is_dir():
            return
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkdir's mode is narrowed by the umask, never widened; say exactly what it is.
        os.chmod(self.directory, 0o700)


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name).strip("._")[:_READABLE_PART] or "_"
