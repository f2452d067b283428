"""Errors a client can cause. They carry no HTTP knowledge: api/errors.py maps each kind."""

import json

# The most errors one answer lists, of a document checked against a JSON Schema.
MAX_ERRORS = 100


def quoted(value: object) -> str:
    """A value named in an error, quoted the one way every error does: as JSON writes a
    string (not as Python's repr, whose quotes change with the text)."""
    text = json.dumps(str(value), ensure_ascii=False)  # control characters escaped: \u0000
    return text.encode("utf-8", "backslashreplace").decode()  # and a lone surrogate: \ud800


class DomainError(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    pass


class Forbidden(DomainError):
    """The caller's key may not do this (a 403), though the request is well formed."""


class RevealForbidden(Forbidden):
    def __init__(self) -> None:
        super().__init__("Revealing secrets takes a key with the 'secrets' scope (or 'admin')")


class Conflict(DomainError):
    pass


class PreconditionFailed(DomainError):
    """The client's If-Match names a version other than the current one."""

    def __init__(self, entity: str, current_version: int) -> None:
        super().__init__(f"The {entity} is at version {current_version}, not a version If-Match names")
        self.current_version = current_version


class InvalidChange(DomainError):
    """A change (a merge patch) whose result would not be a valid resource."""

    def __init__(self, errors: list[dict]) -> None:
        super().__init__("The change would make the resource invalid")
        self.errors = errors


class ApplicationNotFound(NotFound):
    def __init__(self, application_id: str) -> None:
        super().__init__(f"Application {quoted(application_id)} does not exist")


class ConfigurationNotFound(NotFound):
    def __init__(self, configuration_id: str) -> None:
        super().__init__(f"Configuration {quoted(configuration_id)} does not exist")


class RevisionNotFound(NotFound):
    def __init__(self, configuration_id: str, version: object) -> None:
        named = version if isinstance(version, int) else quoted(version)
        super().__init__(f"Configuration {quoted(configuration_id)} has no version {named}")


class ApplicationNameTaken(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"An application named {quoted(name)} already exists")


class ConfigurationNameTaken(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"This application already has a configuration named {quoted(name)}")


class FlagKeyTaken(Conflict):
    def __init__(self, key: str) -> None:
        super().__init__(f"This application already has a flag {quoted(key)}")


class FlagNotFound(NotFound):
    def __init__(self, key: str) -> None:
        super().__init__(f"This application has no flag {quoted(key)}")


class FlagVersionNotFound(NotFound):
    def __init__(self, key: str, version: int) -> None:
        super().__init__(f"The flag {quoted(key)} has no version {version}")


class ApiKeyNotFound(NotFound):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"API key {quoted(key_id)} does not exist")


class ApiKeyNameTaken(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"An API key named {quoted(name)} already exists")


class SchemaNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"Schema {quoted(name)} does not exist")


class SchemaVersionNotFound(NotFound):
    def __init__(self, name: str, version: object) -> None:
        named = version if isinstance(version, int) else quoted(version)
        super().__init__(f"Schema {quoted(name)} has no version {named}")


class SchemaNameTaken(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"A schema named {quoted(name)} already exists")


class SchemaInUse(Conflict):
    """The schema still binds `count` configurations: the first are named, {id,
    application_id, name}."""

    def __init__(self, name: str, configurations: list[dict], count: int) -> None:
        listed = ", ".join(quoted(c["name"]) for c in configurations[:10])
        more = f" and {count - 10} more" if count > 10 else ""
        super().__init__(
            f"Schema {quoted(name)} is bound to {count} configuration(s): {listed}{more}; unbind them first"
        )
        self.configurations = configurations
        self.count = count


class InvalidSchema(DomainError):
    """A schema that is not valid JSON Schema 2020-12, or refers outside itself."""

    def __init__(self, errors: list[dict]) -> None:
        super().__init__("The schema is not valid JSON Schema 2020-12: " + errors[0]["message"])
        self.errors = errors


class SchemaValidationFailed(DomainError):
    """A configuration that its schema refuses; nothing was written."""

    def __init__(self, schema: str, version: int, errors: list[dict]) -> None:
        # The list stops at MAX_ERRORS (services/json_schemas.py): a full list may be longer.
        counted = f"{len(errors)} error(s)" if len(errors) < MAX_ERRORS else f"the first {MAX_ERRORS} errors"
        super().__init__(
            f"The configuration does not match schema {quoted(schema)} version {version}: {counted} listed"
        )
        self.schema = schema
        self.version = version
        self.errors = errors


class BreakingSchemaVersion(Conflict):
    """A new schema version that configurations following the latest would not pass."""

    def __init__(self, name: str, breaking: list[dict], count: int) -> None:
        super().__init__(
            f"The new version of schema {quoted(name)} would invalidate {count} configuration(s) "
            "that follow its latest version; nothing was written"
        )
        self.breaking = breaking  # the first of them
        self.count = count


class SecretUnreadable(DomainError):
    """A sealed secret that none of the configured keys opens at its place: sealed for another
    configuration or place, altered, or sealed with a key no longer configured."""

    def __init__(self, path: str) -> None:
        super().__init__(f"The secret at {quoted(path or '/')} cannot be opened with the configured keys")
        self.path = path
