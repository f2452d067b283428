"""RFC 6901 JSON Pointers: "" is the whole document, "/pool/max" a member of a member, "/a~1b"
the member "a/b" ("~" is written "~0", "/" is written "~1")."""

from collections.abc import Iterable, Iterator
from typing import Any


def escaped(key: str | int) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def pointer(parts: Iterable[str | int]) -> str:
    return "".join("/" + escaped(part) for part in parts)


def parts(path: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in path.split("/")[1:]]


def along(document: Any, path: str) -> Iterator[Any]:
    """Each value from the document's root down to the one at `path`, as far as it goes."""
    node = document
    yield node
    for part in parts(path):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return
        yield node


def at(document: Any, path: str) -> tuple[bool, Any]:
    """(found, value) at `path`."""
    nodes = list(along(document, path))
    if len(nodes) != path.count("/") + 1:
        return False, None
    return True, nodes[-1]


def set_at(document: Any, path: str, new: Any) -> None:
    """Put `new` at `path`, whose container must be there."""
    *container, last = parts(path)
    target = document
    for part in container:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = new
    else:
        target[last] = new
