"""The keys that seal the values schemas mark secret (services/secrets.py): where they come
from, and what makes one."""

import base64
import binascii
import os
from pathlib import Path

KEY_BYTES = 32  # AES-256
KEY_FILE = "secrets-key"


class SecretsKeyMissing(Exception):
    """No key to seal secrets with, where one must be given (ENVIRONMENT=production)."""


def parse_key(text: str) -> bytes:
    """A key from its base64 text; the message of a bad one never holds the text."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a secrets key must be base64") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"a secrets key must be {KEY_BYTES} bytes (base64 of them), not {len(raw)}")
    return raw


def new_key_text() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def _keys_in(text: str) -> list[bytes]:
    lines = (line.strip() for line in text.replace(",", "\n").splitlines())
    return [parse_key(line) for line in lines if line and not line.startswith("#")]


def load_keys(keys_text: str | None, key_file: Path | None, data_dir: Path, production: bool) -> list[bytes]:
    """The keys SECRETS_KEY (comma-separated, the first sealing) or SECRETS_KEY_FILE (one a
    line) name; without either, in development, one made once under DATA_DIR (mode 0600). In
    production a missing key is an error: secrets sealed with a key nobody kept are lost."""
    if keys_text:
        return _keys_in(keys_text)
    if key_file is not None:
        return _keys_in(key_file.read_text())
    if production:
        raise SecretsKeyMissing(
            "ENVIRONMENT=production needs a key to seal secrets with: set SECRETS_KEY (base64 of 32 "
            "random bytes, e.g. `openssl rand -base64 32`) or SECRETS_KEY_FILE"
        )
    path = data_dir / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # 0600 from the start, never through a link or a file someone left there.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:  # another process made it meanwhile
            pass
        else:
            with os.fdopen(fd, "w") as file:
                file.write(new_key_text() + "\n")
    return _keys_in(path.read_text())
