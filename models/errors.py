"""Errors a client can cause. They carry no HTTP knowledge: api/errors.py maps each kind."""


class DomainError(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    pass


class Conflict(DomainError):
    pass


class ApplicationNotFound(NotFound):
    def __init__(self, application_id: str) -> None:
        super().__init__(f"Application {application_id!r} does not exist")


class ConfigurationNotFound(NotFound):
    def __init__(self, configuration_id: str) -> None:
        super().__init__(f"Configuration {configuration_id!r} does not exist")


class ApplicationNameTaken(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"An application named {name!r} already exists")


class ConfigurationNameTaken(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"This application already has a configuration named {name!r}")
