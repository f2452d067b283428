"""Secrets as stored: a sealed value is a small object in the place of the value,
{"$secret": "v1:<key id>:<base64>"} (services/secrets.py seals and opens them). Everything a
reader is shown has each of them masked."""

from collections.abc import Iterator
from typing import Any

from models.json_pointer import at, escaped

MASK = "********"
SEALED = "$secret"


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(SEALED), str)


def walk(document: Any) -> Iterator[tuple[str, Any, Any, Any]]:
    """Every value with its JSON Pointer, its container and its key there (root: None)."""
    pending: list[tuple[str, Any, Any, Any]] = [("", document, None, None)]
    while pending:
        path, value, parent, key = pending.pop()
        yield path, value, parent, key
        if is_sealed(value):
            continue
        if isinstance(value, dict):
            pending.extend((f"{path}/{escaped(k)}", v, value, k) for k, v in value.items())
        elif isinstance(value, list):
            pending.extend((f"{path}/{i}", v, value, i) for i, v in enumerate(value))


def sealed_paths(document: Any) -> list[str]:
    return [path for path, value, _, _ in walk(document) if is_sealed(value)]


def masked(document: Any) -> Any:
    """The document with every sealed value shown as MASK (copied only if it holds one)."""
    if not holds_sealed(document):
        return document
    copy = copy_json(document)
    for _, value, parent, key in list(walk(copy)):
        if is_sealed(value) and parent is not None:
            parent[key] = MASK
    return copy


def holds_sealed(document: Any) -> bool:
    return any(is_sealed(value) for _, value, _, _ in walk(document))


def copy_json(document: Any) -> Any:
    if isinstance(document, dict):
        return {k: copy_json(v) for k, v in document.items()}
    if isinstance(document, list):
        return [copy_json(v) for v in document]
    return document


# What a diff compares a secret that changed from: never a value, only that it differs.
_WAS_ANOTHER = "\x00a secret that changed\x00"


def masked_for_diff(source: Any, target: Any) -> tuple[Any, Any]:
    """Both documents masked, so that a diff of them says a secret changed (an op at its
    path, with MASK as the value) but never from what or to what."""
    source_copy, target_copy = copy_json(source), copy_json(target)
    for path, value, parent, key in list(walk(source_copy)):
        if not is_sealed(value) or parent is None:
            continue
        found, other = at(target, path)
        parent[key] = MASK if found and other == value else _WAS_ANOTHER
    return source_copy, masked(target_copy)
