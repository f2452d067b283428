"""Errors a client can cause. They carry no HTTP knowledge: api/errors.py maps each kind."""


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
        super().__init__(f"Application {application_id!r} does not exist")


class ConfigurationNotFound(NotFound):
    def __init__(self, configuration_id: str) -> None:
        super().__init__(f"Configuration {configuration_id!r} does not exist")


class RevisionNotFound(NotFound):
    def __init__(self, configuration_id: str, version: object) -> None:
        super().__init__(f"Configuration {configuration_id!r} has no version {version!r}")


class ApplicationNameTaken(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"An application named {name!r} already exists")


class ConfigurationNameTaken(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"This application already has a configuration named {name!r}")
