"""An OpenFeature provider that evaluates Config Service flags in this process.

    from openfeature import api
    from config_service_client.openfeature import ConfigServiceProvider

    api.set_provider_and_wait(ConfigServiceProvider(ConfigClient(...), "shop"))
    api.get_client().get_boolean_value("new-checkout", False, EvaluationContext("user-1"))

(`api.set_provider` initializes the provider on a thread of OpenFeature's: until it is READY,
evaluations answer the default with PROVIDER_NOT_READY.)

Needs the extra: `pip install config-service-client[openfeature]`. Every evaluation is local,
through `Flags` (flags.py): no request per flag. Given a client and an application, the
provider makes its own `Flags` when OpenFeature initializes it and closes them at shutdown;
given a `Flags`, it uses them and leaves closing them to their owner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from .flags import FLAG_NOT_FOUND, PARSE_ERROR, Flags

if TYPE_CHECKING:
    from .client import ConfigClient

V = TypeVar("V")
ObjectValue = Sequence[FlagValueType] | Mapping[str, FlagValueType]

PROVIDER_NAME: Final = "config-service"
TARGETING_KEY: Final = "targeting_key"

_ERROR_CODES: Final = {FLAG_NOT_FOUND: ErrorCode.FLAG_NOT_FOUND, PARSE_ERROR: ErrorCode.PARSE_ERROR}
_REASONS: Final = {reason.value: reason for reason in Reason}


def context_of(evaluation_context: EvaluationContext | None) -> dict[str, Any]:
    """OpenFeature's context as the flag rules read it: the attributes, and the targeting key
    as "targeting_key" (over an attribute of that name). A datetime becomes its RFC 3339 text,
    what `before` and `after` compare."""
    if evaluation_context is None:
        return {}
    context = {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in evaluation_context.attributes.items()
    }
    if evaluation_context.targeting_key is not None:
        context[TARGETING_KEY] = evaluation_context.targeting_key
    return context


def _is_boolean(value: Any) -> bool:
    return isinstance(value, bool)


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_object(value: Any) -> bool:
    return isinstance(value, Mapping | list)


class ConfigServiceProvider(AbstractProvider):
    """`source`: a ConfigClient (then `application` names whose flags to follow) or a Flags."""

    def __init__(self, source: ConfigClient | Flags, application: str | None = None) -> None:
        super().__init__()
        self._client: ConfigClient | None = None
        self._flags: Flags | None = None
        self._owns_flags = not isinstance(source, Flags)
        if isinstance(source, Flags):
            if application is not None and application != source.application:
                raise ValueError(f"these flags are {source.application!r}'s, not {application!r}'s")
            self._application = source.application
            self._use(source)
        elif application is None:
            raise ValueError("application: whose flags to evaluate")
        else:
            self._client = source
            self._application = application

    @property
    def flags(self) -> Flags | None:
        """The flags evaluated; given a client, None until initialized and after shutdown."""
        return self._flags

    def get_metadata(self) -> Metadata:
        return Metadata(name=PROVIDER_NAME)

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        if self._flags is None and self._client is not None:
            self._use(Flags(self._client, self._application))

    def shutdown(self) -> None:
        if self._owns_flags and self._flags is not None:
            flags, self._flags = self._flags, None
            flags.close()

    # --- resolving -------------------------------------------------------------------------

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, default_value, evaluation_context, _is_boolean, "a boolean")

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, default_value, evaluation_context, _is_string, "a string")

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self._resolve(flag_key, default_value, evaluation_context, _is_integer, "an integer")

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        details = self._resolve(flag_key, default_value, evaluation_context, _is_number, "a number")
        if details.error_code is None:
            details.value = float(details.value)  # 3 in JSON is 3.0 to a float flag
        return details

    def resolve_object_details(
        self, flag_key: str, default_value: ObjectValue, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[ObjectValue]:
        return self._resolve(flag_key, default_value, evaluation_context, _is_object, "an object or array")

    def _resolve(
        self,
        flag_key: str,
        default_value: V,
        evaluation_context: EvaluationContext | None,
        of_type: Any,
        type_name: str,
    ) -> FlagResolutionDetails[V]:
        flags = self._flags
        if flags is None:
            return _error(default_value, ErrorCode.PROVIDER_NOT_READY, "the provider is not initialized")
        result = flags.evaluate(flag_key, context_of(evaluation_context))
        if result.error_code is not None:
            code = _ERROR_CODES.get(result.error_code, ErrorCode.GENERAL)
            return _error(
                default_value, code, f"flag {flag_key!r} of {self._application!r}: {result.error_code}"
            )
        if not of_type(result.value):
            return _error(
                default_value,
                ErrorCode.TYPE_MISMATCH,
                f"flag {flag_key!r} is not {type_name} (variant {result.variant!r})",
            )
        return FlagResolutionDetails(
            value=result.value,
            variant=result.variant,
            reason=_REASONS.get(result.reason, Reason.UNKNOWN),
            flag_metadata={"stale": True} if flags.is_stale else {},
        )

    # --- following -------------------------------------------------------------------------

    def _use(self, flags: Flags) -> None:
        self._flags = flags
        flags.on_change(self._changed)

    def _changed(self, keys: frozenset[str]) -> None:
        if self._flags is not None:  # a provider shut down tells nothing more
            self.emit_provider_configuration_changed(ProviderEventDetails(flags_changed=sorted(keys)))


def _error(default_value: V, code: ErrorCode, message: str) -> FlagResolutionDetails[V]:
    return FlagResolutionDetails(
        value=default_value, error_code=code, error_message=message, reason=Reason.ERROR
    )
