"""Sealing a configuration's secrets where they already lie: in the configuration, in each of
its revisions, and in the images of its audit events. When a schema starts marking a value
secret, its earlier values are sealed too; an operator scrubs a value that leaked the same way.

The associated data of a value sealed in history is the same as in the configuration (its id
and the value's path in the config), so a rollback restores a sealed value that opens.
"""

from collections.abc import Sequence
from typing import Any

from psycopg2.extensions import connection as Connection

from models.json_pointer import at, set_at
from models.sealed import copy_json, is_sealed, walk
from repositories import secret_rows
from services.secrets import SecretBox

_IMAGE_CONFIG = "config"  # where an audit image holds the configuration's config


def sealed_at(document: Any, paths: Sequence[str], box: SecretBox, configuration_id: str) -> tuple[Any, int]:
    """`document` with the plain value at each of `paths` sealed (those present, and not
    sealed already), and how many were."""
    if document is None:
        return None, 0
    copy, count = None, 0
    for path in paths:
        found, value = at(document if copy is None else copy, path)
        if not found or is_sealed(value) or not path:
            continue
        copy = copy if copy is not None else copy_json(document)
        set_at(
            copy, path, box.seal(_inner_opened(value, box, configuration_id, path), configuration_id, path)
        )
        count += 1
    return (document if copy is None else copy), count


def _inner_opened(value: Any, box: SecretBox, configuration_id: str, path: str) -> Any:
    """`value` (at `path`) with the secrets sealed inside it opened, each at its own path: sealed
    whole, it holds them in plain, under its one sealing, rather than sealings within a sealing
    that a rotation could not reach."""
    copy = None
    for inner, item, _, _ in list(walk(value)):
        if inner and is_sealed(item):
            copy = copy if copy is not None else copy_json(value)
            set_at(copy, inner, box.open(item, configuration_id, path + inner))
    return value if copy is None else copy


def _image_sealed(
    image: dict | None, paths: Sequence[str], box: SecretBox, configuration_id: str
) -> tuple[Any, int]:
    if not isinstance(image, dict) or not isinstance(image.get(_IMAGE_CONFIG), dict):
        return image, 0
    config, count = sealed_at(image[_IMAGE_CONFIG], paths, box, configuration_id)
    return (image | {_IMAGE_CONFIG: config} if count else image), count


def seal_history(conn: Connection, box: SecretBox, configuration_id: str, paths: Sequence[str]) -> int:
    """Seal the values at `paths` in every revision and audit image of the configuration;
    return how many values were sealed. In the caller's transaction."""
    if not paths:
        return 0
    secret_rows.allow_sealing(conn)
    total = 0
    for row in secret_rows.revisions(conn, configuration_id):
        config, count = sealed_at(row["config"], paths, box, configuration_id)
        if count:
            secret_rows.set_revision(conn, configuration_id, row["version"], config)
            total += count
    for row in secret_rows.events(conn, configuration_id):
        before, sealed_before = _image_sealed(row["before"], paths, box, configuration_id)
        after, sealed_after = _image_sealed(row["after"], paths, box, configuration_id)
        if sealed_before or sealed_after:
            secret_rows.set_event(conn, row["id"], before, after)
            total += sealed_before + sealed_after
    return total


def seal_everywhere(conn: Connection, box: SecretBox, configuration_id: str, paths: Sequence[str]) -> int:
    """seal_history, and the configuration itself (in place: sealing changes how a value is
    kept, not the value, so it makes no version)."""
    total = seal_history(conn, box, configuration_id, paths)
    current = secret_rows.config(conn, configuration_id)
    config, count = sealed_at(current, paths, box, configuration_id)
    if count:
        secret_rows.set_config(conn, configuration_id, config)
    return total + count
