"""A PostgreSQL snapshot as `pg_current_snapshot()` shows it: which transactions had finished
when it was taken. The change feed uses it to tell a missing change number that a transaction
in progress may still commit from one that will never appear."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Snapshot:
    xmin: int  # every transaction below this had finished
    xmax: int  # none from this on had started
    in_progress: frozenset[int]  # those between that had not finished

    @classmethod
    def parse(cls, text: str) -> "Snapshot":
        """From pg_snapshot's text form, `xmin:xmax:xip,xip,...`."""
        xmin, xmax, listed = text.split(":")
        return cls(int(xmin), int(xmax), frozenset(int(xid) for xid in listed.split(",") if xid))

    def finished(self, xid: int) -> bool:
        """Whether transaction `xid` had committed or rolled back when this was taken."""
        return xid < self.xmin or (xid < self.xmax and xid not in self.in_progress)

    def all_finished(self, xids: frozenset[int]) -> bool:
        return all(self.finished(xid) for xid in xids)
