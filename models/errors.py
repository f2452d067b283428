"""Errors a client can cause. They carry no HTTP knowledge: api/errors.py maps each kind."""

import json


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


class ApiKeyNotFound(NotFound):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"API key {quoted(key_id)} does not exist")


class ApiKeyNameTaken(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"An API key named {quoted(name)} already exists")
