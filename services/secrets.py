"""Values a schema marks secret: sealed with AES-256-GCM before they reach the database,
shown masked everywhere, opened only for a key that may see them.

A sealed value is stored where the value was, as a small object, so the document keeps its
shape: {"$secret": "v1:<key id>:<base64 of nonce and ciphertext>"}. The plaintext is the
value's JSON, so its type survives. The associated data is the configuration's id and the
value's JSON Pointer: a sealed value copied to another configuration, or to another place in
the same one, does not open.

Several keys may be configured: the first seals, any opens (a key is named by a short hash
of itself), so keys are rotated by adding a new one first and re-sealing (services/secret_admin.py).
"""

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from models.errors import SecretUnreadable
from models.exact_json import dumps as exact_dumps
from models.exact_json import loads as exact_loads
from models.json_pointer import at, set_at
from models.sealed import MASK, SEALED, copy_json, holds_sealed, is_sealed, walk

VERSION = "v1"
NONCE_BYTES = 12


@dataclass(frozen=True)
class SecretKey:
    id: str
    aead: AESGCM


def key_id(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:8]


class SecretBox:
    """Seals with the first key, opens with any."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one secrets key is needed")
        self._keys = [SecretKey(key_id(raw), AESGCM(raw)) for raw in keys]
        self._by_id = {key.id: key for key in self._keys}

    @property
    def sealing_key_id(self) -> str:
        return self._keys[0].id

    def seal(self, value: Any, configuration_id: str, path: str) -> dict[str, str]:
        key = self._keys[0]
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = key.aead.encrypt(nonce, exact_dumps(value).encode(), _context(configuration_id, path))
        token = base64.b64encode(nonce + ciphertext).decode()
        return {SEALED: f"{VERSION}:{key.id}:{token}"}

    def open(self, sealed: dict[str, str], configuration_id: str, path: str) -> Any:
        try:
            version, kid, token = sealed[SEALED].split(":", 2)
            key = self._by_id[kid] if version == VERSION else None
            blob = base64.b64decode(token, validate=True)
        except (ValueError, KeyError, binascii.Error):
            raise SecretUnreadable(path) from None
        if key is None:
            raise SecretUnreadable(path)
        try:
            plain = key.aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _context(configuration_id, path))
        except InvalidTag:
            raise SecretUnreadable(path) from None
        return exact_loads(plain)

    def sealed_with_first_key(self, sealed: dict[str, str]) -> bool:
        return sealed[SEALED].startswith(f"{VERSION}:{self.sealing_key_id}:")


def _context(configuration_id: str, path: str) -> bytes:
    return f"{configuration_id}\n{path}".encode()


def opened(document: Any, box: SecretBox, configuration_id: str) -> tuple[Any, list[str]]:
    """The document with every sealed value opened, and the paths that were."""
    if not holds_sealed(document):
        return document, []
    copy = copy_json(document)
    paths = []
    for path, value, parent, key in list(walk(copy)):
        if is_sealed(value) and parent is not None:
            parent[key] = box.open(value, configuration_id, path)
            paths.append(path)
    return copy, sorted(paths)


def unmasked(document: Any, stored_plain: Any, secret_paths: Sequence[str]) -> Any:
    """The document a client sent, with each MASK replaced by what is stored at its place
    (opened): a masked read, edited and written back, keeps its secrets. Only where the stored
    document holds a secret (`secret_paths`): elsewhere "********" is just a string."""
    copy = None
    secret = set(secret_paths)
    for path, value, _, _ in list(walk(document)):
        if value == MASK and path in secret:
            found, stored = at(stored_plain, path)
            if found:
                copy = copy if copy is not None else copy_json(document)
                set_at(copy, path, stored)
    return document if copy is None else copy


def sealed(
    plain: Any, secret_paths: Sequence[str], box: SecretBox, configuration_id: str, stored: Any
) -> Any:
    """`plain` with the value at each secret path sealed. A value equal to what is sealed at the
    same place in `stored` keeps that sealing: an unchanged secret does not change the stored
    document (nor make a new version)."""
    if not secret_paths:
        return plain
    copy = copy_json(plain)
    for path in _outermost(
        [path for path in secret_paths if path]
    ):  # a config is an object: never one secret
        found, value = at(copy, path)
        if not found or is_sealed(value):
            continue
        was_found, was = at(stored, path)
        if was_found and is_sealed(was):
            try:
                if box.open(was, configuration_id, path) == value and box.sealed_with_first_key(was):
                    set_at(copy, path, was)
                    continue
            except SecretUnreadable:
                pass
        set_at(copy, path, box.seal(value, configuration_id, path))
    return copy


def _outermost(paths: Sequence[str]) -> list[str]:
    """The paths not inside another of them: a secret object is sealed whole."""
    chosen: list[str] = []
    for path in sorted(set(paths)):
        if not any(path.startswith(outer + "/") for outer in chosen):
            chosen.append(path)
    return chosen
