"""RFC 7396 JSON Merge Patch.

Iterative rather than recursive, and copying only the objects on the patched paths:
the target is never modified.
"""

from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    pending = [(merged, patch)]
    while pending:
        result, changes = pending.pop()
        for key, value in changes.items():
            if value is None:
                result.pop(key, None)
            elif isinstance(value, dict):
                existing = result.get(key)
                child = dict(existing) if isinstance(existing, dict) else {}
                result[key] = child
                pending.append((child, value))
            else:
                result[key] = value
    return merged
