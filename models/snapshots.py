"""A PostgreSQL snapshot as `pg_current_snapshot()` shows it: which transactions had finished
when it was taken. The change feed uses it to tell a missing change number that a transaction
in progress may still commit from one that will never appear."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Snapshot:
    xmin: int  # every transaction below this had finished
    # One past the newest to have finished. Transactions from this on had not finished, and
    # are not listed below, though some may have started long before: see finished_below.
    xmax: int
    in_progress: frozenset[int]  # those between that had not finished

    @classmethod
    def parse(cls, text: str) -> "Snapshot":
        """From pg_snapshot's text form, `xmin:xmax:xip,xip,...`."""
        xmin, xmax, listed = text.split(":")
        return cls(int(xmin), int(xmax), frozenset(int(xid) for xid in listed.split(",") if xid))

    def finished(self, xid: int) -> bool:
        """Whether transaction `xid` had committed or rolled back when this was taken."""
        return xid < self.xmin or (xid < self.xmax and xid not in self.in_progress)

    def finished_below(self, bound: int) -> bool:
        """Whether every transaction with an id below `bound` had finished: only xmin can
        say, since those from xmax on are in progress without being listed."""
        return self.xmin >= bound

    def unfinished_below(self, bound: int) -> list[int]:
        """Those listed as in progress below `bound` (those from xmax on are not listed)."""
        return sorted(xid for xid in self.in_progress if xid < bound)
