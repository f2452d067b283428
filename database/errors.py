class DatabaseUnavailable(Exception):
    """The database cannot serve the request now; the client should retry later."""

    def __init__(self, detail: str, retry_after_s: int = 5) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after_s = retry_after_s


class DatabaseBusy(DatabaseUnavailable):
    """Every connection stayed in use for longer than a request may queue."""

    def __init__(self, waited_s: float) -> None:
        super().__init__(f"All database connections stayed busy for {waited_s:g}s", retry_after_s=1)
