"""API keys: a secret shown once, the scopes it grants, and the applications it reaches."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from models.fields import Name
from models.ids import Ulid

Scope = Literal["read", "write", "admin", "secrets"]
# Each of the first three includes the ones before it: write can read, admin can do
# everything. `secrets` stands beside them: a key that can read may then also ask for the
# plain values of secrets (?reveal=true); admin implies it.
SCOPE_RANK: dict[str, int] = {"read": 1, "write": 2, "admin": 3, "secrets": 0}
KEY_PREFIX = "cs_"
MAX_RATE_LIMIT = 1_000_000
# PostgreSQL's timestamptz ends in the year 294276, Python's datetime in 9999: the smaller wins.
LATEST_EXPIRY = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)

# The applications a caller may see and change; None: all of them.
Reach = frozenset[str] | None


def _utc_in_future(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # every time this service writes is UTC
    if moment.utcoffset() is not None and abs(moment.utcoffset().total_seconds()) >= 16 * 3600:
        raise ValueError("must have a UTC offset within ±15:59")
    if moment <= datetime.now(UTC):
        raise ValueError("must be in the future")
    return moment.astimezone(UTC)


def _distinct(values: list) -> list:
    return list(dict.fromkeys(values))


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=4), AfterValidator(_distinct)]
    application_ids: Annotated[list[Ulid], Field(max_length=1000), AfterValidator(_distinct)] | None = Field(
        None, description="The applications the key reaches; null or left out: all of them"
    )
    expires_at: Annotated[datetime | None, AfterValidator(_utc_in_future)] = Field(
        None, le=LATEST_EXPIRY, description="After this moment the key is refused"
    )
    rate_limit_per_second: int | None = Field(
        None, ge=1, le=MAX_RATE_LIMIT, description="Default: the RATE_LIMIT_PER_SECOND setting"
    )

    @field_validator("scopes")
    @classmethod
    def _secrets_is_a_way_of_reading(cls, value: list[str]) -> list[str]:
        if value == ["secrets"]:
            raise PydanticCustomError(
                "secrets_alone", "The secrets scope lets a key that reads see secrets: add read (or write)"
            )
        return value

    @field_validator("application_ids")
    @classmethod
    def _admins_reach_everything(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        # An admin makes keys, and so could make itself one without the restriction.
        if value is not None and "admin" in info.data.get("scopes", ()):
            raise PydanticCustomError(
                "admin_restricted", "An admin key reaches every application: leave application_ids out"
            )
        return value


class ApiKey(BaseModel):
    """A key as it is shown after its creation: everything but the secret."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    prefix: str = Field(description="The secret's first characters, to recognise it by")
    scopes: list[Scope]
    application_ids: list[str] | None
    expires_at: datetime | None
    rate_limit_per_second: int
    created_at: datetime
    last_used_at: datetime | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The secret: shown this once, never again")


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a key, or the anonymous caller ANONYMOUS_SCOPES admits."""

    key_id: str | None
    name: str
    rank: int  # the highest scope held (SCOPE_RANK); 0: none
    reach: Reach
    rate_limit_per_second: int
    expires_at: float | None = None  # seconds since the epoch
    reveals: bool = False  # holds the `secrets` scope

    def holds(self, scope: Scope) -> bool:
        # Admin reaches everything; a restricted key (one made before that rule, or by hand
        # in the database) holds at most write.
        rank = self.rank if self.reach is None else min(self.rank, SCOPE_RANK["write"])
        if scope == "secrets":
            return rank >= SCOPE_RANK["read"] and (self.reveals or rank >= SCOPE_RANK["admin"])
        return rank >= SCOPE_RANK[scope]

    def sees(self, application_id: str | None) -> bool:
        """Whether this caller may know of the application (None: what belongs to none,
        such as keys, which only admins may see)."""
        if application_id is None:
            return self.holds("admin")
        return self.reach is None or application_id in self.reach

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


def within(reach: Reach, application_id: str) -> bool:
    """Whether a caller with this reach may know of the application."""
    return reach is None or application_id in reach


def rank_of(scopes: list[str] | tuple[str, ...]) -> int:
    return max((SCOPE_RANK[scope] for scope in scopes), default=0)
